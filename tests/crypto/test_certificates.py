"""Certificates: byte-identical to Solidity's abi.encode of the TaskMailbox structs, ECDSA
signatures in ascending signer order, witnesses sorted, decoders inverting encoders."""

from __future__ import annotations

import pytest

from ponos.crypto import bn254, certificates, ecdsa, messages
from ponos.crypto.bn254 import Bn254PrivateKey, G2Point
from ponos.crypto.certificates import NonSignerWitness
from ponos.crypto.ecdsa import EcdsaPrivateKey
from ponos.crypto.errors import EncodingError, InvalidPoint, InvalidSignature

MESSAGE_HASH = messages.message_hash(b"the result")
SEPARATOR = messages.ecdsa_domain_separator("0x" + "ab" * 20)
DIGEST = messages.ecdsa_certificate_digest(SEPARATOR, 1_700_000_000, MESSAGE_HASH)


@pytest.fixture(scope="module")
def ecdsa_keys():
    return [EcdsaPrivateKey.generate() for _ in range(5)]


def test_ecdsa_signatures_are_concatenated_in_ascending_signer_order(ecdsa_keys):
    signatures = {k.address: k.sign(DIGEST) for k in ecdsa_keys}
    encoded = certificates.encode_ecdsa_certificate(
        1_700_000_000, MESSAGE_HASH, signatures, digest=DIGEST
    )
    decoded = certificates.decode_ecdsa_certificate(encoded)
    assert decoded.reference_timestamp == 1_700_000_000
    assert decoded.message_hash == MESSAGE_HASH
    recovered = [ecdsa.recover_address(DIGEST, s) for s in decoded.signatures]
    assert [int(a, 16) for a in recovered] == sorted(int(a, 16) for a in signatures)
    assert set(recovered) == set(signatures)


def test_ecdsa_certificate_bytes_equal_solidity_abi_encode(probe, ecdsa_keys):
    signatures = {k.address: k.sign(DIGEST) for k in ecdsa_keys[:3]}
    encoded = certificates.encode_ecdsa_certificate(7, MESSAGE_HASH, signatures)
    sig = b"".join(signatures[a] for a in sorted(signatures, key=lambda a: int(a, 16)))
    expected = probe.call(
        "getECDSACertificateBytes((uint32,bytes32,bytes))", [(7, MESSAGE_HASH, sig)], ["bytes"]
    )
    assert encoded == expected


def test_ecdsa_v_zero_one_is_written_as_27_28(ecdsa_keys):
    key = ecdsa_keys[0]
    signature = key.sign(DIGEST)
    low_v = signature[:64] + bytes([signature[64] - 27])
    encoded = certificates.encode_ecdsa_certificate(1, MESSAGE_HASH, {key.address: low_v})
    assert certificates.decode_ecdsa_certificate(encoded).signatures == [signature]


def test_ecdsa_signature_under_the_wrong_signer_is_rejected_when_the_digest_is_given(ecdsa_keys):
    a, b = ecdsa_keys[:2]
    with pytest.raises(InvalidSignature):
        certificates.encode_ecdsa_certificate(
            1, MESSAGE_HASH, {a.address: b.sign(DIGEST)}, digest=DIGEST
        )


@pytest.mark.parametrize(
    ("signatures", "error"),
    [
        ({}, EncodingError),
        ({"not-an-address": b"\x01" * 65}, EncodingError),
        ({"0x" + "11" * 20: b"\x01" * 64}, InvalidSignature),
        ({"0x" + "11" * 20: b"\x01" * 64 + b"\x05"}, InvalidSignature),
        ({"0x" + "aa" * 20: b"\x01" * 65, "0x" + "AA" * 20: b"\x01" * 65}, EncodingError),
    ],
)
def test_bad_ecdsa_certificate_inputs_are_rejected(signatures, error):
    with pytest.raises(error):
        certificates.encode_ecdsa_certificate(1, MESSAGE_HASH, signatures)


def test_ecdsa_header_fields_must_fit():
    with pytest.raises(EncodingError, match="uint32"):
        certificates.encode_ecdsa_certificate(2**32, MESSAGE_HASH, {"0x" + "11" * 20: b"\x01" * 65})
    with pytest.raises(EncodingError, match="32 bytes"):
        certificates.encode_ecdsa_certificate(1, b"short", {"0x" + "11" * 20: b"\x01" * 65})


