"""EigenLayer-style BLS on BN254: G1 signatures, G2 public keys, Solidity-compatible hashing.

    σ = sk · H(digest)           H = BN254.hashToG1 (try-and-increment), σ in G1
    pk_G1 = sk · G1, pk_G2 = sk · G2
    verify:  e(σ, −G2) · e(H(digest), pk_G2) == 1       (one multi-pairing)

Aggregation is point addition: the sum of signatures verifies against the sum of the G2
keys for the same digest. Bytes in and out use the layouts of `curve.py` (64-byte G1,
128-byte G2 in Solidity order). Every function is synchronous and pure; failures raise
`InvalidPoint` (bad bytes) or `InvalidSignature` (well-formed but wrong).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from functools import lru_cache

from ponos.crypto.bn254.backend import get_backend
from ponos.crypto.bn254.curve import (
    G1_GENERATOR,
    G2_GENERATOR,
    G1Point,
    G2Point,
    R,
    g1_from_bytes,
    g2_from_bytes,
    hash_to_g1,
)
from ponos.crypto.errors import InvalidKey, InvalidPoint, InvalidSignature

SIGNATURE_SIZE = 64
PRIVATE_KEY_SIZE = 32


class Bn254PrivateKey:
    """A BN254 secret scalar in [1, r). Its repr and str never show the scalar."""

    __slots__ = ("_g1", "_g2", "_scalar")

    def __init__(self, scalar: int) -> None:
        if not isinstance(scalar, int) or not 0 < scalar < R:
            raise InvalidKey("a BN254 private key must be an integer in [1, r)")
        self._scalar = scalar
        self._g1: G1Point | None = None
        self._g2: G2Point | None = None

    @classmethod
    def generate(cls) -> Bn254PrivateKey:
        return cls(1 + secrets.randbelow(R - 1))

    @classmethod
    def from_bytes(cls, data: bytes) -> Bn254PrivateKey:
        """Big-endian scalar, at most 32 bytes (the Go keystores store it without padding)."""
        if not 0 < len(data) <= PRIVATE_KEY_SIZE:
            raise InvalidKey(f"a BN254 private key is 1 to 32 bytes, got {len(data)}")
        return cls(int.from_bytes(data, "big"))

    @classmethod
    def from_hex(cls, text: str) -> Bn254PrivateKey:
        """A hex scalar with or without 0x, as in `signingKeys.bls.privateKey`."""
        digits = text.strip()
        digits = digits[2:] if digits[:2].lower() == "0x" else digits
        if not digits or len(digits) > 2 * PRIVATE_KEY_SIZE:
            raise InvalidKey("a BN254 private key is 1 to 64 hex digits")
        try:
            return cls.from_bytes(bytes.fromhex(digits.rjust(64, "0")))
        except ValueError:
            raise InvalidKey("the BN254 private key is not a hex number") from None

    def to_bytes(self) -> bytes:
        return self._scalar.to_bytes(PRIVATE_KEY_SIZE, "big")

    @property
    def scalar(self) -> int:
        return self._scalar

    @property
    def public_g1(self) -> G1Point:
        if self._g1 is None:
            self._g1 = get_backend().g1_mul(G1_GENERATOR, self._scalar)
        return self._g1

    @property
    def public_g2(self) -> G2Point:
        if self._g2 is None:
            self._g2 = get_backend().g2_mul(G2_GENERATOR, self._scalar)
        return self._g2

    def sign(self, digest: bytes) -> bytes:
        return sign(self, digest)

    def __repr__(self) -> str:
        return "Bn254PrivateKey(<hidden>)"


def _check_digest(digest: bytes) -> bytes:
    if not isinstance(digest, bytes | bytearray) or len(digest) != 32:
        size = len(digest) if isinstance(digest, bytes | bytearray) else type(digest).__name__
        raise InvalidSignature(f"a BN254 message digest must be 32 bytes, got {size}")
    return bytes(digest)


@lru_cache(maxsize=1024)
def _hashed(digest: bytes) -> G1Point:
    # Every executor of a task signs the same digest: hash once per digest.
    return hash_to_g1(digest)


def message_point(digest: bytes) -> G1Point:
    """H(digest), EigenLayer's `BN254.hashToG1`."""
    return _hashed(_check_digest(digest))


