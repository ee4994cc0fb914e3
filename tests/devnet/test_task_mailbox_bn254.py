"""TaskMailbox + BN254CertificateVerifier on anvil: aggregate signatures through ecPairing.

Signatures come from py_ecc with this suite's own try-and-increment hash-to-G1
(tests/devnet/signing.py) over digests recomputed from docs/protocol.md.
"""

from __future__ import annotations

from eth_utils import keccak

from ponos.chain.events import TASK_VERIFIED_TOPIC
from ponos.chain.types import TaskStatus
from tests.devnet.helpers import assert_reverts_with, ready_task, submit
from tests.devnet.signing import (
    bn254_certificate,
    bn254_digest,
    bn254_sign,
    g1_sum,
    g2_aggregate,
    hash_to_g1,
)

RESULT = b"\x00" * 31 + b"\x10"


def witness(devnet, index, info="full"):
    op = devnet.deployment.executors[index]
    operator_info = (op.bls.g1, [op.weight]) if info == "full" else ((0, 0), [])
    return (index, b"", operator_info)


def certificate_for(
    devnet,
    task,
    result,
    signers,
    non_signers=None,
    reference_timestamp=None,
    message_hash=None,
    signing_keys=None,
    apk_keys=None,
    witness_info="full",
):
    ops = devnet.deployment.executors
    ref_ts = task.event.reference_timestamp if reference_timestamp is None else reference_timestamp
    msg = keccak(result) if message_hash is None else message_hash
    digest = bn254_digest(ref_ts, msg)
    keys = signing_keys or [ops[i].bls.private_key for i in signers]
    signature = g1_sum([bn254_sign(k, digest) for k in keys])
    apk = g2_aggregate(apk_keys or [ops[i].bls.private_key for i in signers])
    if non_signers is None:
        non_signers = [i for i in range(len(ops)) if i not in signers]
    witnesses = [witness(devnet, i, witness_info) for i in non_signers]
    return bn254_certificate(ref_ts, msg, signature, apk, witnesses)


def test_hash_to_g1_lands_on_the_curve():
    for digest in (b"\x00" * 32, keccak(b"a"), b"\xff" * 32):
        x, y = hash_to_g1(digest)
        p = 21888242871839275222246405745257275088696311157297823662689037894645226208583
        assert (y * y - x * x * x - 3) % p == 0


def test_digest_matches_the_verifier(devnet_bn254):
    verifier = devnet_bn254.client.contract("BN254CertificateVerifier")
    msg = keccak(b"x")
    assert verifier.functions.calculateCertificateDigest(77, msg).call() == bn254_digest(77, msg)


def test_all_operators_signing_is_verified_and_emits_task_verified(devnet_bn254):
    net = devnet_bn254
    task = ready_task(net)
    cert = certificate_for(net, task, RESULT, [0, 1, 2])
    receipt = net.client.transact(submit(net, task, cert, RESULT))
    topics = ["0x" + log["topics"][0].hex() for log in receipt["logs"]]
    assert topics.count(TASK_VERIFIED_TOPIC) == 1
    assert net.client.task_status(task.task_hash) == TaskStatus.VERIFIED
    assert net.client.task_result(task.task_hash) == RESULT


def test_non_signer_witness_subtracts_its_key_and_weight(devnet_bn254):
    net = devnet_bn254
    task = ready_task(net)
    cert = certificate_for(net, task, RESULT, [0, 2], non_signers=[1])
    net.client.transact(submit(net, task, cert, RESULT))
    assert net.client.task_status(task.task_hash) == TaskStatus.VERIFIED


def test_witness_with_empty_info_uses_the_stored_operator_info(devnet_bn254):
    net = devnet_bn254
    task = ready_task(net)
    cert = certificate_for(net, task, RESULT, [0, 1], non_signers=[2], witness_info="empty")
    net.client.transact(submit(net, task, cert, RESULT))
    assert net.client.task_status(task.task_hash) == TaskStatus.VERIFIED


def test_certificate_below_threshold_is_rejected(devnet_bn254):
    net = devnet_bn254
    task = ready_task(net)
    cert = certificate_for(net, task, RESULT, [1], non_signers=[0, 2])
    assert_reverts_with(submit(net, task, cert, RESULT), net.deployment.avs, "ThresholdNotMet()")


def test_missing_non_signer_witness_is_rejected(devnet_bn254):
    # Two signers but no witness for the third: the aggregate key of all three does not match.
    net = devnet_bn254
    task = ready_task(net)
    cert = certificate_for(net, task, RESULT, [0, 1], non_signers=[])
    assert_reverts_with(submit(net, task, cert, RESULT), net.deployment.avs, "VerificationFailed()")


