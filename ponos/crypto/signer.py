"""Signers the services hold, verification the services call, and loading both from config.

A `Signer` signs a 32-byte digest with one curve. The digests themselves come from
`ponos.crypto.messages`; the services decide which digest to sign. Everything here is
synchronous and CPU-bound: call it from a thread pool, not from the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

from ponos.crypto import bn254, ecdsa
from ponos.crypto.bn254 import Bn254PrivateKey, G2Point
from ponos.crypto.ecdsa import EcdsaPrivateKey
from ponos.crypto.errors import CryptoError, InvalidKey, KeystoreError
from ponos.crypto.keystore import (
    load_bn254_keystore,
    load_bn254_keystore_file,
    load_ecdsa_keystore_file,
    read_password_file,
)
from ponos.log import get_logger

if TYPE_CHECKING:
    from ponos.config.common import BlsKeyConfig, EcdsaKeyConfig, OperatorConfig

log = get_logger(__name__)

Curve = Literal["ecdsa", "bn254"]


class Bn254Identity(NamedTuple):
    """A BN254 signer's public keys: G1 (64 bytes) and G2 (128 bytes, Solidity order)."""

    g1: bytes
    g2: bytes


class Signer(Protocol):
    @property
    def curve(self) -> Curve: ...

    @property
    def identity(self) -> str | Bn254Identity:
        """ECDSA: the signing address; BN254: the G1 and G2 public keys."""
        ...

    def sign_digest(self, digest: bytes) -> bytes: ...


@dataclass(frozen=True)
class EcdsaSigner:
    """Signs digests with secp256k1; identity = the address signatures recover to."""

    key: EcdsaPrivateKey = field(repr=False)

    @property
    def curve(self) -> Curve:
        return "ecdsa"

    @property
    def address(self) -> str:
        return self.key.address

    @property
    def identity(self) -> str:
        return self.key.address

    def sign_digest(self, digest: bytes) -> bytes:
        return ecdsa.sign(self.key, digest)

    def __repr__(self) -> str:
        return f"EcdsaSigner(address={self.address})"


@dataclass(frozen=True)
class Bn254Signer:
    """Signs digests with BN254 BLS; identity = the G1 and G2 public keys."""

    key: Bn254PrivateKey = field(repr=False)

    @property
    def curve(self) -> Curve:
        return "bn254"

    @property
    def public_key_g1(self) -> bytes:
        return self.key.public_g1.to_bytes()

    @property
    def public_key_g2(self) -> bytes:
        return self.key.public_g2.to_bytes()

    @property
    def identity(self) -> Bn254Identity:
        return Bn254Identity(self.public_key_g1, self.public_key_g2)

    def sign_digest(self, digest: bytes) -> bytes:
        return bn254.sign(self.key, digest)

    def __repr__(self) -> str:
        return f"Bn254Signer(public_key_g2=0x{self.public_key_g2.hex()[:16]}...)"


# -- verification ----------------------------------------------------------------------------
def verify_ecdsa(digest: bytes, signature: bytes, expected_address: str) -> None:
    """Raise `InvalidSignature` unless the signature over `digest` recovers to the address."""
    ecdsa.verify(digest, signature, expected_address)


def verify_bn254(digest: bytes, signature: bytes, pubkey_g2: bytes | G2Point) -> None:
    """Raise `InvalidSignature` / `InvalidPoint` unless e(σ, G2) == e(H(digest), pk)."""
    bn254.verify(digest, signature, pubkey_g2)


def verify_bn254_aggregate(
    digest: bytes, aggregate_signature: bytes, aggregate_pubkey_g2: bytes | G2Point
) -> None:
    """One pairing check of an aggregate signature against the signers' aggregate G2 key."""
    bn254.verify_aggregate(digest, aggregate_signature, aggregate_pubkey_g2)


class Verifier:
    """The verification side as one object, for services that inject it."""

    verify_ecdsa = staticmethod(verify_ecdsa)
    verify_bn254 = staticmethod(verify_bn254)
    verify_bn254_aggregate = staticmethod(verify_bn254_aggregate)


def aggregate_bn254(
    signatures: Sequence[bytes], pubkeys_g2: Sequence[bytes | G2Point]
) -> tuple[bytes, bytes]:
    """(aggregate signature, aggregate G2 key) of matching lists of signers."""
    if len(signatures) != len(pubkeys_g2):
        raise CryptoError("aggregate_bn254 needs one G2 public key per signature")
    return bn254.aggregate_signatures(signatures), bn254.aggregate_public_keys_g2(pubkeys_g2)


