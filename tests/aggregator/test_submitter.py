"""The submitter against a real anvil: concurrent nonces, idempotence through the on-chain
status, fee bumps of a stuck transaction, adopting a transaction sent before a restart."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from web3 import Web3

from ponos.aggregator.submitter import Submitter
from ponos.chain.rpc import JsonRpcClient
from ponos.chain.types import TaskStatus
from ponos.config.aggregator import SubmitterConfig
from ponos.crypto import messages
from ponos.crypto.certificates import encode_ecdsa_certificate
from ponos.crypto.ecdsa import EcdsaPrivateKey
from ponos.devnet.client import CreatedTask
from tests.aggregator.conftest import events
from tests.support.cluster import wait_until

pytestmark = [pytest.mark.devnet, pytest.mark.asyncio(loop_factories=["uvloop"])]

RESULT = b"0x10"


class Harness:
    def __init__(self, devnet, **config) -> None:
        self.devnet = devnet
        self.rpc = JsonRpcClient(devnet.rpc_url, timeout=5)
        deployment = devnet.deployment
        self.recorded: list[tuple[str, str]] = []
        self.submitter = Submitter(
            self.rpc,
            deployment.contracts["TaskMailbox"],
            EcdsaPrivateKey.from_hex(deployment.aggregator.private_key),
            31337,
            SubmitterConfig(**config),
            record_tx=self._record,
        )

    async def _record(self, task_id: str, tx_hash: str) -> None:
        self.recorded.append((task_id, tx_hash))

    async def close(self) -> None:
        await self.submitter.close()
        await self.rpc.close()


def sender_nonce(devnet, block: str = "latest") -> int:
    address = Web3.to_checksum_address(devnet.deployment.aggregator.address)
    return devnet.client.w3.eth.get_transaction_count(address, block)


def certify(devnet, task: CreatedTask) -> bytes:
    """An ECDSA certificate signed by executors 0 and 1 (2/3 of the weight)."""
    verifier = devnet.client.contract("ECDSACertificateVerifier")
    separator = bytes(verifier.functions.domainSeparator().call())
    message_hash = messages.message_hash(RESULT)
    ts = task.event.reference_timestamp
    digest = messages.ecdsa_certificate_digest(separator, ts, message_hash)
    signatures = {}
    for op in devnet.deployment.executors[:2]:
        key = EcdsaPrivateKey.from_hex(op.ecdsa.private_key)
        signatures[key.address] = key.sign(digest)
    return encode_ecdsa_certificate(ts, message_hash, signatures, digest=digest)


async def ready_tasks(devnet, count: int) -> list[tuple[CreatedTask, bytes]]:
    tasks = [
        await asyncio.to_thread(devnet.client.create_task, bytes([i + 1])) for i in range(count)
    ]
    await asyncio.to_thread(devnet.client.increase_time, 1)  # past the creation second
    return [(t, certify(devnet, t)) for t in tasks]


@pytest.fixture
async def harness(devnet):
    devnet.anvil.rpc("evm_setAutomine", [True])
    h = Harness(devnet, fee_bump_after=1.0, max_fee_bumps=3)
    yield h
    await h.close()
    devnet.anvil.rpc("evm_setAutomine", [True])


async def test_concurrent_submissions_take_distinct_nonces_and_all_land(devnet, harness):
    tasks = await ready_tasks(devnet, 8)
    before = sender_nonce(devnet)
    deadline = time.time() + 60
    outcomes = await asyncio.gather(
        *(harness.submitter.submit(t.task_hash, cert, RESULT, deadline) for t, cert in tasks)
    )
    assert [o.status for o in outcomes] == ["verified"] * 8
    assert all(o.by_us for o in outcomes)
    assert sender_nonce(devnet) == before + 8
    nonces = sorted(devnet.client.w3.eth.get_transaction(o.tx_hash)["nonce"] for o in outcomes)
    assert nonces == list(range(before, before + 8))
    for task, _cert in tasks:
        assert devnet.client.task_status(task.task_hash) == TaskStatus.VERIFIED


async def test_an_already_verified_task_is_done_without_another_transaction(devnet, harness):
    [(task, cert)] = await ready_tasks(devnet, 1)
    deadline = time.time() + 60
    first = await harness.submitter.submit(task.task_hash, cert, RESULT, deadline)
    assert first.status == "verified" and first.by_us
    before = sender_nonce(devnet)
    again = await harness.submitter.submit(task.task_hash, cert, RESULT, deadline)
    assert (again.status, again.reason, again.by_us) == (
        "verified",
        "already verified on chain",
        False,
    )
    assert sender_nonce(devnet) == before


async def test_a_stuck_transaction_gets_its_fees_raised_and_the_replacement_lands(
    devnet, harness, logs
):
    [(task, cert)] = await ready_tasks(devnet, 1)
    devnet.anvil.rpc("evm_setAutomine", [False])  # nothing is mined until we say so
    before = sender_nonce(devnet)
    fees: list[tuple[int, int]] = []
    real_fees = harness.submitter._fees

    async def recording_fees(bump: int) -> tuple[int, int]:
        fees.append(await real_fees(bump))
        return fees[-1]

    harness.submitter._fees = recording_fees
    submission = asyncio.create_task(
        harness.submitter.submit(task.task_hash, cert, RESULT, time.time() + 60)
    )
    await wait_until(lambda: len(harness.recorded) >= 3, 20, what="two fee bumps")
    for (cap, tip), (next_cap, next_tip) in itertools.pairwise(fees[:3]):
        assert next_cap >= cap * 1.1 and next_tip >= tip * 1.1  # the node's replacement rule
    devnet.anvil.rpc("evm_mine")
    outcome = await asyncio.wait_for(submission, 20)
    assert outcome.status == "verified"
    assert outcome.tx_hash == harness.recorded[-1][1]  # the last replacement was mined
    assert sender_nonce(devnet) == before + 1  # replacements share one nonce
    assert len(events(logs, "Raised fees of a stuck submitResult")) >= 2


async def test_a_transaction_sent_before_a_restart_is_adopted_not_sent_again(devnet, harness, logs):
    [(task, cert)] = await ready_tasks(devnet, 1)
    devnet.anvil.rpc("evm_setAutomine", [False])
    before = sender_nonce(devnet)
    crashed = asyncio.create_task(
        harness.submitter.submit(task.task_hash, cert, RESULT, time.time() + 60)
    )
    await wait_until(lambda: harness.recorded, 20, what="a transaction sent")
    crashed.cancel()  # the process dies with the transaction in the mempool
    [(_task_id, tx_hash)] = harness.recorded
    restarted = Harness(devnet, fee_bump_after=30.0)
    try:
        resumed = asyncio.create_task(
            restarted.submitter.submit(
                task.task_hash, cert, RESULT, time.time() + 60, known_tx=tx_hash
            )
        )
        await wait_until(
            lambda: events(logs, "Waiting for a transaction sent before a restart"),
            20,
            what="the recorded transaction adopted",
        )
        devnet.anvil.rpc("evm_mine")
        outcome = await asyncio.wait_for(resumed, 20)
    finally:
        await restarted.close()
    assert (outcome.status, outcome.tx_hash) == ("verified", tx_hash)
    assert restarted.recorded == []  # nothing new was signed or sent
    assert sender_nonce(devnet) == before + 1


async def test_a_task_expired_on_chain_ends_expired_without_a_transaction(devnet, harness):
    [(task, cert)] = await ready_tasks(devnet, 1)
    await asyncio.to_thread(devnet.client.increase_time, 120)  # past the 60 s task SLA
    before = sender_nonce(devnet)
    outcome = await harness.submitter.submit(task.task_hash, cert, RESULT, time.time() + 60)
    assert outcome.status == "expired"
    assert sender_nonce(devnet) == before
