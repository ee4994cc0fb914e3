"""Operator tables per reference timestamp: a task is verified against the table it was created
with, even after weights change and a newer table is published."""

from __future__ import annotations

from eth_utils import keccak

from ponos.chain.types import TaskStatus
from tests.devnet.helpers import assert_reverts_with, ready_task, submit
from tests.devnet.signing import ecdsa_certificate, ecdsa_digest, ecdsa_signatures

RESULT = b"\x00" * 31 + b"\x10"


def certificate_for(devnet, task, signers):
    ref_ts = task.event.reference_timestamp
    digest = ecdsa_digest(devnet.deployment.contracts["ECDSACertificateVerifier"], ref_ts, keccak(RESULT))
    keys = [devnet.deployment.executors[i].ecdsa.private_key for i in signers]
    return ecdsa_certificate(ref_ts, keccak(RESULT), ecdsa_signatures(keys, digest))


def test_tasks_verify_against_the_table_of_their_reference_timestamp(devnet):
    client = devnet.client
    old_task = ready_task(devnet)
    old_ts = old_task.event.reference_timestamp

    new_ts = client.set_operator_weight(0, 1000)
    assert new_ts > old_ts
    new_task = ready_task(devnet)
    assert new_task.event.reference_timestamp == new_ts

    # Operators 1 and 2 hold 200 of 300 in the old table, 200 of 1200 in the new one.
    client.transact(submit(devnet, old_task, certificate_for(devnet, old_task, [1, 2]), RESULT))
    assert client.task_status(old_task.task_hash) == TaskStatus.VERIFIED
    assert_reverts_with(
        submit(devnet, new_task, certificate_for(devnet, new_task, [1, 2]), RESULT),
        devnet.deployment.avs,
        "ThresholdNotMet()",
    )
    client.transact(submit(devnet, new_task, certificate_for(devnet, new_task, [0]), RESULT))
    assert client.task_status(new_task.task_hash) == TaskStatus.VERIFIED


def test_reference_timestamps_are_unique_and_map_to_their_block(devnet):
    client = devnet.client
    updater = client.contract("OperatorTableUpdater")
    first = client.publish_operator_tables()
    second = client.publish_operator_tables()  # same second on anvil: still strictly later
    assert second > first
    for ts in (first, second):
        block = updater.functions.getReferenceBlockNumberByTimestamp(ts).call()
        assert updater.functions.getReferenceTimestampByBlockNumber(block).call() == ts
    verifier = client.contract("ECDSACertificateVerifier")
    executor_set = client.executor_operator_set()
    assert verifier.functions.latestReferenceTimestamp(executor_set).call() == second
    assert verifier.functions.isReferenceTimestampSet(executor_set, first).call()
    assert not verifier.functions.isReferenceTimestampSet(executor_set, second + 1).call()


def test_table_lists_only_members_with_weight_and_key(devnet):
    client = devnet.client
    calculator = client.contract("ECDSATableCalculator")
    executor_set = client.executor_operator_set()
    client.set_operator_weight(2, 0)
    operators, weights = calculator.functions.getOperatorSetWeights(executor_set).call()
    expected = [op.address for op in devnet.deployment.executors[:2]]
    assert [o.lower() for o in operators] == expected
    assert [w[0] for w in weights] == [op.weight for op in devnet.deployment.executors[:2]]
