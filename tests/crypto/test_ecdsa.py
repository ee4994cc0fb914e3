"""ECDSA over digests: round trips, agreement with eth-keys and the EVM's ecrecover, and
rejection of every malformed or malleable signature."""

from __future__ import annotations

import pytest
from eth_account import Account

from ponos.crypto import ecdsa
from ponos.crypto.ecdsa import SECP256K1_N, EcdsaPrivateKey
from ponos.crypto.errors import InvalidKey, InvalidSignature
from tests.crypto.evm import eth_call

KEY = EcdsaPrivateKey.from_hex(
    "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
)
DIGEST = bytes.fromhex("8f6c3b2a1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f40")


def test_signature_is_65_bytes_with_v_27_or_28_and_recovers_the_address():
    signature = KEY.sign(DIGEST)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert ecdsa.recover_address(DIGEST, signature) == KEY.address
    ecdsa.verify(DIGEST, signature, KEY.address.lower())


def test_signature_equals_eth_account_signature_of_the_same_hash():
    expected = Account.unsafe_sign_hash(DIGEST, KEY.to_bytes())
    signature = KEY.sign(DIGEST)
    assert int.from_bytes(signature[:32], "big") == expected.r
    assert int.from_bytes(signature[32:64], "big") == expected.s
    assert signature[64] == expected.v
    assert KEY.address == Account.from_key(KEY.to_bytes()).address


def test_evm_ecrecover_returns_the_signer_address(evm_node, probe):
    for index in range(3):
        key = EcdsaPrivateKey.generate()
        digest = index.to_bytes(32, "big")
        signature = key.sign(digest)
        # The raw precompile 0x01 and the probe's ecrecover both see the signer.
        raw = digest + signature[64:].rjust(32, b"\0") + signature[:64]
        word = eth_call(evm_node, "0x0000000000000000000000000000000000000001", raw)
        assert "0x" + word[12:].hex() == key.address.lower()
        assert (
            probe.call("recover(bytes32,bytes)", [digest, signature], ["address"])
            == key.address.lower()
        )


def test_v_zero_or_one_is_accepted_as_the_go_original_does():
    signature = KEY.sign(DIGEST)
    lowered = signature[:64] + bytes([signature[64] - 27])
    assert ecdsa.recover_address(DIGEST, lowered) == KEY.address


def test_wrong_signer_is_rejected_naming_both_addresses():
    other = EcdsaPrivateKey.generate()
    with pytest.raises(InvalidSignature, match=other.address):
        ecdsa.verify(DIGEST, KEY.sign(DIGEST), other.address)


def test_high_s_signature_is_rejected_as_malleable():
    signature = KEY.sign(DIGEST)
    s = int.from_bytes(signature[32:64], "big")
    flipped = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    with pytest.raises(InvalidSignature, match="upper half"):
        ecdsa.recover_address(DIGEST, flipped)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s[:64], "65 bytes"),
        (lambda s: s + b"\0", "65 bytes"),
        (lambda s: s[:64] + b"\x1d", "v must be"),
        (lambda s: bytes(32) + s[32:], "r is out of range"),
        (lambda s: s[:32] + bytes(32) + s[64:], "s is zero"),
        (lambda s: SECP256K1_N.to_bytes(32, "big") + s[32:], "r is out of range"),
    ],
)
def test_malformed_signatures_are_rejected(mutate, message):
    with pytest.raises(InvalidSignature, match=message):
        ecdsa.recover_address(DIGEST, mutate(KEY.sign(DIGEST)))


def test_tampered_signature_does_not_verify_for_the_signer():
    signature = bytearray(KEY.sign(DIGEST))
    signature[10] ^= 0x40
    with pytest.raises(InvalidSignature):
        ecdsa.verify(DIGEST, bytes(signature), KEY.address)


def test_digest_must_be_32_bytes_and_expected_signer_an_address():
    with pytest.raises(InvalidSignature, match="32 bytes"):
        KEY.sign(DIGEST[:31])
    with pytest.raises(InvalidSignature, match="not a 0x address"):
        ecdsa.verify(DIGEST, KEY.sign(DIGEST), "operator-1")


@pytest.mark.parametrize("text", ["", "0x1234", "zz" * 32, "0x" + "00" * 32, hex(SECP256K1_N)])
def test_invalid_private_keys_are_rejected_without_echoing_them(text):
    with pytest.raises(InvalidKey) as caught:
        EcdsaPrivateKey.from_hex(text)
    if len(text) > 8:
        assert text[-8:] not in str(caught.value)


def test_repr_shows_the_address_not_the_secret():
    assert KEY.to_bytes().hex() not in repr(KEY)
    assert KEY.address in repr(KEY)
