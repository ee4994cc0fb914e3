"""The fast keccak-256 must be exactly Ethereum's keccak (not NIST SHA3-256)."""

from __future__ import annotations

import hashlib
import os

from eth_utils import keccak as eth_keccak

from ponos.crypto import keccak


def test_known_vectors() -> None:
    assert keccak.keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    # The ERC-20 Transfer event topic.
    assert keccak.keccak256(b"Transfer(address,address,uint256)").hex() == (
        "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    )


def test_matches_eth_utils_and_differs_from_sha3() -> None:
    for size in (0, 1, 31, 32, 135, 136, 137, 224, 1000, 70_000):
        data = os.urandom(size)
        assert keccak.keccak256(data) == eth_keccak(data)
        assert keccak.keccak256(data) != hashlib.sha3_256(data).digest()


def test_accepts_bytes_like() -> None:
    data = os.urandom(64)
    assert (
        keccak.keccak256(bytearray(data)) == keccak.keccak256(memoryview(data)) == eth_keccak(data)
    )


def test_uses_the_c_extension() -> None:
    assert keccak.BACKEND == "safe-pysha3"
