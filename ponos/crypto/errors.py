"""Errors of the crypto package.

Every message names what is wrong (a length, a field, a file) and what to do; none ever
contains key material, a password or a keystore's ciphertext.
"""

from __future__ import annotations

from ponos.errors import PonosError


class CryptoError(PonosError):
    """A signing, verification, encoding or key-loading problem."""


class InvalidKey(CryptoError):
    """A private key that is malformed or out of range."""


class InvalidPoint(CryptoError):
    """Bytes that are not a valid curve point: wrong length, not on the curve, not in the
    prime-order subgroup, or the point at infinity where a real point is required."""


class InvalidSignature(CryptoError):
    """A signature that is malformed or does not verify for the expected signer."""


class KeystoreError(CryptoError):
    """A keystore that cannot be read: missing file, malformed JSON, unsupported
    parameters, or a wrong password."""


class EncodingError(CryptoError):
    """Certificate or message bytes that do not decode to the expected layout."""


__all__ = [
    "CryptoError",
    "EncodingError",
    "InvalidKey",
    "InvalidPoint",
    "InvalidSignature",
    "KeystoreError",
]
