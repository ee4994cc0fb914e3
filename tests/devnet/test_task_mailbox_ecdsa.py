"""TaskMailbox + ECDSACertificateVerifier on anvil: task creation, valid and invalid certificates.

Certificates are signed with eth-keys over digests recomputed from docs/protocol.md.
"""

from __future__ import annotations

from eth_utils import keccak

from ponos.chain.events import TASK_CREATED_TOPIC, TASK_VERIFIED_TOPIC, decode_task_created
from ponos.chain.types import TaskStatus
from tests.devnet.helpers import (
    assert_reverts_with,
    assert_reverts_with_one_of,
    ready_task,
    submit,
)
from tests.devnet.signing import (
    ecdsa_certificate,
    ecdsa_digest,
    ecdsa_domain_separator,
    ecdsa_sign,
    ecdsa_signatures,
)

RESULT = b"\x00" * 31 + b"\x10"  # the hello performer squares 4


def certificate_for(devnet, task, result, signers, reference_timestamp=None, message_hash=None):
    ref_ts = task.event.reference_timestamp if reference_timestamp is None else reference_timestamp
    msg = keccak(result) if message_hash is None else message_hash
    digest = ecdsa_digest(devnet.deployment.contracts["ECDSACertificateVerifier"], ref_ts, msg)
    keys = [devnet.deployment.executors[i].ecdsa.private_key for i in signers]
    return ecdsa_certificate(ref_ts, msg, ecdsa_signatures(keys, digest))


def test_create_task_emits_task_created_with_the_reference_topic(devnet):
    client = devnet.client
    task = client.create_task(b"\x04")
    receipt_logs = client.w3.eth.get_logs(
        {"fromBlock": task.block_number, "toBlock": task.block_number}
    )
    created = [log for log in receipt_logs if "0x" + log["topics"][0].hex() == TASK_CREATED_TOPIC]
    assert len(created) == 1
    event = decode_task_created(created[0])
    block = client.w3.eth.get_block(task.block_number)
    assert event.task_hash == task.task_hash and len(event.task_hash) == 66
    assert event.avs == devnet.deployment.avs
    assert event.executor_operator_set_id == 1
    assert event.reference_timestamp == devnet.deployment.reference_timestamp
    assert event.task_deadline == block["timestamp"] + 60
    assert event.payload == b"\x04"
    assert event.address == devnet.deployment.contracts["TaskMailbox"]
    assert client.task_status(task.task_hash) == TaskStatus.CREATED


def test_task_hashes_follow_the_eigenlayer_formula(devnet):
    from eth_abi import encode

    client = devnet.client
    before = client.create_task(b"\x07")
    # taskHash = keccak(abi.encode(globalTaskCount, mailbox, chainid, taskParams)); the next
    # task's count is one more than this one's, which we recover by trying small counts.
    mailbox = devnet.deployment.contracts["TaskMailbox"]
    params = (devnet.deployment.avs, (devnet.deployment.avs, 1), b"\x07")
    counts = [
        n
        for n in range(64)
        if "0x"
        + keccak(
            encode(
                ["uint256", "address", "uint256", "(address,(address,uint32),bytes)"],
                [n, mailbox, devnet.deployment.chain_id, params],
            )
        ).hex()
        == before.task_hash
    ]
    assert len(counts) == 1


def test_certificate_digest_and_domain_match_the_protocol(devnet):
    verifier = devnet.client.contract("ECDSACertificateVerifier")
    address = devnet.deployment.contracts["ECDSACertificateVerifier"]
    assert verifier.functions.domainSeparator().call() == ecdsa_domain_separator(address)
    msg = keccak(b"anything")
    assert verifier.functions.calculateCertificateDigest(1234, msg).call() == ecdsa_digest(
        address, 1234, msg
    )