def test_signature_by_a_key_outside_the_table_is_rejected(devnet_bn254):
    net = devnet_bn254
    task = ready_task(net)
    outsider = "0x" + "07" * 31 + "01"
    ops = net.deployment.executors
    cert = certificate_for(
        net,
        task,
        RESULT,
        [0, 1, 2],
        signing_keys=[ops[0].bls.private_key, ops[1].bls.private_key, outsider],
        apk_keys=[ops[0].bls.private_key, ops[1].bls.private_key, outsider],
    )
    assert_reverts_with(submit(net, task, cert, RESULT), net.deployment.avs, "VerificationFailed()")


def test_forged_signature_point_is_rejected(devnet_bn254):
    net = devnet_bn254
    task = ready_task(net)
    ops = net.deployment.executors
    good = certificate_for(net, task, RESULT, [0, 1, 2])
    # The signature of another message under the same keys.
    cert = certificate_for(net, task, RESULT, [0, 1, 2], message_hash=keccak(b"other"))
    assert good != cert
    forged = bytearray(good)
    # abi.encode(cert): offset word, referenceTimestamp, messageHash, then signature X and Y.
    forged[96:160] = cert[96:160]
    assert_reverts_with(
        submit(net, task, bytes(forged), RESULT), net.deployment.avs, "VerificationFailed()"
    )
    assert ops and net.client.task_status(task.task_hash) == TaskStatus.CREATED


def test_witness_info_that_differs_from_the_table_is_rejected(devnet_bn254):
    net = devnet_bn254
    task = ready_task(net)
    ops = net.deployment.executors
    digest = bn254_digest(task.event.reference_timestamp, keccak(RESULT))
    signature = g1_sum([bn254_sign(ops[i].bls.private_key, digest) for i in (0, 2)])
    apk = g2_aggregate([ops[i].bls.private_key for i in (0, 2)])
    lying = (1, b"", (ops[1].bls.g1, [1]))  # claims the non-signer weighs 1, not 100
    cert = bn254_certificate(
        task.event.reference_timestamp, keccak(RESULT), signature, apk, [lying]
    )
    assert_reverts_with(submit(net, task, cert, RESULT), net.deployment.avs, "VerificationFailed()")


def test_witness_index_outside_the_table_is_rejected(devnet_bn254):
    net = devnet_bn254
    task = ready_task(net)
    cert = certificate_for(net, task, RESULT, [0, 1, 2], non_signers=[])
    ops = net.deployment.executors
    digest = bn254_digest(task.event.reference_timestamp, keccak(RESULT))
    signature = g1_sum([bn254_sign(op.bls.private_key, digest) for op in ops])
    apk = g2_aggregate([op.bls.private_key for op in ops])
    cert = bn254_certificate(
        task.event.reference_timestamp, keccak(RESULT), signature, apk, [(3, b"", ((0, 0), []))]
    )
    assert_reverts_with(submit(net, task, cert, RESULT), net.deployment.avs, "InvalidOperatorIndex()")


def test_wrong_reference_timestamp_is_rejected(devnet_bn254):
    net = devnet_bn254
    task = ready_task(net)
    cert = certificate_for(
        net, task, RESULT, [0, 1, 2], reference_timestamp=task.event.reference_timestamp + 1
    )
    assert_reverts_with(
        submit(net, task, cert, RESULT), net.deployment.avs, "InvalidReferenceTimestamp()"
    )


def test_wrong_message_hash_is_rejected(devnet_bn254):
    net = devnet_bn254
    task = ready_task(net)
    cert = certificate_for(net, task, RESULT, [0, 1, 2], message_hash=keccak(b"x"))
    assert_reverts_with(submit(net, task, cert, RESULT), net.deployment.avs, "InvalidMessageHash()")


def test_after_the_deadline_and_twice_are_rejected(devnet_bn254):
    net = devnet_bn254
    late = ready_task(net)
    twice = ready_task(net)
    net.client.transact(submit(net, twice, certificate_for(net, twice, RESULT, [0, 1, 2]), RESULT))
    late_cert = certificate_for(net, late, RESULT, [0, 1, 2])
    net.client.increase_time(61)
    assert net.client.task_status(late.task_hash) == TaskStatus.EXPIRED
    for task, cert in ((late, late_cert), (twice, certificate_for(net, twice, RESULT, [0, 1, 2]))):
        assert_reverts_with(
            submit(net, task, cert, RESULT), net.deployment.avs, "InvalidTaskStatus(uint8,uint8)"
        )
    assert net.client.task_status(twice.task_hash) == TaskStatus.VERIFIED
