"""On-chain validity of BN254 aggregates: the ecPairing precompile of a real anvil node,
and EigenLayer's certificate check (γ-combined pairing) run as EVM code."""

from __future__ import annotations

import pytest

from ponos.crypto import bn254
from ponos.crypto.bn254 import Bn254PrivateKey
from tests.crypto.evm import eth_call

PAIRING_PRECOMPILE = "0x0000000000000000000000000000000000000008"
SIGNERS = 12


@pytest.fixture(scope="module")
def committee():
    keys = [Bn254PrivateKey.generate() for _ in range(SIGNERS)]
    digest = bytes.fromhex("c0ffee" * 10 + "ab00")
    signatures = [k.sign(digest) for k in keys]
    return keys, digest, signatures


def _precompile_says(node, pairs) -> int:
    output = eth_call(node, PAIRING_PRECOMPILE, bn254.pairing_precompile_input(pairs))
    return int.from_bytes(output, "big")


def test_aggregate_of_n_signatures_passes_the_ecpairing_precompile(evm_node, committee):
    keys, digest, signatures = committee
    aggregate = bn254.aggregate_signatures(signatures)
    apk = bn254.aggregate_public_keys_g2([k.public_g2 for k in keys])
    bn254.verify_aggregate(digest, aggregate, apk)
    assert _precompile_says(evm_node, bn254.verification_pairs(digest, aggregate, apk)) == 1


def test_aggregate_missing_a_signature_fails_the_precompile(evm_node, committee):
    keys, digest, signatures = committee
    aggregate = bn254.aggregate_signatures(signatures[1:])
    apk = bn254.aggregate_public_keys_g2([k.public_g2 for k in keys])
    assert _precompile_says(evm_node, bn254.verification_pairs(digest, aggregate, apk)) == 0


def test_aggregate_over_another_digest_fails_the_precompile(evm_node, committee):
    keys, _digest, signatures = committee
    aggregate = bn254.aggregate_signatures(signatures)
    apk = bn254.aggregate_public_keys_g2([k.public_g2 for k in keys])
    assert _precompile_says(evm_node, bn254.verification_pairs(bytes(32), aggregate, apk)) == 0


def test_eigenlayer_gamma_check_accepts_the_aggregate_in_python_and_on_chain(evm_node, committee):
    keys, digest, signatures = committee
    aggregate = bn254.aggregate_signatures(signatures)
    apk_g1 = bn254.aggregate_public_keys_g1([k.public_g1 for k in keys])
    apk_g2 = bn254.aggregate_public_keys_g2([k.public_g2 for k in keys])
    pairs = bn254.certificate_pairing_pairs(digest, aggregate, apk_g1, apk_g2)
    assert _precompile_says(evm_node, pairs) == 1


def test_evm_certificate_check_agrees_with_python_on_good_and_bad_g1_keys(probe, committee):
    keys, digest, signatures = committee
    signers = keys[:-2]  # two non-signers
    aggregate = bn254.aggregate_signatures(signatures[:-2])
    apk_g2 = bn254.parse_public_key_g2(
        bn254.aggregate_public_keys_g2([k.public_g2 for k in signers])
    )
    total_g1 = bn254.aggregate_public_keys_g1([k.public_g1 for k in keys])
    signers_g1 = bn254.parse_public_key_g1(
        bn254.subtract_public_keys_g1(total_g1, [k.public_g1 for k in keys[-2:]])
    )
    sigma = bn254.parse_signature(aggregate)
    x, y = apk_g2.solidity()
    call = (
        "verifyCertificateSignature(bytes32,(uint256,uint256),(uint256,uint256),"
        "(uint256[2],uint256[2]))"
    )
    assert probe.call(call, [digest, tuple(sigma), tuple(signers_g1), (x, y)], ["bool"]) is True
    wrong_g1 = bn254.parse_public_key_g1(total_g1)
    assert probe.call(call, [digest, tuple(sigma), tuple(wrong_g1), (x, y)], ["bool"]) is False


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 0xFF])
def test_evm_hash_to_g1_equals_python(probe, seed):
    digest = bytes([seed]) * 32
    x, y = probe.call("hashToG1(bytes32)", [digest], ["(uint256,uint256)"])
    assert bn254.hash_to_g1(digest) == (x, y)