def test_valid_certificate_from_all_operators_is_verified_and_emits_task_verified(devnet):
    task = ready_task(devnet)
    cert = certificate_for(devnet, task, RESULT, [0, 1, 2])
    receipt = devnet.client.transact(submit(devnet, task, cert, RESULT))
    verified = [log for log in receipt["logs"] if "0x" + log["topics"][0].hex() == TASK_VERIFIED_TOPIC]
    assert len(verified) == 1
    assert "0x" + verified[0]["topics"][2].hex() == task.task_hash
    assert devnet.client.task_status(task.task_hash) == TaskStatus.VERIFIED
    assert devnet.client.task_result(task.task_hash) == RESULT


def test_two_of_three_equal_weights_meet_a_6667_bips_threshold(devnet):
    task = ready_task(devnet)
    cert = certificate_for(devnet, task, RESULT, [0, 2])
    devnet.client.transact(submit(devnet, task, cert, RESULT))
    assert devnet.client.task_status(task.task_hash) == TaskStatus.VERIFIED


def test_certificate_below_threshold_is_rejected(devnet):
    task = ready_task(devnet)
    cert = certificate_for(devnet, task, RESULT, [1])
    assert_reverts_with(submit(devnet, task, cert, RESULT), devnet.deployment.avs, "ThresholdNotMet()")
    assert devnet.client.task_status(task.task_hash) == TaskStatus.CREATED


def test_signature_from_a_key_outside_the_table_is_rejected(devnet):
    task = ready_task(devnet)
    ref_ts = task.event.reference_timestamp
    digest = ecdsa_digest(devnet.deployment.contracts["ECDSACertificateVerifier"], ref_ts, keccak(RESULT))
    outsider = "0x" + "11" * 32
    keys = [devnet.deployment.executors[i].ecdsa.private_key for i in (0, 1)] + [outsider]
    cert = ecdsa_certificate(ref_ts, keccak(RESULT), ecdsa_signatures(keys, digest))
    assert_reverts_with(submit(devnet, task, cert, RESULT), devnet.deployment.avs, "VerificationFailed()")


def test_operator_identity_key_is_not_its_signing_key(devnet):
    # Signing with the operator's transaction key instead of its registered signing key fails.
    task = ready_task(devnet)
    ref_ts = task.event.reference_timestamp
    digest = ecdsa_digest(devnet.deployment.contracts["ECDSACertificateVerifier"], ref_ts, keccak(RESULT))
    keys = [devnet.deployment.executors[i].private_key for i in (0, 1, 2)]
    cert = ecdsa_certificate(ref_ts, keccak(RESULT), ecdsa_signatures(keys, digest))
    assert_reverts_with(submit(devnet, task, cert, RESULT), devnet.deployment.avs, "VerificationFailed()")


def test_tampered_signature_is_rejected(devnet):
    # One signature, so the recovered (wrong) signer cannot trip the ordering check first.
    task = ready_task(devnet)
    ref_ts = task.event.reference_timestamp
    digest = ecdsa_digest(devnet.deployment.contracts["ECDSACertificateVerifier"], ref_ts, keccak(RESULT))
    _, sig = ecdsa_sign(devnet.deployment.executors[0].ecdsa.private_key, digest)
    tampered = bytearray(sig)
    tampered[5] ^= 0x01  # a bit of r
    cert = ecdsa_certificate(ref_ts, keccak(RESULT), bytes(tampered))
    # Either no key recovers from it, or one that is not in the operator table does.
    assert_reverts_with_one_of(
        submit(devnet, task, cert, RESULT),
        devnet.deployment.avs,
        ["InvalidSignature()", "VerificationFailed()"],
    )
    assert devnet.client.task_status(task.task_hash) == TaskStatus.CREATED


def test_signatures_not_in_ascending_signer_order_are_rejected(devnet):
    task = ready_task(devnet)
    ref_ts = task.event.reference_timestamp
    digest = ecdsa_digest(devnet.deployment.contracts["ECDSACertificateVerifier"], ref_ts, keccak(RESULT))
    signed = sorted(
        ecdsa_sign(devnet.deployment.executors[i].ecdsa.private_key, digest) for i in (0, 1, 2)
    )
    descending = b"".join(sig for _, sig in reversed(signed))
    cert = ecdsa_certificate(ref_ts, keccak(RESULT), descending)
    assert_reverts_with(submit(devnet, task, cert, RESULT), devnet.deployment.avs, "SignersNotOrdered()")


