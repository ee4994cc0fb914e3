"""Signing for Ponos: ECDSA (secp256k1) and BN254 BLS keys, the digests that are signed
(`messages`, normative in docs/protocol.md), EigenLayer certificates (`certificates`),
keystores (`keystore`) and the services' signers (`signer`). All functions are synchronous
and pure; the services call them through a thread pool."""

from ponos.crypto.errors import (
    CryptoError,
    EncodingError,
    InvalidKey,
    InvalidPoint,
    InvalidSignature,
    KeystoreError,
)

__all__ = [
    "CryptoError",
    "EncodingError",
    "InvalidKey",
    "InvalidPoint",
    "InvalidSignature",
    "KeystoreError",
]
