"""End to end on the devnet: real anvil, real executors (subprocesses with hello performers),
the aggregator in-process; ECDSA and BN254 operator sets of 3 operators (weight 100 each) at
6667 bips, so any 2 agreeing operators verify a task and 1 never does. Executor 2 runs the
lying performer: payloads starting with b"lie:" get a wrong result from it."""

from __future__ import annotations

import asyncio

import pytest
from web3 import Web3

from ponos.chain.types import TaskStatus as ChainStatus
from ponos.crypto import messages
from ponos.crypto.bn254 import G1Point
from ponos.crypto.certificates import decode_bn254_certificate, decode_ecdsa_certificate
from ponos.crypto.ecdsa import recover_address
from ponos.performer.hello import square_payload
from ponos.storage.status import TaskStatus
from tests.aggregator.conftest import LIAR
from tests.support.cluster import (
    DevnetCluster,
    account,
    aggregator_settings,
    load_aggregator_config,
    running_aggregator,
    wait_until,
    write_config,
)
from tests.support.counts import report_counts
from tests.support.lying_performer import LIE_MARKER

pytestmark = [pytest.mark.devnet, pytest.mark.asyncio(loop_factories=["uvloop"])]

TERMINAL = {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.EXPIRED}


async def run_tasks(cluster: DevnetCluster, tmp_path, payloads, timeout=60.0, **settings):
    """Start an aggregator at the head, create the tasks, wait until each one settles."""
    start = await asyncio.to_thread(cluster.head) + 1
    config_dict = aggregator_settings(cluster, tmp_path / "agg", start_block=start)
    config_dict.update(settings)
    config = load_aggregator_config(write_config(tmp_path / "aggregator.yaml", config_dict))
    async with running_aggregator(config) as service:
        created = await asyncio.to_thread(cluster.create_tasks, payloads)
        ids = [t.task_hash for t in created]

        def settled() -> bool:
            return all(
                (t := service.store.get_task(i)) is not None and t.status in TERMINAL for i in ids
            )

        await wait_until(settled, timeout, what="every task settled")
        records = {i: service.store.get_task(i) for i in ids}
    return created, records, start


def assert_verified_once(cluster: DevnetCluster, created, records, payloads, start, label):
    for task, payload in zip(created, payloads, strict=True):
        record = records[task.task_hash]
        assert record.status == TaskStatus.COMPLETED, record.reason
        assert cluster.net.client.task_status(task.task_hash) == ChainStatus.VERIFIED
        assert cluster.net.client.task_result(task.task_hash) == square_payload(payload)
    counts = account(cluster, [t.task_hash for t in created], start)
    report_counts(counts.line(label))
    assert (counts.verified, counts.duplicates, counts.lost) == (len(created), 0, 0)


def ecdsa_signers(cluster: DevnetCluster, task_hash: str) -> set[int]:
    """Indexes of the executors whose signatures the task's on-chain certificate holds."""
    cert_bytes, result = cluster.verified_event(task_hash)
    cert = decode_ecdsa_certificate(cert_bytes)
    verifier = cluster.net.client.contract("ECDSACertificateVerifier")
    separator = bytes(verifier.functions.domainSeparator().call())
    digest = messages.ecdsa_certificate_digest(
        separator, cert.reference_timestamp, messages.message_hash(result)
    )
    by_address = {op.ecdsa.address.lower(): op.index for op in cluster.deployment.executors}
    return {by_address[recover_address(digest, sig).lower()] for sig in cert.signatures}


def bn254_non_signers(cluster: DevnetCluster, task_hash: str) -> set[int]:
    """Indexes of the executors the task's on-chain BN254 certificate names as non-signers."""
    cert = decode_bn254_certificate(cluster.verified_event(task_hash)[0])
    by_key = {G1Point(*op.bls.g1).to_bytes(): op.index for op in cluster.deployment.executors}
    return {by_key[bytes(w.pubkey_g1)] for w in cert.non_signer_witnesses}