def sign(private_key: Bn254PrivateKey, digest: bytes) -> bytes:
    """σ = sk · H(digest) as 64 bytes X ‖ Y."""
    return get_backend().g1_mul(message_point(digest), private_key.scalar).to_bytes()


def parse_signature(signature: bytes) -> G1Point:
    if isinstance(signature, bytes | bytearray) and len(signature) != SIGNATURE_SIZE:
        raise InvalidSignature(
            f"a BN254 signature must be {SIGNATURE_SIZE} bytes (G1 X ‖ Y), got {len(signature)}"
        )
    return g1_from_bytes(signature, what="BN254 signature")


@lru_cache(maxsize=4096)
def _checked_g2(data: bytes, what: str) -> G2Point:
    point = g2_from_bytes(data, what=what)
    if not get_backend().g2_in_subgroup(point):
        raise InvalidPoint(f"{what} is not in the BN254 G2 subgroup")
    return point


def parse_public_key_g2(pubkey: bytes | G2Point, *, what: str = "BN254 G2 public key") -> G2Point:
    """Decode and fully validate a 128-byte G2 key (cached: keys repeat across tasks)."""
    if isinstance(pubkey, G2Point):
        return _checked_g2(pubkey.to_bytes(), what)
    if not isinstance(pubkey, bytes | bytearray | memoryview):
        raise InvalidPoint(f"{what} must be bytes, got {type(pubkey).__name__}")
    return _checked_g2(bytes(pubkey), what)


def parse_public_key_g1(pubkey: bytes | G1Point, *, what: str = "BN254 G1 public key") -> G1Point:
    if isinstance(pubkey, G1Point):
        pubkey = pubkey.to_bytes()
    return g1_from_bytes(pubkey, what=what)


def verify(digest: bytes, signature: bytes, pubkey_g2: bytes | G2Point) -> None:
    """Raise `InvalidSignature` unless e(σ, G2) == e(H(digest), pk_G2)."""
    point = parse_signature(signature)
    key = parse_public_key_g2(pubkey_g2)
    hashed = message_point(digest)
    if not get_backend().pairing_product_is_one([(point, G2_GENERATOR.negate()), (hashed, key)]):
        raise InvalidSignature("BN254 signature does not verify for this public key and digest")


def verify_aggregate(
    digest: bytes, aggregate_signature: bytes, aggregate_pubkey_g2: bytes | G2Point
) -> None:
    """The same single pairing check, on an aggregate signature and aggregate G2 key."""
    verify(digest, aggregate_signature, aggregate_pubkey_g2)


def aggregate_signatures(signatures: Iterable[bytes]) -> bytes:
    points = [parse_signature(s) for s in signatures]
    if not points:
        raise InvalidSignature("cannot aggregate an empty list of BN254 signatures")
    total = get_backend().g1_sum(points)
    if total.is_infinity:
        raise InvalidSignature("the BN254 signatures sum to the point at infinity")
    return total.to_bytes()


def aggregate_public_keys_g2(pubkeys: Iterable[bytes | G2Point]) -> bytes:
    points = [parse_public_key_g2(k) for k in pubkeys]
    if not points:
        raise InvalidPoint("cannot aggregate an empty list of BN254 G2 public keys")
    total = get_backend().g2_sum(points)
    if total.is_infinity:
        raise InvalidPoint("the BN254 G2 public keys sum to the point at infinity")
    return total.to_bytes()


def aggregate_public_keys_g1(pubkeys: Iterable[bytes | G1Point]) -> bytes:
    """Sum of G1 keys; may be used with `subtract` to form signers = all − non-signers."""
    points = [parse_public_key_g1(k) for k in pubkeys]
    if not points:
        raise InvalidPoint("cannot aggregate an empty list of BN254 G1 public keys")
    total = get_backend().g1_sum(points)
    if total.is_infinity:
        raise InvalidPoint("the BN254 G1 public keys sum to the point at infinity")
    return total.to_bytes()