@pytest.fixture(scope="module")
def bn254_certificate_inputs():
    keys = [Bn254PrivateKey(s) for s in (101, 202, 303, 404, 505)]
    digest = messages.bn254_certificate_digest(1_700_000_000, MESSAGE_HASH)
    signers = keys[:3]
    signature = bn254.aggregate_signatures([k.sign(digest) for k in signers])
    apk = bn254.aggregate_public_keys_g2([k.public_g2 for k in signers])
    witnesses = [
        NonSignerWitness(9, b"\x99" * 64, keys[4].public_g1, [5, 6]),
        NonSignerWitness(2, b"\x22" * 32, keys[3].public_g1.to_bytes(), [3]),
    ]
    return signature, apk, witnesses


def test_bn254_certificate_bytes_equal_solidity_abi_encode(probe, bn254_certificate_inputs):
    signature, apk, witnesses = bn254_certificate_inputs
    encoded = certificates.encode_bn254_certificate(
        1_700_000_000, MESSAGE_HASH, signature, apk, witnesses
    )
    sigma = bn254.parse_signature(signature)
    x, y = bn254.parse_public_key_g2(apk).solidity()
    ordered = sorted(witnesses, key=lambda w: w.operator_index)
    solidity_witnesses = [
        (
            w.operator_index,
            w.operator_info_proof,
            (tuple(bn254.parse_public_key_g1(w.pubkey_g1)), w.weights),
        )
        for w in ordered
    ]
    expected = probe.call(
        "getBN254CertificateBytes((uint32,bytes32,(uint256,uint256),(uint256[2],uint256[2]),"
        "(uint32,bytes,((uint256,uint256),uint256[]))[]))",
        [(1_700_000_000, MESSAGE_HASH, tuple(sigma), (x, y), solidity_witnesses)],
        ["bytes"],
    )
    assert encoded == expected


def test_bn254_certificate_round_trips_with_witnesses_sorted(bn254_certificate_inputs):
    signature, apk, witnesses = bn254_certificate_inputs
    encoded = certificates.encode_bn254_certificate(5, MESSAGE_HASH, signature, apk, witnesses)
    decoded = certificates.decode_bn254_certificate(encoded)
    assert (decoded.reference_timestamp, decoded.message_hash) == (5, MESSAGE_HASH)
    assert decoded.signature == signature and decoded.apk_g2 == apk
    assert [w.operator_index for w in decoded.non_signer_witnesses] == [2, 9]
    assert decoded.non_signer_witnesses[1].operator_info_proof == b"\x99" * 64
    assert decoded.non_signer_witnesses[1].weights == [5, 6]
    assert (
        decoded.non_signer_witnesses[0].pubkey_g1
        == bn254.parse_public_key_g1(witnesses[1].pubkey_g1).to_bytes()
    )


def test_bn254_certificate_without_witnesses_is_what_the_m7_aggregator_sends(
    probe, bn254_certificate_inputs
):
    signature, apk, _ = bn254_certificate_inputs
    encoded = certificates.encode_bn254_certificate(5, MESSAGE_HASH, signature, apk)
    assert certificates.decode_bn254_certificate(encoded).non_signer_witnesses == []


def test_bad_bn254_certificate_inputs_are_rejected(bn254_certificate_inputs):
    signature, apk, witnesses = bn254_certificate_inputs
    with pytest.raises(InvalidSignature):
        certificates.encode_bn254_certificate(1, MESSAGE_HASH, signature[:63], apk)
    with pytest.raises(InvalidPoint):
        certificates.encode_bn254_certificate(1, MESSAGE_HASH, signature, bytes(128))
    twice = [witnesses[0], NonSignerWitness(9, b"", witnesses[1].pubkey_g1, [])]
    with pytest.raises(EncodingError, match="appears twice"):
        certificates.encode_bn254_certificate(1, MESSAGE_HASH, signature, apk, twice)
    off_curve = [NonSignerWitness(1, b"", b"\x00" * 63 + b"\x05", [])]
    with pytest.raises(InvalidPoint):
        certificates.encode_bn254_certificate(1, MESSAGE_HASH, signature, apk, off_curve)
    negative = [NonSignerWitness(1, b"", witnesses[0].pubkey_g1, [-1])]
    with pytest.raises(EncodingError, match="uint256"):
        certificates.encode_bn254_certificate(1, MESSAGE_HASH, signature, apk, negative)


def test_decoders_reject_garbage():
    with pytest.raises(EncodingError):
        certificates.decode_ecdsa_certificate(b"\x01\x02")
    with pytest.raises(EncodingError):
        certificates.decode_bn254_certificate(b"\x00" * 31)


def test_apk_accepts_a_g2_point_as_well_as_bytes(bn254_certificate_inputs):
    signature, apk, _ = bn254_certificate_inputs
    point = bn254.parse_public_key_g2(apk)
    assert isinstance(point, G2Point)
    assert certificates.encode_bn254_certificate(
        1, MESSAGE_HASH, signature, point
    ) == certificates.encode_bn254_certificate(1, MESSAGE_HASH, signature, apk)
