"""ECDSA on secp256k1 over 32-byte digests, with libsecp256k1 (coincurve).

Signatures are 65 bytes `r ‖ s ‖ v` with v ∈ {27, 28}, over the raw digest (no EIP-191
prefix), as EigenLayer's ECDSACertificateVerifier recovers them with OpenZeppelin's
`ECDSA.tryRecover`. Verification also accepts v ∈ {0, 1} (as the Go original does) but,
like OpenZeppelin, rejects high-s signatures and out-of-range r or s.
"""

from __future__ import annotations

import re
import secrets

import coincurve
from eth_utils import to_checksum_address

from ponos.crypto.errors import InvalidKey, InvalidSignature
from ponos.crypto.keccak import keccak256

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2
SIGNATURE_SIZE = 65
_HEX_ADDRESS = re.compile(r"(?:0[xX])?[0-9a-fA-F]{40}")  # as eth_utils.is_hex_address


def _address_bytes(public_key: coincurve.PublicKey) -> bytes:
    """The 20 address bytes: the last 20 bytes of keccak(X ‖ Y)."""
    return keccak256(public_key.format(compressed=False)[1:])[12:]


def address_of_public_key(public_key: coincurve.PublicKey) -> str:
    """The checksummed Ethereum address of a public key."""
    return to_checksum_address(_address_bytes(public_key))


class EcdsaPrivateKey:
    """A secp256k1 private key. Its repr and str never show the secret."""

    __slots__ = ("_address", "_key")

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) != 32:
            raise InvalidKey("an ECDSA private key must be 32 bytes")
        if not 0 < int.from_bytes(secret, "big") < SECP256K1_N:
            raise InvalidKey("the ECDSA private key is out of range for secp256k1")
        self._key = coincurve.PrivateKey(secret)
        self._address: str | None = None

    @classmethod
    def generate(cls) -> EcdsaPrivateKey:
        return cls(_random_secret())

    @classmethod
    def from_hex(cls, text: str) -> EcdsaPrivateKey:
        """64 hex digits, with or without 0x (the form of `operatorPrivateKey.privateKey`)."""
        digits = text.strip()
        digits = digits[2:] if digits[:2].lower() == "0x" else digits
        if len(digits) != 64:
            raise InvalidKey(f"an ECDSA private key is 64 hex digits, got {len(digits)} characters")
        try:
            return cls(bytes.fromhex(digits))
        except ValueError:
            raise InvalidKey("the ECDSA private key is not valid hex") from None

    def to_bytes(self) -> bytes:
        return self._key.secret

    @property
    def address(self) -> str:
        if self._address is None:
            self._address = address_of_public_key(self._key.public_key)
        return self._address

    @property
    def public_key(self) -> bytes:
        """The 64-byte uncompressed public key X ‖ Y."""
        return self._key.public_key.format(compressed=False)[1:]

    def sign(self, digest: bytes) -> bytes:
        return sign(self, digest)

    def __repr__(self) -> str:
        return f"EcdsaPrivateKey(address={self.address})"


def _random_secret() -> bytes:
    while True:
        candidate = secrets.token_bytes(32)
        if 0 < int.from_bytes(candidate, "big") < SECP256K1_N:
            return candidate


def _check_digest(digest: bytes) -> bytes:
    if not isinstance(digest, bytes | bytearray) or len(digest) != 32:
        size = len(digest) if isinstance(digest, bytes | bytearray) else type(digest).__name__
        raise InvalidSignature(f"an ECDSA digest must be 32 bytes, got {size}")
    return bytes(digest)


def sign(private_key: EcdsaPrivateKey, digest: bytes) -> bytes:
    """Deterministic (RFC 6979) low-s signature r ‖ s ‖ v with v = 27 + recovery id."""
    raw = private_key._key.sign_recoverable(_check_digest(digest), hasher=None)
    return raw[:64] + bytes([27 + raw[64]])


def _recover(digest: bytes, signature: bytes) -> bytes:
    """The 20 address bytes that produced `signature` over `digest`."""
    digest = _check_digest(digest)
    if not isinstance(signature, bytes | bytearray) or len(signature) != SIGNATURE_SIZE:
        size = len(signature) if isinstance(signature, bytes | bytearray) else "not bytes"
        raise InvalidSignature(f"an ECDSA signature must be 65 bytes (r ‖ s ‖ v), got {size}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v in (27, 28):
        v -= 27
    if v not in (0, 1):
        raise InvalidSignature(f"ECDSA signature v must be 27 or 28 (or 0/1), got {signature[64]}")
    if not 0 < r < SECP256K1_N:
        raise InvalidSignature("ECDSA signature r is out of range")
    if not 0 < s <= _HALF_N:
        raise InvalidSignature("ECDSA signature s is zero or in the upper half (malleable)")
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            bytes(signature[:64]) + bytes([v]), digest, hasher=None
        )
    except Exception:  # libsecp256k1: no point with this r
        raise InvalidSignature("ECDSA signature does not recover to any public key") from None
    return _address_bytes(public_key)


def recover_address(digest: bytes, signature: bytes) -> str:
    """The checksummed address that produced `signature` over `digest`."""
    return to_checksum_address(_recover(digest, signature))


def verify(digest: bytes, signature: bytes, expected_address: str) -> None:
    """Raise `InvalidSignature` unless `signature` over `digest` recovers to the address."""
    if not isinstance(expected_address, str) or not _HEX_ADDRESS.fullmatch(expected_address):
        raise InvalidSignature(f"expected signer {expected_address!r} is not a 0x address")
    # Bytes, not checksummed text: the checksum (another keccak) only matters for a message.
    recovered = _recover(digest, signature)
    if recovered != bytes.fromhex(expected_address[-40:]):
        raise InvalidSignature(
            f"ECDSA signature was made by {to_checksum_address(recovered)}, "
            f"not the expected {expected_address}"
        )


__all__ = [
    "SECP256K1_N",
    "SIGNATURE_SIZE",
    "EcdsaPrivateKey",
    "address_of_public_key",
    "recover_address",
    "sign",
    "verify",
]