async def test_ecdsa_tasks_are_verified_once_with_the_squared_result(ecdsa, tmp_path):
    payloads = [b"0x04", b"\x05", b"\x07", b"0x0b"]
    created, records, start = await run_tasks(ecdsa, tmp_path, payloads)
    assert_verified_once(ecdsa, created, records, payloads, start, "ecdsa end to end")
    for task in created:
        assert len(ecdsa_signers(ecdsa, task.task_hash)) >= 2


async def test_ecdsa_wrong_result_does_not_count_towards_the_certificate(ecdsa, tmp_path):
    payloads = [LIE_MARKER + bytes([n]) for n in range(3)]
    created, records, start = await run_tasks(ecdsa, tmp_path, payloads)
    assert_verified_once(ecdsa, created, records, payloads, start, "ecdsa one wrong result")
    for task in created:
        assert ecdsa_signers(ecdsa, task.task_hash) == {0, 1}


async def test_ecdsa_one_operator_down_still_verifies(ecdsa, tmp_path):
    await asyncio.to_thread(ecdsa.stop_executor, 1)
    payloads = [b"\x02", b"\x03"]
    created, records, start = await run_tasks(ecdsa, tmp_path, payloads)
    assert_verified_once(ecdsa, created, records, payloads, start, "ecdsa one operator down")
    for task in created:
        assert ecdsa_signers(ecdsa, task.task_hash) == {0, 2}


async def test_not_enough_weight_by_the_deadline_expires_naming_who_answered(ecdsa, tmp_path):
    await asyncio.to_thread(ecdsa.set_task_sla, 6)
    try:
        ecdsa.pause_executor(0)
        ecdsa.pause_executor(1)
        created, records, _start = await run_tasks(
            ecdsa, tmp_path, [b"\x09"], timeout=30, executors={"callTimeout": "1s"}
        )
    finally:
        ecdsa.resume_executor(0)
        ecdsa.resume_executor(1)
        await asyncio.to_thread(ecdsa.set_task_sla, 60)
    record = records[created[0].task_hash]
    assert record.status == TaskStatus.EXPIRED
    answered = ecdsa.deployment.executors[2].address.lower()
    assert "100/300 weight, 6667 bips required" in record.reason
    assert f"answered: {answered}" in record.reason
    for silent in (0, 1):
        assert ecdsa.deployment.executors[silent].address.lower() in record.reason
    assert ecdsa.net.client.task_status(created[0].task_hash) != ChainStatus.VERIFIED


async def test_bn254_tasks_are_verified_once_with_every_silent_operator_a_non_signer(
    bn254, tmp_path
):
    payloads = [b"0x04", b"\x06", b"0x0c"]
    created, records, start = await run_tasks(bn254, tmp_path, payloads)
    assert_verified_once(bn254, created, records, payloads, start, "bn254 end to end")
    for task in created:
        assert len(bn254_non_signers(bn254, task.task_hash)) <= 1


async def test_bn254_wrong_result_is_carried_as_a_non_signer(bn254, tmp_path):
    payloads = [LIE_MARKER + bytes([n]) for n in range(3)]
    created, records, start = await run_tasks(bn254, tmp_path, payloads)
    assert_verified_once(bn254, created, records, payloads, start, "bn254 one wrong result")
    for task in created:
        assert bn254_non_signers(bn254, task.task_hash) == {LIAR}


async def test_bn254_one_operator_down_is_a_non_signer(bn254, tmp_path):
    await asyncio.to_thread(bn254.stop_executor, 0)
    payloads = [b"\x0a", b"\x0b"]
    created, records, start = await run_tasks(bn254, tmp_path, payloads)
    assert_verified_once(bn254, created, records, payloads, start, "bn254 one operator down")
    for task in created:
        assert bn254_non_signers(bn254, task.task_hash) == {0}
    assert Web3.is_address(bn254.deployment.executors[0].address)
