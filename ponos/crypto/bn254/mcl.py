"""The native BN254 backend: herumi's MCL, as shipped in the `mclbn256` wheel, via ctypes.

Why this backend (measured in bench/crypto.py, recorded in docs/benchmarks.md): a 2-pair
pairing product takes about 1 ms, points are built from integers in a few microseconds
(zksnake's constructors take 120-450 µs each because they re-validate), invalid input comes
back as an error code instead of a Rust panic, and ctypes releases the GIL during every
native call, so verifications run in parallel on the services' thread pool.

The curve-selection trap: `mclbn256` initialises MCL for a *different* 254-bit BN curve
(mclBn_CurveFp254BNb). `mclBn_init(MCL_BN_SNARK1, ...)` switches the process to alt_bn128,
the Ethereum curve; the backend checks the field and group orders afterwards and refuses to
run on anything else. Only the raw library is used, not mclbn256's Python classes.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

from ponos.crypto.bn254.curve import G1Point, G2Point, P, R
from ponos.errors import PrerequisiteError

MCL_BN_SNARK1 = 4  # mcl's curve id of alt_bn128 (BN_SNARK1)
_FP_UNITS = 4  # 64-bit limbs of Fp and Fr in the mclbn256 build (MCLBN_FP_UNIT_SIZE)
_COMPILED_TIME_VAR = _FP_UNITS + _FP_UNITS * 10  # MCLBN_COMPILED_TIME_VAR of that build


class _Fp(ctypes.Structure):
    _fields_ = [("d", ctypes.c_uint64 * _FP_UNITS)]


class _Fr(ctypes.Structure):
    _fields_ = [("d", ctypes.c_uint64 * _FP_UNITS)]


class _Fp2(ctypes.Structure):
    _fields_ = [("re", _Fp), ("im", _Fp)]


class _G1(ctypes.Structure):
    _fields_ = [("x", _Fp), ("y", _Fp), ("z", _Fp)]


class _G2(ctypes.Structure):
    _fields_ = [("x", _Fp2), ("y", _Fp2), ("z", _Fp2)]


class _GT(ctypes.Structure):
    _fields_ = [("d", _Fp * 12)]


def _load_library() -> Any:
    try:
        from mclbn256 import mclbn256 as package  # writes and loads the bundled .so
    except Exception as exc:  # an import-time loader failure of the wheel
        raise PrerequisiteError(
            f"the BN254 backend (mclbn256) cannot be loaded: {exc}; reinstall with `make bootstrap`"
        ) from None
    return package.lib


def _declare(lib: Any) -> None:
    g1p, g2p, fpp, frp, gtp = (ctypes.POINTER(t) for t in (_G1, _G2, _Fp, _Fr, _GT))
    size_t, c_int, buf = ctypes.c_size_t, ctypes.c_int, ctypes.c_char_p
    signatures: dict[str, tuple[list[Any], Any]] = {
        "mclBn_init": ([c_int, c_int], c_int),
        "mclBn_getFieldOrder": ([buf, size_t], size_t),
        "mclBn_getCurveOrder": ([buf, size_t], size_t),
        "mclBn_verifyOrderG2": ([c_int], None),
        "mclBnFp_setBigEndianMod": ([fpp, buf, size_t], c_int),
        "mclBnFp_getLittleEndian": ([buf, size_t, fpp], size_t),
        "mclBnFr_setLittleEndianMod": ([frp, buf, size_t], c_int),
        "mclBnG1_mul": ([g1p, g1p, frp], None),
        "mclBnG1_add": ([g1p, g1p, g1p], None),
        "mclBnG1_normalize": ([g1p, g1p], None),
        "mclBnG1_isZero": ([g1p], c_int),
        "mclBnG2_mul": ([g2p, g2p, frp], None),
        "mclBnG2_add": ([g2p, g2p, g2p], None),
        "mclBnG2_normalize": ([g2p, g2p], None),
        "mclBnG2_isZero": ([g2p], c_int),
        "mclBnG2_isValid": ([g2p], c_int),
        "mclBn_millerLoopVec": ([gtp, g1p, g2p, size_t], None),
        "mclBn_finalExp": ([gtp, gtp], None),
        "mclBnGT_isOne": ([gtp], c_int),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes = argtypes
        function.restype = restype


class MclBackend:
    """`Bn254Backend` on MCL. Create it once per process (see `backend.get_backend`)."""

    name = "mcl (mclbn256)"

    def __init__(self) -> None:
        lib = _load_library()
        _declare(lib)
        if lib.mclBn_init(MCL_BN_SNARK1, _COMPILED_TIME_VAR) != 0:
            raise PrerequisiteError("mcl refused to initialise the alt_bn128 curve (BN_SNARK1)")
        if self._order(lib.mclBn_getFieldOrder) != P or self._order(lib.mclBn_getCurveOrder) != R:
            raise PrerequisiteError("mcl is not set to alt_bn128: field or group order differs")
        lib.mclBn_verifyOrderG2(1)  # G2 validity then includes the subgroup check
        self._lib = lib
        self._one = self._fp(1)

    @staticmethod
    def _order(getter: Any) -> int:
        out = ctypes.create_string_buffer(100)
        size = getter(out, 100)
        return int(out.raw[:size].decode()) if size else -1

    # -- conversions ---------------------------------------------------------------------
    def _fp(self, value: int) -> _Fp:
        element = _Fp()
        self._lib.mclBnFp_setBigEndianMod(ctypes.byref(element), value.to_bytes(32, "big"), 32)
        return element

    def _int(self, element: _Fp) -> int:
        out = ctypes.create_string_buffer(32)
        size = self._lib.mclBnFp_getLittleEndian(out, 32, ctypes.byref(element))
        return int.from_bytes(out.raw[:size], "little")

    def _fr(self, scalar: int) -> _Fr:
        element = _Fr()
        self._lib.mclBnFr_setLittleEndianMod(
            ctypes.byref(element), (scalar % R).to_bytes(32, "little"), 32
        )
        return element

    def _g1(self, point: G1Point, into: _G1 | None = None) -> _G1:
        native = into if into is not None else _G1()
        if point.is_infinity:
            ctypes.memset(ctypes.byref(native), 0, ctypes.sizeof(_G1))  # z = 0 is infinity
            return native
        native.x = self._fp(point.x)
        native.y = self._fp(point.y)
        native.z = self._one
        return native

    def _g2(self, point: G2Point, into: _G2 | None = None) -> _G2:
        native = into if into is not None else _G2()
        if point.is_infinity:
            ctypes.memset(ctypes.byref(native), 0, ctypes.sizeof(_G2))
            return native
        native.x.re, native.x.im = self._fp(point.x0), self._fp(point.x1)
        native.y.re, native.y.im = self._fp(point.y0), self._fp(point.y1)
        native.z.re, native.z.im = self._one, _Fp()
        return native

    def _g1_out(self, native: _G1) -> G1Point:
        if self._lib.mclBnG1_isZero(ctypes.byref(native)):
            return G1Point(0, 0)
        affine = _G1()
        self._lib.mclBnG1_normalize(ctypes.byref(affine), ctypes.byref(native))
        return G1Point(self._int(affine.x), self._int(affine.y))

    def _g2_out(self, native: _G2) -> G2Point:
        if self._lib.mclBnG2_isZero(ctypes.byref(native)):
            return G2Point(0, 0, 0, 0)
        affine = _G2()
        self._lib.mclBnG2_normalize(ctypes.byref(affine), ctypes.byref(native))
        return G2Point(
            self._int(affine.x.re),
            self._int(affine.x.im),
            self._int(affine.y.re),
            self._int(affine.y.im),
        )

    # -- Bn254Backend --------------------------------------------------------------------
    def g1_mul(self, point: G1Point, scalar: int) -> G1Point:
        out = _G1()
        self._lib.mclBnG1_mul(ctypes.byref(out), ctypes.byref(self._g1(point)), self._fr(scalar))
        return self._g1_out(out)

    def g2_mul(self, point: G2Point, scalar: int) -> G2Point:
        out = _G2()
        self._lib.mclBnG2_mul(ctypes.byref(out), ctypes.byref(self._g2(point)), self._fr(scalar))
        return self._g2_out(out)

    def g1_sum(self, points: Sequence[G1Point]) -> G1Point:
        total, term = _G1(), _G1()
        add = self._lib.mclBnG1_add
        for point in points:
            self._g1(point, term)
            add(ctypes.byref(total), ctypes.byref(total), ctypes.byref(term))
        return self._g1_out(total)

    def g2_sum(self, points: Sequence[G2Point]) -> G2Point:
        total, term = _G2(), _G2()
        add = self._lib.mclBnG2_add
        for point in points:
            self._g2(point, term)
            add(ctypes.byref(total), ctypes.byref(total), ctypes.byref(term))
        return self._g2_out(total)

    def g2_in_subgroup(self, point: G2Point) -> bool:
        return bool(self._lib.mclBnG2_isValid(ctypes.byref(self._g2(point))))

    def pairing_product_is_one(self, pairs: Sequence[tuple[G1Point, G2Point]]) -> bool:
        count = len(pairs)
        g1s, g2s = (_G1 * count)(), (_G2 * count)()
        for index, (p, q) in enumerate(pairs):
            self._g1(p, g1s[index])
            self._g2(q, g2s[index])
        result = _GT()
        self._lib.mclBn_millerLoopVec(ctypes.byref(result), g1s, g2s, count)
        self._lib.mclBn_finalExp(ctypes.byref(result), ctypes.byref(result))
        return bool(self._lib.mclBnGT_isOne(ctypes.byref(result)))


__all__ = ["MCL_BN_SNARK1", "MclBackend"]
