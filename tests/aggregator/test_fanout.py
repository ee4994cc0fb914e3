"""Fan-out over real gRPC to in-process executors that misbehave on purpose (answers for the
wrong task or operator, bad signatures, oversized results, hangs): faults a real executor does
not produce, so small fake executor servers stand in for them. Results count only after
validation; outstanding calls are cancelled once the threshold is met; hung calls are retried
until the deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc
import pytest

from ponos.aggregator.context import Executor, OperatorSetContext
from ponos.aggregator.executor_client import ExecutorClients
from ponos.aggregator.fanout import Fanout
from ponos.config.aggregator import ExecutorClientConfig
from ponos.crypto import messages
from ponos.crypto.ecdsa import EcdsaPrivateKey, verify
from ponos.crypto.signer import EcdsaSigner
from ponos.pb import executor_pb2, executor_pb2_grpc
from ponos.storage.records import TaskRecord

AVS = "0x" + "a1" * 20
SEPARATOR = bytes(range(32))
TASK = TaskRecord(
    task_id="0x" + "42" * 32,
    avs_address=AVS,
    chain_id=31337,
    block_number=77,
    block_hash="0x" + "07" * 32,
    log_index=0,
    operator_set_id=1,
    reference_timestamp=1_700_000_000,
    deadline=0,
    payload=b"\x04",
    creator=AVS,
)
AGGREGATOR_KEY = EcdsaPrivateKey.generate()

Behaviour = Callable[
    ["FakeExecutor", executor_pb2.TaskSubmission], Awaitable[executor_pb2.TaskResult]
]


@dataclass
class FakeExecutor:
    operator: EcdsaPrivateKey  # its address is the operator address
    signing: EcdsaPrivateKey  # the registered ECDSA signing key
    behaviour: Behaviour
    port: int = 0
    calls: int = 0
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    submissions_verified: int = 0
    server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        return self.operator.address.lower()

    def answer(self, request, result: bytes, **overrides) -> executor_pb2.TaskResult:
        """An honest answer with `result`, with fields optionally overridden."""
        digest = messages.ecdsa_certificate_digest(
            SEPARATOR, request.reference_timestamp, messages.message_hash(result)
        )
        signature = self.signing.sign(digest)
        auth = messages.result_auth_digest(
            request.task_id, request.avs_address, self.address, request.operator_set_id, signature
        )
        fields = {
            "task_id": request.task_id,
            "operator_address": self.address,
            "output": result,
            "signature": signature,
            "avs_address": request.avs_address,
            "operator_set_id": request.operator_set_id,
            "output_digest": digest,
            "version": 1,
            "auth_signature": self.signing.sign(auth),
        }
        fields.update(overrides)
        return executor_pb2.TaskResult(**fields)


class _Servicer(executor_pb2_grpc.ExecutorServiceServicer):
    def __init__(self, fake: FakeExecutor) -> None:
        self.fake = fake

    async def SubmitTask(self, request, context):
        fake = self.fake
        fake.calls += 1
        digest = messages.task_submission_digest(
            request.task_id,
            request.avs_address,
            request.executor_address,
            request.operator_set_id,
            request.reference_timestamp,
            request.task_block_number,
            request.payload,
        )
        verify(digest, request.signature, AGGREGATOR_KEY.address)  # raises if not signed
        if request.executor_address.lower() == fake.address:
            fake.submissions_verified += 1
        try:
            return await fake.behaviour(fake, request)
        except asyncio.CancelledError:
            fake.cancelled.set()
            raise


async def honest(fake: FakeExecutor, request) -> executor_pb2.TaskResult:
    return fake.answer(request, b"0x10")


def slow(seconds: float, then: Behaviour = honest) -> Behaviour:
    async def behaviour(fake, request):
        await asyncio.sleep(seconds)
        return await then(fake, request)

    return behaviour


def says(output: bytes) -> Behaviour:
    async def behaviour(fake, request):
        return fake.answer(request, output)

    return behaviour


async def start_fakes(behaviours: list[Behaviour]) -> list[FakeExecutor]:
    fakes = []
    for behaviour in behaviours:
        fake = FakeExecutor(EcdsaPrivateKey.generate(), EcdsaPrivateKey.generate(), behaviour)
        server = grpc.aio.server()
        executor_pb2_grpc.add_ExecutorServiceServicer_to_server(_Servicer(fake), server)
        fake.port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        fake.server = server
        fakes.append(fake)
    return fakes


def context(fakes: list[FakeExecutor], sockets: list[str] | None = None) -> OperatorSetContext:
    executors = tuple(
        Executor(
            f.address,
            sockets[i] if sockets else f"127.0.0.1:{f.port}",
            100,
            ecdsa_address=f.signing.address.lower(),
        )
        for i, f in enumerate(fakes)
    )
    return OperatorSetContext(
        AVS, 1, TASK.reference_timestamp, "ecdsa", 6667, executors, 300, "ecdsa"
    )


@pytest.fixture
async def fanout():
    clients = ExecutorClients()

    async def separator(_chain_id: int) -> bytes:
        return SEPARATOR

    yield Fanout(
        clients,
        "0x" + "ab" * 20,
        lambda _curve: EcdsaSigner(AGGREGATOR_KEY),
        separator,
        ExecutorClientConfig(call_timeout=0.5, retry_interval=0.05, max_result_bytes=64),
    )
    await clients.close()


@pytest.fixture
async def servers():
    started: list[FakeExecutor] = []

    async def start(behaviours: list[Behaviour]) -> list[FakeExecutor]:
        fakes = await start_fakes(behaviours)
        started.extend(fakes)
        return fakes

    yield start
    for fake in started:
        await fake.server.stop(0)


TAMPERING = {
    "answer for another task": lambda f, r: f.answer(r, b"0x10", task_id="0x" + "43" * 32),
    "answer as another operator": lambda f, r: f.answer(
        r, b"0x10", operator_address="0x" + "cd" * 20
    ),
    "signature by another key": lambda f, r: f.answer(
        r, b"0x10", signature=EcdsaPrivateKey.generate().sign(bytes(32))
    ),
    "digest of another result": lambda f, r: f.answer(r, b"0x10", output=b"0x11"),
    "no auth signature": lambda f, r: f.answer(r, b"0x10", auth_signature=b""),
    "auth signature over another task": lambda f, r: f.answer(
        r, b"0x10", auth_signature=f.signing.sign(bytes(32))
    ),
    "result over the size limit": lambda f, r: f.answer(r, b"x" * 65),
    "another operator set": lambda f, r: f.answer(r, b"0x10", operator_set_id=9),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERING))
async def test_an_answer_counts_only_after_validation(fanout, servers, tampering):
    async def tampered(fake, request):
        return TAMPERING[tampering](fake, request)

    fakes = await servers([honest, tampered, slow(0.3)])
    outcome = await fanout.run(TASK, context(fakes), time.time() + 10)
    assert outcome.decision.met
    assert set(outcome.decision.signers) == {fakes[0].address, fakes[2].address}
    assert fakes[1].address not in outcome.results
    assert outcome.failures[fakes[1].address].startswith("invalid response")


async def test_each_executor_gets_its_own_signed_submission(fanout, servers):
    fakes = await servers([honest, honest, honest])
    outcome = await fanout.run(TASK, context(fakes), time.time() + 10)
    assert outcome.decision.met
    answered = [f for f in fakes if f.calls]
    assert answered and all(f.submissions_verified == f.calls for f in answered)


async def test_outstanding_calls_are_cancelled_once_enough_stake_agrees(fanout, servers):
    fakes = await servers([honest, honest, slow(60)])
    outcome = await fanout.run(TASK, context(fakes), time.time() + 30)
    assert outcome.decision.met and outcome.decision.weight == 200
    await asyncio.wait_for(fakes[2].cancelled.wait(), 10)  # the server saw the cancellation


async def test_a_hung_call_times_out_and_is_retried_until_it_answers(fanout, servers):
    async def hangs_once(fake, request):
        if fake.calls == 1:
            await asyncio.sleep(5)  # beyond the 0.5 s call timeout
        return fake.answer(request, b"0x10")

    fakes = await servers([honest, hangs_once])
    # The third operator is down: nothing listens on its socket.
    down = await servers([honest])
    await down[0].server.stop(0)
    ctx = context([*fakes, down[0]])
    outcome = await fanout.run(TASK, ctx, time.time() + 20)
    assert outcome.decision.met
    assert set(outcome.decision.signers) == {fakes[0].address, fakes[1].address}
    assert fakes[1].calls >= 2
    assert "UNAVAILABLE" in outcome.failures[down[0].address]


async def test_disagreement_that_can_never_reach_the_threshold_ends_early(fanout, servers):
    fakes = await servers([says(b"a"), says(b"b"), says(b"c")])
    outcome = await fanout.run(TASK, context(fakes), time.time() + 30)
    assert not outcome.decision.met
    assert outcome.impossible
    assert len(outcome.results) == 3


async def test_nobody_answering_by_the_deadline_is_not_met(fanout, servers):
    fakes = await servers([slow(60), slow(60), slow(60)])
    outcome = await fanout.run(TASK, context(fakes), time.time() + 1.0)
    assert not outcome.decision.met and not outcome.impossible
    assert outcome.results == {}