def test_duplicate_signer_is_rejected(devnet):
    task = ready_task(devnet)
    ref_ts = task.event.reference_timestamp
    digest = ecdsa_digest(devnet.deployment.contracts["ECDSACertificateVerifier"], ref_ts, keccak(RESULT))
    _, sig = ecdsa_sign(devnet.deployment.executors[0].ecdsa.private_key, digest)
    cert = ecdsa_certificate(ref_ts, keccak(RESULT), sig + sig + sig)
    assert_reverts_with(submit(devnet, task, cert, RESULT), devnet.deployment.avs, "SignersNotOrdered()")


def test_wrong_reference_timestamp_is_rejected(devnet):
    task = ready_task(devnet)
    cert = certificate_for(
        devnet, task, RESULT, [0, 1, 2], reference_timestamp=task.event.reference_timestamp - 1
    )
    assert_reverts_with(
        submit(devnet, task, cert, RESULT), devnet.deployment.avs, "InvalidReferenceTimestamp()"
    )


def test_message_hash_other_than_keccak_of_the_result_is_rejected(devnet):
    task = ready_task(devnet)
    cert = certificate_for(devnet, task, RESULT, [0, 1, 2], message_hash=keccak(b"other result"))
    assert_reverts_with(submit(devnet, task, cert, RESULT), devnet.deployment.avs, "InvalidMessageHash()")


def test_signatures_over_another_result_are_rejected(devnet):
    task = ready_task(devnet)
    ref_ts = task.event.reference_timestamp
    other = ecdsa_digest(
        devnet.deployment.contracts["ECDSACertificateVerifier"], ref_ts, keccak(b"other result")
    )
    _, sig = ecdsa_sign(devnet.deployment.executors[0].ecdsa.private_key, other)
    cert = ecdsa_certificate(ref_ts, keccak(RESULT), sig)
    assert_reverts_with(submit(devnet, task, cert, RESULT), devnet.deployment.avs, "VerificationFailed()")


def test_result_after_the_deadline_is_rejected_and_the_task_reads_expired(devnet):
    task = ready_task(devnet)
    cert = certificate_for(devnet, task, RESULT, [0, 1, 2])
    devnet.client.increase_time(61)
    assert devnet.client.task_status(task.task_hash) == TaskStatus.EXPIRED
    assert_reverts_with(
        submit(devnet, task, cert, RESULT), devnet.deployment.avs, "InvalidTaskStatus(uint8,uint8)"
    )


def test_second_submission_of_a_verified_task_is_rejected(devnet):
    task = ready_task(devnet)
    cert = certificate_for(devnet, task, RESULT, [0, 1, 2])
    devnet.client.transact(submit(devnet, task, cert, RESULT))
    assert_reverts_with(
        submit(devnet, task, cert, RESULT), devnet.deployment.avs, "InvalidTaskStatus(uint8,uint8)"
    )
    assert devnet.client.task_status(task.task_hash) == TaskStatus.VERIFIED


def test_result_in_the_creation_second_is_rejected(devnet):
    # EigenLayer requires block.timestamp > creationTime; anvil mines many blocks per second.
    task = devnet.client.create_task(b"\x04")
    devnet.client.w3.provider.make_request(
        "evm_setNextBlockTimestamp", [task.event.task_deadline - 60]
    )
    cert = certificate_for(devnet, task, RESULT, [0, 1, 2])
    try:
        devnet.client.transact(submit(devnet, task, cert, RESULT))
        raised = False
    except Exception:
        raised = True
    assert raised
    assert devnet.client.task_status(task.task_hash) == TaskStatus.CREATED
