"""Signers and verification as the services use them, loaded from the operator config
(hex keys, Ethereum keystores, inline and file BN254 keystores)."""

from __future__ import annotations

import json

import pytest

from ponos.config.common import OperatorConfig
from ponos.crypto import keystore, messages
from ponos.crypto.bn254 import Bn254PrivateKey
from ponos.crypto.ecdsa import EcdsaPrivateKey
from ponos.crypto.errors import CryptoError, InvalidKey, InvalidSignature, KeystoreError
from ponos.crypto.signer import (
    Bn254Signer,
    EcdsaSigner,
    Verifier,
    aggregate_bn254,
    load_operator_signers,
    verify_bn254,
    verify_bn254_aggregate,
    verify_ecdsa,
)

OPERATOR = "0x" + "ab" * 20
PASSWORD = "operator password"
DIGEST = messages.bn254_certificate_digest(1_700_000_000, messages.message_hash(b"out"))


def _operator(signing_keys: dict, tx_key: dict | None = None) -> OperatorConfig:
    raw = {"address": OPERATOR, "signingKeys": signing_keys}
    if tx_key is not None:
        raw["operatorPrivateKey"] = tx_key
    return OperatorConfig.model_validate(raw)


def test_signers_sign_and_the_verifier_checks_both_curves():
    ecdsa_signer = EcdsaSigner(EcdsaPrivateKey.generate())
    bls_signer = Bn254Signer(Bn254PrivateKey.generate())
    verify_ecdsa(DIGEST, ecdsa_signer.sign_digest(DIGEST), ecdsa_signer.address)
    verify_bn254(DIGEST, bls_signer.sign_digest(DIGEST), bls_signer.public_key_g2)
    assert ecdsa_signer.curve == "ecdsa" and bls_signer.curve == "bn254"
    assert ecdsa_signer.identity == ecdsa_signer.address
    assert bls_signer.identity == (bls_signer.public_key_g1, bls_signer.public_key_g2)
    Verifier.verify_bn254(DIGEST, bls_signer.sign_digest(DIGEST), bls_signer.identity.g2)
    with pytest.raises(InvalidSignature):
        verify_bn254(bytes(32), bls_signer.sign_digest(DIGEST), bls_signer.public_key_g2)


def test_aggregate_of_signers_verifies_with_one_check():
    signers = [Bn254Signer(Bn254PrivateKey.generate()) for _ in range(4)]
    signature, apk = aggregate_bn254(
        [s.sign_digest(DIGEST) for s in signers], [s.public_key_g2 for s in signers]
    )
    verify_bn254_aggregate(DIGEST, signature, apk)
    with pytest.raises(CryptoError):
        aggregate_bn254([signers[0].sign_digest(DIGEST)], [])


def test_keys_load_from_hex_values():
    ecdsa_key, tx_key = EcdsaPrivateKey.generate(), EcdsaPrivateKey.generate()
    bls_key = Bn254PrivateKey.generate()
    signers = load_operator_signers(
        _operator(
            {
                "ecdsa": {"privateKey": "0x" + ecdsa_key.to_bytes().hex()},
                "bls": {"privateKey": bls_key.to_bytes().hex()},
            },
            {"privateKey": tx_key.to_bytes().hex()},
        )
    )
    assert signers.ecdsa.address == ecdsa_key.address
    assert signers.bn254.public_key_g2 == bls_key.public_g2.to_bytes()
    assert signers.tx_key.address == tx_key.address
    assert signers.for_curve("ecdsa") is signers.ecdsa
    assert signers.for_curve(2) is signers.bn254
    assert ecdsa_key.to_bytes().hex() not in repr(signers)


def test_keys_load_from_keystore_files_and_inline_json(tmp_path):
    ecdsa_key, bls_key = EcdsaPrivateKey.generate(), Bn254PrivateKey.generate()
    ecdsa_file = tmp_path / "ecdsa.json"
    keystore.write_keystore_file(
        ecdsa_file, keystore.create_ecdsa_keystore(ecdsa_key, PASSWORD, scrypt_n=1024)
    )
    password_file = tmp_path / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    inline = json.dumps(keystore.create_bn254_keystore(bls_key, PASSWORD, scrypt_n=1024))
    signers = load_operator_signers(
        _operator(
            {
                "ecdsa": {"keystoreFile": str(ecdsa_file), "passwordFile": str(password_file)},
                "bls": {"keystore": inline, "password": PASSWORD},
            }
        )
    )
    assert signers.ecdsa.address == ecdsa_key.address
    assert signers.bn254.key.scalar == bls_key.scalar
    assert signers.tx_key is None

    bls_file = tmp_path / "bls.json"
    keystore.write_keystore_file(bls_file, json.loads(inline))
    only_bls = load_operator_signers(
        _operator({"bls": {"keystoreFile": str(bls_file), "password": PASSWORD}})
    )
    assert only_bls.ecdsa is None and only_bls.bn254.key.scalar == bls_key.scalar
    with pytest.raises(KeystoreError, match=r"signingKeys\.ecdsa is not configured"):
        only_bls.for_curve("ecdsa")


def test_load_failures_name_the_config_key_and_hide_the_secret(tmp_path):
    with pytest.raises(InvalidKey, match=r"signingKeys\.ecdsa\.privateKey") as caught:
        load_operator_signers(_operator({"ecdsa": {"privateKey": "0xdeadbeefcafe"}}))
    assert "deadbeefcafe" not in str(caught.value)
    with pytest.raises(InvalidKey, match=r"signingKeys\.bls\.privateKey"):
        load_operator_signers(_operator({"bls": {"privateKey": "not-hex-at-all"}}))
    bls_file = tmp_path / "bls.json"
    keystore.write_keystore_file(
        bls_file, keystore.create_bn254_keystore(Bn254PrivateKey(5), PASSWORD, scrypt_n=1024)
    )
    with pytest.raises(KeystoreError, match="neither password nor passwordFile"):
        load_operator_signers(_operator({"bls": {"keystoreFile": str(bls_file)}}))
    with pytest.raises(KeystoreError, match="wrong password") as caught:
        load_operator_signers(
            _operator({"bls": {"keystoreFile": str(bls_file), "password": "guess-123"}})
        )
    assert "guess-123" not in str(caught.value)
    with pytest.raises(KeystoreError, match="does not exist"):
        load_operator_signers(
            _operator({"bls": {"keystoreFile": str(tmp_path / "gone.json"), "password": "x"}})
        )


def test_unknown_curve_is_an_error():
    signers = load_operator_signers(_operator({"bls": {"privateKey": "0x05"}}))
    with pytest.raises(CryptoError, match="unsupported curve"):
        signers.for_curve("ed25519")
