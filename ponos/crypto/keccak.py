"""keccak-256 (Ethereum's "sha3"), the hash behind every digest Ponos signs.

`safe-pysha3`'s C extension hashes a few hundred bytes in about 1 µs without releasing the
GIL; eth_utils' `keccak` goes through eth_hash and pycryptodome's cffi bindings (about 9 µs,
four GIL releases per hash, each a chance for another thread to take the GIL from the event
loop). A task on the executor's hot path hashes nine times, so this is the one the services
use. pycryptodome stays the fallback where the extension cannot be installed.
"""

from __future__ import annotations

try:
    from sha3 import keccak_256 as _keccak_256  # safe-pysha3

    def keccak256(data: bytes) -> bytes:
        """keccak-256 of `data` (32 bytes)."""
        return _keccak_256(data).digest()

except ImportError:  # pragma: no cover - safe-pysha3 is a declared dependency
    from Crypto.Hash import keccak as _pycryptodome_keccak

    def keccak256(data: bytes) -> bytes:
        """keccak-256 of `data` (32 bytes)."""
        return _pycryptodome_keccak.new(data=data, digest_bits=256).digest()


BACKEND: str = "safe-pysha3" if "_keccak_256" in globals() else "pycryptodome"

__all__ = ["BACKEND", "keccak256"]