# -- loading from config ---------------------------------------------------------------------
@dataclass(frozen=True)
class OperatorSigners:
    """The operator's keys: `ecdsa` (signingKeys.ecdsa), `bn254` (signingKeys.bls) and
    `tx_key` (operatorPrivateKey, for transactions); each None when not configured."""

    ecdsa: EcdsaSigner | None = None
    bn254: Bn254Signer | None = None
    tx_key: EcdsaPrivateKey | None = field(default=None, repr=False)

    def for_curve(self, curve: str) -> Signer:
        """The signer of an operator set's curve ("ecdsa"/"bn254", or KeyRegistrar's 1/2)."""
        name = {"1": "ecdsa", "2": "bn254"}.get(str(curve), str(curve).lower())
        signer: Signer | None = (
            self.ecdsa if name == "ecdsa" else self.bn254 if name == "bn254" else None
        )
        if name not in ("ecdsa", "bn254"):
            raise CryptoError(f"unsupported curve type {curve!r} (expected ecdsa or bn254)")
        if signer is None:
            key = "signingKeys.ecdsa" if name == "ecdsa" else "signingKeys.bls"
            raise KeystoreError(f"the operator set uses {name} but {key} is not configured")
        return signer


def _secret(value: object) -> str | None:
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text or None


def _password(config: EcdsaKeyConfig | BlsKeyConfig, key: str) -> str:
    password = _secret(config.password)
    if password is not None:
        return password
    if config.password_file:
        return read_password_file(config.password_file)
    raise KeystoreError(f"{key} has a keystore but neither password nor passwordFile")


def load_ecdsa_key(config: EcdsaKeyConfig, key: str) -> EcdsaPrivateKey | None:
    """From `privateKey` (hex) or `keystoreFile` + password; None when neither is set."""
    private_key = _secret(config.private_key)
    if private_key is not None:
        try:
            return EcdsaPrivateKey.from_hex(private_key)
        except InvalidKey as exc:
            raise InvalidKey(f"{key}.privateKey: {exc.message}") from None
    if config.keystore_file:
        return load_ecdsa_keystore_file(Path(config.keystore_file), _password(config, key))
    return None


def load_bn254_key(config: BlsKeyConfig, key: str = "signingKeys.bls") -> Bn254PrivateKey:
    """From `privateKey` (hex, development), inline `keystore` JSON or `keystoreFile`."""
    private_key = _secret(config.private_key)
    if private_key is not None:
        try:
            return Bn254PrivateKey.from_hex(private_key)
        except InvalidKey as exc:
            raise InvalidKey(f"{key}.privateKey: {exc.message}") from None
    inline = _secret(config.keystore)
    if inline is not None:
        return load_bn254_keystore(inline, _password(config, key), source=f"{key}.keystore")
    if config.keystore_file:
        return load_bn254_keystore_file(Path(config.keystore_file), _password(config, key))
    raise KeystoreError(f"{key} needs keystore, keystoreFile or privateKey")


def load_operator_signers(operator: OperatorConfig) -> OperatorSigners:
    """Load every configured key of `operator`; any problem is a KeystoreError/InvalidKey
    naming the config key, never containing the secret."""
    signing = operator.signing_keys
    ecdsa_key = load_ecdsa_key(signing.ecdsa, "signingKeys.ecdsa") if signing.ecdsa else None
    bls_key = load_bn254_key(signing.bls) if signing.bls else None
    tx_key = (
        load_ecdsa_key(operator.operator_private_key, "operatorPrivateKey")
        if operator.operator_private_key
        else None
    )
    signers = OperatorSigners(
        ecdsa=EcdsaSigner(ecdsa_key) if ecdsa_key else None,
        bn254=Bn254Signer(bls_key) if bls_key else None,
        tx_key=tx_key,
    )
    log.info(
        "Signing keys loaded",
        operator=operator.address,
        ecdsa_signer=signers.ecdsa.address if signers.ecdsa else None,
        bn254_public_g2=("0x" + signers.bn254.public_key_g2.hex()) if signers.bn254 else None,
        transaction_sender=tx_key.address if tx_key else None,
    )
    return signers


__all__ = [
    "Bn254Identity",
    "Bn254Signer",
    "Curve",
    "EcdsaSigner",
    "OperatorSigners",
    "Signer",
    "Verifier",
    "aggregate_bn254",
    "load_bn254_key",
    "load_ecdsa_key",
    "load_operator_signers",
    "verify_bn254",
    "verify_bn254_aggregate",
    "verify_ecdsa",
]
