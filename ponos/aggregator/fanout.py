"""Fan a task out to its executors and collect signed results until enough stake agrees.

Each executor gets its own TaskSubmission, signed by the aggregator over the task id, AVS,
that executor's address, operator set, reference timestamp, block and payload hash
(docs/protocol.md), so a submission cannot be replayed to another executor or task. Calls run
concurrently, each with a per-call timeout, retried with backoff until the task's deadline.
A response counts only after it is validated: it names this task and the operator we called,
its result is within the size limit, and both its result signature (over the digest we
compute ourselves from the result) and its auth signature verify against the operator's
registered key. As soon as one result digest holds enough weight, outstanding calls are
cancelled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor as PoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc

from ponos import log
from ponos.aggregator.consensus import Consensus, Decision
from ponos.aggregator.context import Executor, OperatorSetContext
from ponos.aggregator.executor_client import ExecutorClients
from ponos.config.aggregator import ExecutorClientConfig
from ponos.crypto import messages
from ponos.crypto.errors import CryptoError
from ponos.crypto.signer import Signer, verify_bn254, verify_ecdsa
from ponos.pb import executor_pb2
from ponos.storage.records import TaskRecord

logger = log.get_logger(__name__)

SUBMISSION_VERSION = 1
_MAX_BACKOFF = 10.0


class InvalidResponse(Exception):
    """The executor answered, but the answer cannot count."""


@dataclass(frozen=True)
class SignedResult:
    operator: str
    output: bytes
    message_hash: bytes
    digest: bytes
    signature: bytes


@dataclass
class FanoutOutcome:
    decision: Decision
    results: dict[str, SignedResult] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    impossible: bool = False

    def winners(self) -> list[SignedResult]:
        return [self.results[op] for op in self.decision.signers]


class Fanout:
    def __init__(
        self,
        clients: ExecutorClients,
        aggregator_address: str,
        signer_for: Callable[[str], Signer],
        domain_separator: Callable[[int], Awaitable[bytes]],
        config: ExecutorClientConfig,
        crypto_pool: PoolExecutor | None = None,
    ) -> None:
        self.clients = clients
        self.aggregator = aggregator_address.lower()
        self.signer_for = signer_for
        self.domain_separator = domain_separator
        self.config = config
        self._pool = crypto_pool

    async def _crypto(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def run(
        self, task: TaskRecord, ctx: OperatorSetContext, deadline: float
    ) -> FanoutOutcome:
        consensus = Consensus(ctx.weights, ctx.threshold_bips, total=ctx.total_weight)
        outcome = FanoutOutcome(consensus.decision())
        separator = await self.domain_separator(task.chain_id) if ctx.curve == "ecdsa" else b""
        signer = self.signer_for(ctx.aggregator_curve)
        calls = {
            asyncio.create_task(
                self._call(task, ctx, executor, signer, separator, deadline, outcome)
            ): executor
            for executor in ctx.executors
        }
        pending = set(calls)
        try:
            while pending:
                remaining = deadline - time.time()
                if remaining <= 0:
                    break
                done, pending = await asyncio.wait(
                    pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                for call in done:
                    result = call.result() if not call.cancelled() else None
                    if result is None:
                        continue
                    outcome.results[result.operator] = result
                    outcome.decision = consensus.add(result.operator, result.message_hash)
                if outcome.decision.met:
                    break
                if not consensus.can_still_reach():
                    outcome.impossible = True
                    break
        finally:
            for call in pending:
                call.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        return outcome

    async def _call(
        self,
        task: TaskRecord,
        ctx: OperatorSetContext,
        executor: Executor,
        signer: Signer,
        separator: bytes,
        deadline: float,
        outcome: FanoutOutcome,
    ) -> SignedResult | None:
        digest = messages.task_submission_digest(
            task.task_id,
            task.avs_address,
            executor.operator,
            task.operator_set_id,
            task.reference_timestamp,
            task.block_number,
            task.payload,
        )
        signature = await self._crypto(signer.sign_digest, digest)
        submission = executor_pb2.TaskSubmission(
            task_id=task.task_id,
            aggregator_address=self.aggregator,
            avs_address=task.avs_address,
            payload=task.payload,
            signature=signature,
            operator_set_id=task.operator_set_id,
            reference_timestamp=task.reference_timestamp,
            executor_address=executor.operator,
            task_block_number=task.block_number,
            version=SUBMISSION_VERSION,
        )
        attempt = 0
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                return None
            try:
                reply = await self.clients.submit(
                    executor.socket, submission, timeout=min(self.config.call_timeout, remaining)
                )
            except grpc.aio.AioRpcError as exc:
                outcome.failures[executor.operator] = f"{exc.code().name}: {exc.details()}"
                if attempt == 0 or exc.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                ):
                    logger.warning(
                        "Executor call failed",
                        task_id=task.task_id,
                        operator=executor.operator,
                        code=exc.code().name,
                        detail=exc.details(),
                    )
                attempt += 1
                delay = min(_MAX_BACKOFF, self.config.retry_interval * 2 ** min(attempt, 6))
                await asyncio.sleep(min(delay, max(0.0, deadline - time.time())))
                continue
            try:
                return await self._validate(task, ctx, executor, separator, reply)
            except InvalidResponse as exc:
                outcome.failures[executor.operator] = f"invalid response: {exc}"
                logger.warning(
                    "Rejected executor response",
                    task_id=task.task_id,
                    operator=executor.operator,
                    reason=str(exc),
                )
                return None

    async def _validate(
        self, task: TaskRecord, ctx: OperatorSetContext, executor: Executor, separator: bytes, reply
    ) -> SignedResult:
        if reply.task_id.lower() != task.task_id:
            raise InvalidResponse(f"answer is for task {reply.task_id}")
        if reply.operator_address.lower() != executor.operator:
            raise InvalidResponse(f"answer is signed as operator {reply.operator_address}")
        if reply.operator_set_id not in (0, task.operator_set_id):
            raise InvalidResponse(f"answer names operator set {reply.operator_set_id}")
        if len(reply.output) > self.config.max_result_bytes:
            raise InvalidResponse(
                f"result is {len(reply.output)} bytes, over {self.config.max_result_bytes}"
            )
        message_hash = messages.message_hash(reply.output)
        if ctx.curve == "ecdsa":
            digest = messages.ecdsa_certificate_digest(
                separator, task.reference_timestamp, message_hash
            )
        else:
            digest = messages.bn254_certificate_digest(task.reference_timestamp, message_hash)
        if reply.output_digest and reply.output_digest != digest:
            raise InvalidResponse("output_digest is not the digest of the result")
        if not reply.auth_signature:
            raise InvalidResponse("missing auth_signature")
        auth_digest = messages.result_auth_digest(
            task.task_id, task.avs_address, executor.operator, task.operator_set_id, reply.signature
        )
        try:
            if ctx.curve == "ecdsa":
                await self._crypto(verify_ecdsa, digest, reply.signature, executor.ecdsa_address)
                await self._crypto(
                    verify_ecdsa, auth_digest, reply.auth_signature, executor.ecdsa_address
                )
            else:
                await self._crypto(verify_bn254, digest, reply.signature, executor.g2)
                await self._crypto(verify_bn254, auth_digest, reply.auth_signature, executor.g2)
        except CryptoError as exc:
            raise InvalidResponse(f"signature does not verify: {exc.message}") from None
        return SignedResult(
            executor.operator, bytes(reply.output), message_hash, digest, bytes(reply.signature)
        )