def subtract_public_keys_g1(total: bytes | G1Point, removed: Sequence[bytes | G1Point]) -> bytes:
    """`total − Σ removed` in G1, as EigenLayer's verifier forms the signers' G1 key from
    the operator set's aggregate key and the non-signers' keys."""
    base = parse_public_key_g1(total, what="aggregate G1 public key")
    points = [base] + [parse_public_key_g1(k).negate() for k in removed]
    result = get_backend().g1_sum(points)
    if result.is_infinity:
        raise InvalidPoint("the signers' G1 public key is the point at infinity")
    return result.to_bytes()


def certificate_gamma(digest: bytes, apk_g1: G1Point, apk_g2: G2Point, signature: G1Point) -> int:
    """EigenLayer's `BN254SignatureVerifier._calculateGamma`: keccak of the packed
    digest, apk G1 (X, Y), apk G2 (X[0], X[1], Y[0], Y[1]) and σ (X, Y), mod r."""
    from eth_utils import keccak

    x, y = apk_g2.solidity()
    words = [*apk_g1, *x, *y, *signature]
    packed = _check_digest(digest) + b"".join(w.to_bytes(32, "big") for w in words)
    return int.from_bytes(keccak(packed), "big") % R


def certificate_pairing_pairs(
    digest: bytes, signature: bytes, apk_g1: bytes | G1Point, apk_g2: bytes | G2Point
) -> list[tuple[G1Point, G2Point]]:
    """The two pairs EigenLayer's BN254CertificateVerifier checks (with its random-linear
    combination γ binding the G1 and G2 aggregate keys):
    e(σ + γ·apk_G1, −G2) · e(H(digest) + γ·G1, apk_G2) == 1."""
    sigma = parse_signature(signature)
    key1 = parse_public_key_g1(apk_g1, what="aggregate G1 public key")
    key2 = parse_public_key_g2(apk_g2, what="aggregate G2 public key")
    gamma = certificate_gamma(digest, key1, key2, sigma)
    backend = get_backend()
    left = backend.g1_sum([sigma, backend.g1_mul(key1, gamma)])
    right = backend.g1_sum([message_point(digest), backend.g1_mul(G1_GENERATOR, gamma)])
    return [(left, G2_GENERATOR.negate()), (right, key2)]


def verify_certificate_signature(
    digest: bytes, signature: bytes, apk_g1: bytes | G1Point, apk_g2: bytes | G2Point
) -> None:
    """EigenLayer's on-chain check, off chain: the signature verifies AND the G1 and G2
    aggregate keys belong together. Raises `InvalidSignature` otherwise."""
    pairs = certificate_pairing_pairs(digest, signature, apk_g1, apk_g2)
    if not get_backend().pairing_product_is_one(pairs):
        raise InvalidSignature(
            "BN254 certificate check failed: signature, G1 and G2 aggregate keys do not match"
        )


def pairing_precompile_input(pairs: Sequence[tuple[G1Point, G2Point]]) -> bytes:
    """Input bytes of the ecPairing precompile (address 0x08): per pair 192 bytes
    X ‖ Y ‖ X1 ‖ X0 ‖ Y1 ‖ Y0."""
    return b"".join(p.to_bytes() + q.to_bytes() for p, q in pairs)


def verification_pairs(
    digest: bytes, signature: bytes, pubkey_g2: bytes | G2Point
) -> list[tuple[G1Point, G2Point]]:
    """The pairs of `verify`: [(σ, −G2), (H(digest), pk_G2)]."""
    return [
        (parse_signature(signature), G2_GENERATOR.negate()),
        (message_point(digest), parse_public_key_g2(pubkey_g2)),
    ]


__all__ = [
    "PRIVATE_KEY_SIZE",
    "SIGNATURE_SIZE",
    "Bn254PrivateKey",
    "aggregate_public_keys_g1",
    "aggregate_public_keys_g2",
    "aggregate_signatures",
    "certificate_gamma",
    "certificate_pairing_pairs",
    "message_point",
    "pairing_precompile_input",
    "parse_public_key_g1",
    "parse_public_key_g2",
    "parse_signature",
    "sign",
    "subtract_public_keys_g1",
    "verification_pairs",
    "verify",
    "verify_aggregate",
    "verify_certificate_signature",
]
