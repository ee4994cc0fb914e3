"""Operator keys for the devnet: ECDSA (eth-account) and BN254 (ponos.crypto).

Keys are derived deterministically from a seed and a label, so the same devnet parameters give
the same keys and addresses. G2 points are in Solidity order:
((x_imaginary, x_real), (y_imaginary, y_real)).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
BN254_ORDER = 21888242871839275222246405745257275088548364400416034343698204186575808495617

G1 = tuple[int, int]
G2 = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class EcdsaKey:
    private_key: str  # 0x + 64 hex
    address: str  # 0x-hex lowercase


@dataclass(frozen=True)
class Bn254Key:
    private_key: str  # 0x + 64 hex scalar
    g1: G1
    g2: G2


def derive_scalar(seed: str, label: str, order: int) -> int:
    """A scalar in [1, order) from keccak(seed/label)."""
    return int.from_bytes(keccak(text=f"{seed}/{label}"), "big") % (order - 1) + 1


def ecdsa_key_from_private(private_key: str | int) -> EcdsaKey:
    scalar = int(private_key, 16) if isinstance(private_key, str) else private_key
    hex_key = f"0x{scalar:064x}"
    return EcdsaKey(hex_key, Account.from_key(hex_key).address.lower())


def derive_ecdsa_key(seed: str, label: str) -> EcdsaKey:
    return ecdsa_key_from_private(derive_scalar(seed, label, SECP256K1_ORDER))


def bn254_key_from_private(private_key: str | int) -> Bn254Key:
    from ponos.crypto.bn254 import Bn254PrivateKey

    scalar = int(private_key, 16) if isinstance(private_key, str) else private_key
    if not 0 < scalar < BN254_ORDER:
        raise ValueError("a BN254 private key must be in [1, r)")
    key = Bn254PrivateKey(scalar)
    g1, g2 = key.public_g1, key.public_g2
    (x1, x0), (y1, y0) = g2.solidity()
    return Bn254Key(private_key=f"0x{scalar:064x}", g1=(g1.x, g1.y), g2=((x1, x0), (y1, y0)))


def derive_bn254_key(seed: str, label: str) -> Bn254Key:
    return bn254_key_from_private(derive_scalar(seed, label, BN254_ORDER))


def g1_sum(points: list[G1]) -> G1:
    """Sum of G1 points (the point at infinity is (0, 0), as on chain)."""
    from ponos.crypto.bn254.backend import get_backend
    from ponos.crypto.bn254.curve import G1Point

    total = get_backend().g1_sum([G1Point(x, y) for x, y in points])
    return (total.x, total.y)
