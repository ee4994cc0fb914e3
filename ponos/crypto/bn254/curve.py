"""BN254 (alt_bn128) points, their byte layouts, and the Solidity-compatible hash to G1.

Everything here is pure Python integer arithmetic that is cheap enough to do per call
(field checks, the G1 curve equation, the try-and-increment hash). The expensive group
operations (scalar multiplication, pairings, the G2 subgroup check) live in the native
backend (`ponos.crypto.bn254.backend`).

Layouts (all big-endian, as the EVM precompiles and EigenLayer's BN254 library use them):
- G1: 64 bytes `X ‖ Y`.
- G2: 128 bytes `X1 ‖ X0 ‖ Y1 ‖ Y0` where `X = X0 + X1·i` (imaginary part first), which is
  the order of Solidity's `BN254.G2Point{X: [X1, X0], Y: [Y1, Y0]}`, of the ecPairing
  precompile input, and of gnark-crypto's uncompressed `G2Affine.Marshal()`.
The point at infinity is all zero bytes in both layouts; decoders reject it unless asked.
"""

from __future__ import annotations

from typing import NamedTuple

from ponos.crypto.errors import InvalidPoint

# Base field modulus p and group order r (EigenLayer's BN254.FP_MODULUS / FR_MODULUS).
P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617

G1_SIZE = 64
G2_SIZE = 128

# sqrt exponent for p ≡ 3 (mod 4); EigenLayer's findYFromX uses the same constant.
_SQRT_EXP = (P + 1) // 4


class G1Point(NamedTuple):
    """An affine G1 point; (0, 0) is the point at infinity (the precompiles' convention)."""

    x: int
    y: int

    @property
    def is_infinity(self) -> bool:
        return self.x == 0 and self.y == 0

    def to_bytes(self) -> bytes:
        return g1_to_bytes(self)

    def negate(self) -> G1Point:
        return G1Point(self.x, (P - self.y) % P) if not self.is_infinity else self


class G2Point(NamedTuple):
    """An affine G2 point with X = x0 + x1·i and Y = y0 + y1·i; all zero is infinity."""

    x0: int
    x1: int
    y0: int
    y1: int

    @property
    def is_infinity(self) -> bool:
        return not (self.x0 or self.x1 or self.y0 or self.y1)

    def to_bytes(self) -> bytes:
        return g2_to_bytes(self)

    def negate(self) -> G2Point:
        if self.is_infinity:
            return self
        return G2Point(self.x0, self.x1, (P - self.y0) % P, (P - self.y1) % P)

    def solidity(self) -> tuple[list[int], list[int]]:
        """`(X, Y)` as Solidity's `BN254.G2Point` holds them: X = [x1, x0], Y = [y1, y0]."""
        return [self.x1, self.x0], [self.y1, self.y0]

    @classmethod
    def from_solidity(
        cls, x: list[int] | tuple[int, int], y: list[int] | tuple[int, int]
    ) -> G2Point:
        return cls(x[1], x[0], y[1], y[0])


G1_INFINITY = G1Point(0, 0)
G2_INFINITY = G2Point(0, 0, 0, 0)
G1_GENERATOR = G1Point(1, 2)
G2_GENERATOR = G2Point(
    10857046999023057135944570762232829481370756359578518086990519993285655852781,
    11559732032986387107991004021392285783925812861821192530917403151452391805634,
    8495653923123431417604973247489272438418190587263600148770280649306958101930,
    4082367875863433681332203403145435568316851327593401208105741076214120093531,
)


def _fp2_mul(a0: int, a1: int, b0: int, b1: int) -> tuple[int, int]:
    return (a0 * b0 - a1 * b1) % P, (a0 * b1 + a1 * b0) % P


# The twist's constant b' = 3 / (9 + i); 1/(9+i) = (9 - i)/82.
_INV82 = pow(82, P - 2, P)
_B2 = ((3 * 9 * _INV82) % P, (-3 * _INV82) % P)


def g1_on_curve(point: G1Point) -> bool:
    """y² = x³ + 3 over F_p. G1 has cofactor 1, so on the curve means in the subgroup."""
    x, y = point
    return (y * y - x * x * x - 3) % P == 0


