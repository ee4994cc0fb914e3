"""Every signed digest of docs/protocol.md, computed in Python and by the EVM (the probe
contract written from the same document), for fixed and random inputs."""

from __future__ import annotations

import secrets

import pytest
from eth_utils import keccak

from ponos.crypto import messages
from ponos.crypto.errors import EncodingError

TASK_ID = "0x" + "11" * 32
AVS = "0x" + "22" * 20
EXECUTOR = "0x" + "33" * 20
VERIFIER = "0x" + "44" * 20


def _random_address() -> str:
    return "0x" + secrets.token_bytes(20).hex()


def test_type_hashes_are_the_eigenlayer_constants():
    assert (
        keccak(text="ECDSACertificate(uint32 referenceTimestamp,bytes32 messageHash)")
        == messages.ECDSA_CERTIFICATE_TYPEHASH
    )
    assert (
        keccak(text="BN254Certificate(uint32 referenceTimestamp,bytes32 messageHash)")
        == messages.BN254_CERTIFICATE_TYPEHASH
    )


def test_message_hash_is_keccak_of_the_result():
    assert messages.message_hash(b"") == keccak(b"")
    assert messages.message_hash(b"result") == keccak(b"result")


@pytest.mark.parametrize("verifier", [VERIFIER, _random_address()])
def test_ecdsa_digest_matches_the_evm(probe, verifier):
    separator = messages.ecdsa_domain_separator(verifier, "v1.2.3")
    assert separator == probe.call("domainSeparator(address,string)", [verifier, "v1"], ["bytes32"])
    message_hash = keccak(b"output")
    for timestamp in (0, 1, 1_700_000_000, 2**32 - 1):
        expected = probe.call(
            "calculateCertificateDigestBytes(bytes32,uint32,bytes32)",
            [separator, timestamp, message_hash],
            ["bytes"],
        )
        assert (
            messages.ecdsa_certificate_digest_bytes(separator, timestamp, message_hash) == expected
        )
        assert messages.ecdsa_certificate_digest(separator, timestamp, message_hash) == keccak(
            expected
        )


def test_bn254_digest_matches_the_evm(probe):
    for timestamp, result in [(1, b""), (1_700_000_123, b"\x01" * 300), (2**32 - 1, b"x")]:
        message_hash = messages.message_hash(result)
        expected = probe.call(
            "bn254CertificateDigest(uint32,bytes32)", [timestamp, message_hash], ["bytes32"]
        )
        assert messages.bn254_certificate_digest(timestamp, message_hash) == expected


@pytest.mark.parametrize("payload", [b"", b"payload", secrets.token_bytes(1000)])
def test_task_submission_digest_matches_the_evm(probe, payload):
    args = [TASK_ID, AVS, EXECUTOR, 7, 1_700_000_000, 2**64 - 1, payload]
    preimage = messages.task_submission_preimage(*args)
    assert len(preimage) == 224
    expected = probe.call(
        "taskSubmissionDigest(bytes32,address,address,uint32,uint32,uint64,bytes)",
        [bytes.fromhex(TASK_ID[2:]), *args[1:]],
        ["bytes32"],
    )
    assert messages.task_submission_digest(*args) == expected == keccak(preimage)


def test_result_auth_digest_matches_the_evm(probe):
    signature = secrets.token_bytes(65)
    operator = _random_address()
    args = [TASK_ID, AVS, operator, 3, signature]
    assert len(messages.result_auth_preimage(*args)) == 160
    expected = probe.call(
        "resultAuthDigest(bytes32,address,address,uint32,bytes)",
        [bytes.fromhex(TASK_ID[2:]), *args[1:]],
        ["bytes32"],
    )
    assert messages.result_auth_digest(*args) == expected


def test_every_bound_field_changes_the_task_submission_digest():
    base = [TASK_ID, AVS, EXECUTOR, 7, 1_700_000_000, 100, b"p"]
    variants = [
        ["0x" + "12" * 32, *base[1:]],
        [TASK_ID, EXECUTOR, *base[2:]],
        [*base[:2], AVS, *base[3:]],
        [*base[:3], 8, *base[4:]],
        [*base[:4], 1_700_000_001, *base[5:]],
        [*base[:5], 101, b"p"],
        [*base[:6], b"q"],
    ]
    digests = {messages.task_submission_digest(*v) for v in [base, *variants]}
    assert len(digests) == len(variants) + 1


def test_bytes_and_hex_inputs_give_the_same_digest():
    as_hex = messages.result_auth_digest(TASK_ID, AVS, EXECUTOR, 1, b"sig")
    as_bytes = messages.result_auth_digest(
        bytes.fromhex(TASK_ID[2:]), bytes.fromhex(AVS[2:]), bytes.fromhex(EXECUTOR[2:]), 1, b"sig"
    )
    assert as_hex == as_bytes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["0x" + "11" * 31, AVS, EXECUTOR, 1, 1, 1, b""], "task id must be 32 bytes"),
        (["0xzz" + "11" * 31, AVS, EXECUTOR, 1, 1, 1, b""], "task id is not hex"),
        ([TASK_ID, "22" * 20, EXECUTOR, 1, 1, 1, b""], "AVS address"),
        ([TASK_ID, AVS, "0x1234", 1, 1, 1, b""], "executor address"),
        ([TASK_ID, AVS, EXECUTOR, 2**32, 1, 1, b""], "operator set id"),
        ([TASK_ID, AVS, EXECUTOR, 1, -1, 1, b""], "reference timestamp"),
        ([TASK_ID, AVS, EXECUTOR, 1, 1, 2**64, b""], "task block number"),
        ([TASK_ID, AVS, EXECUTOR, 1, 1, 1, "payload"], "payload must be bytes"),
        ([TASK_ID, AVS, EXECUTOR, True, 1, 1, b""], "operator set id"),
    ],
)
def test_fields_that_do_not_fit_raise_encoding_errors_naming_them(args, message):
    with pytest.raises(EncodingError, match=message):
        messages.task_submission_digest(*args)
