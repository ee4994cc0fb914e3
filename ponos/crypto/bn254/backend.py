"""The small interface a native BN254 backend implements, and the process-wide choice.

Points cross the interface as validated affine `G1Point` / `G2Point` integers, so the BLS
logic (and the tests' py_ecc cross-check) never sees a backend's own types. The backend
does only what is too slow in Python: scalar multiplication, point sums, the G2 subgroup
check and the pairing product. Every method is synchronous and thread-safe; the mcl
backend releases the GIL inside the native calls, so a thread pool runs them in parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from ponos.crypto.bn254.curve import G1Point, G2Point


class Bn254Backend(Protocol):
    name: str

    def g1_mul(self, point: G1Point, scalar: int) -> G1Point:
        """scalar · point (scalar already reduced mod r)."""
        ...

    def g2_mul(self, point: G2Point, scalar: int) -> G2Point: ...

    def g1_sum(self, points: Sequence[G1Point]) -> G1Point:
        """The sum of the points (infinity for an empty sequence)."""
        ...

    def g2_sum(self, points: Sequence[G2Point]) -> G2Point: ...

    def g2_in_subgroup(self, point: G2Point) -> bool:
        """Whether an on-curve G2 point lies in the order-r subgroup."""
        ...

    def pairing_product_is_one(self, pairs: Sequence[tuple[G1Point, G2Point]]) -> bool:
        """∏ e(P_i, Q_i) == 1, one multi-Miller loop and one final exponentiation."""
        ...


_lock = threading.Lock()
_backend: Bn254Backend | None = None


def get_backend() -> Bn254Backend:
    """The native backend (mcl via mclbn256), initialised once per process."""
    global _backend
    if _backend is None:
        with _lock:
            if _backend is None:
                from ponos.crypto.bn254.mcl import MclBackend

                _backend = MclBackend()
    return _backend


__all__ = ["Bn254Backend", "get_backend"]