def g2_on_curve(point: G2Point) -> bool:
    """y² = x³ + 3/(9+i) over F_p². (Subgroup membership is the backend's check.)"""
    x0, x1, y0, y1 = point
    yy = _fp2_mul(y0, y1, y0, y1)
    xx = _fp2_mul(x0, x1, x0, x1)
    xxx = _fp2_mul(xx[0], xx[1], x0, x1)
    return yy[0] == (xxx[0] + _B2[0]) % P and yy[1] == (xxx[1] + _B2[1]) % P


def _words(data: bytes, count: int) -> list[int]:
    return [int.from_bytes(data[i * 32 : (i + 1) * 32], "big") for i in range(count)]


def g1_to_bytes(point: G1Point) -> bytes:
    return point.x.to_bytes(32, "big") + point.y.to_bytes(32, "big")


def g2_to_bytes(point: G2Point) -> bytes:
    return b"".join(v.to_bytes(32, "big") for v in (point.x1, point.x0, point.y1, point.y0))


def g1_from_bytes(data: bytes, *, what: str = "G1 point", allow_infinity: bool = False) -> G1Point:
    """Decode and validate a 64-byte G1 point (coordinates < p, on the curve)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidPoint(f"{what} must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) != G1_SIZE:
        raise InvalidPoint(f"{what} must be {G1_SIZE} bytes (X ‖ Y), got {len(data)}")
    return g1_from_ints(*_words(data, 2), what=what, allow_infinity=allow_infinity)


def g1_from_ints(
    x: int, y: int, *, what: str = "G1 point", allow_infinity: bool = False
) -> G1Point:
    point = G1Point(x, y)
    if point.is_infinity:
        if allow_infinity:
            return point
        raise InvalidPoint(f"{what} is the point at infinity (all zero)")
    if not (0 <= x < P and 0 <= y < P):
        raise InvalidPoint(f"{what} has a coordinate outside the BN254 base field")
    if not g1_on_curve(point):
        raise InvalidPoint(f"{what} is not on the BN254 curve")
    return point


def g2_from_bytes(data: bytes, *, what: str = "G2 point", allow_infinity: bool = False) -> G2Point:
    """Decode a 128-byte G2 point (Solidity order X1, X0, Y1, Y0); checks field range and
    the twist equation. Subgroup membership is checked by `backend.g2_in_subgroup`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidPoint(f"{what} must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) != G2_SIZE:
        raise InvalidPoint(f"{what} must be {G2_SIZE} bytes (X1 ‖ X0 ‖ Y1 ‖ Y0), got {len(data)}")
    x1, x0, y1, y0 = _words(data, 4)
    return g2_from_ints(G2Point(x0, x1, y0, y1), what=what, allow_infinity=allow_infinity)


def g2_from_ints(
    point: G2Point, *, what: str = "G2 point", allow_infinity: bool = False
) -> G2Point:
    if point.is_infinity:
        if allow_infinity:
            return point
        raise InvalidPoint(f"{what} is the point at infinity (all zero)")
    if not all(0 <= v < P for v in point):
        raise InvalidPoint(f"{what} has a coordinate outside the BN254 base field")
    if not g2_on_curve(point):
        raise InvalidPoint(f"{what} is not on the BN254 twist curve")
    return point


def hash_to_g1(digest: bytes) -> G1Point:
    """EigenLayer's `BN254.hashToG1(bytes32)`: x = digest mod p, then x, x+1, ... until
    x³ + 3 is a square; y = (x³ + 3)^((p+1)/4), taken as is (no sign normalisation)."""
    if len(digest) != 32:
        raise ValueError(f"hash_to_g1 takes a 32-byte digest, got {len(digest)} bytes")
    x = int.from_bytes(digest, "big") % P
    while True:
        beta = (x * x * x + 3) % P
        y = pow(beta, _SQRT_EXP, P)
        if (y * y) % P == beta:
            return G1Point(x, y)
        x = (x + 1) % P


__all__ = [
    "G1_GENERATOR",
    "G1_INFINITY",
    "G1_SIZE",
    "G2_GENERATOR",
    "G2_INFINITY",
    "G2_SIZE",
    "G1Point",
    "G2Point",
    "P",
    "R",
    "g1_from_bytes",
    "g1_from_ints",
    "g1_on_curve",
    "g1_to_bytes",
    "g2_from_bytes",
    "g2_from_ints",
    "g2_on_curve",
    "g2_to_bytes",
    "hash_to_g1",
]
