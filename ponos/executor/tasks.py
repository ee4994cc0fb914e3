"""SubmitTask: validate, authenticate, run once, sign, remember.

Order matters:
1. syntax of every field (validation.py) and a known AVS;
2. the aggregator's signature against its key read from chain at the task's block, and our
   own membership in the task's executor operator set;
3. a task id already answered returns the stored answer (same result, same signatures): an
   aggregator that restarted mid-task gets exactly what it got before, never a refusal and
   never a second execution; concurrent duplicates share one execution;
4. the in-flight record is stored (its fsync overlapping the performer call), the performer
   runs the task under a deadline (the caller's, capped by `tasks.maxTimeout`), the result
   is size-checked and signed, and the processed record replaces the in-flight one in one
   atomic, fsynced write before we answer: an answer given is never forgotten, so a
   performer that is not deterministic can never get two different results signed.

An execution is a task of its own, shared by every caller waiting for that task id: a caller
that disconnects does not cancel it, and its stored result answers the next resubmission.
Processed records expire after the task's SLA plus `tasks.processedRetentionMargin`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from typing import Any, TypeVar

import grpc

from ponos import log
from ponos.config.executor import TaskLimitsConfig
from ponos.crypto import messages
from ponos.crypto.errors import CryptoError
from ponos.crypto.signer import OperatorSigners, Signer, verify_bn254, verify_ecdsa
from ponos.executor import validation
from ponos.executor.chainview import ExecutorChainView
from ponos.executor.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    RpcError,
    Unauthenticated,
    Unavailable,
)
from ponos.executor.performers.errors import PerformerCallFailed
from ponos.executor.performers.manager import PerformerManager
from ponos.pb import executor_pb2
from ponos.storage.errors import RecordNotFound, StoreClosed
from ponos.storage.executor_store import ExecutorStore
from ponos.storage.records import InflightTask, ProcessedTask

logger = log.get_logger(__name__)
# structlog drops a debug event only after building it (~10 µs); the stdlib level check is cached.
_debug_enabled = logging.getLogger(__name__).isEnabledFor

T = TypeVar("T")

RESULT_VERSION = 1
_DEADLINE_MARGIN = 0.25  # seconds kept to sign, store and answer before the caller gives up


def result_message(record: ProcessedTask) -> executor_pb2.TaskResult:
    return executor_pb2.TaskResult(
        task_id=record.task_id,
        operator_address=record.operator_address,
        output=record.output,
        signature=record.signature,
        avs_address=record.avs_address,
        operator_set_id=record.operator_set_id,
        output_digest=record.output_digest,
        version=RESULT_VERSION,
        auth_signature=record.auth_signature,
    )


class TaskRunner:
    def __init__(
        self,
        *,
        operator_address: str,
        limits: TaskLimitsConfig,
        store: ExecutorStore,
        performers: PerformerManager,
        signers: OperatorSigners,
        chain: ExecutorChainView,
        crypto_pool: Executor | None = None,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        self.operator = operator_address.lower()
        self.limits = limits
        self.store = store
        self.performers = performers
        self.signers = signers
        self.chain = chain
        self._pool = crypto_pool
        self._observe = observe
        self._running: dict[str, asyncio.Future[ProcessedTask]] = {}  # task id -> execution
        self._loop: asyncio.AbstractEventLoop | None = None  # bound on first use
        self.accepting = True

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """`loop.create_task` on the loop bound at first use: `asyncio.ensure_future` looks
        the loop up each time, and on Python 3.11 that lookup is a getpid() system call."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop.create_task(coro)

    async def _crypto(self, fn: Callable[..., Any], *args: Any) -> Any:
        """BN254 pairings and signatures (about 1 ms) go to the crypto threads."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def submit(self, request, context) -> executor_pb2.TaskResult:
        if not self.accepting:
            raise Unavailable("executor is shutting down; submit to it again once it is back")
        fields = validation.submission(request, self.operator)
        task_id, avs = fields["task_id"], fields["avs_address"]
        if not self.performers.known(avs):
            raise NotFound(f"no performer for AVS {avs} on this executor")
        await self._authenticate(fields, request)
        stored = self.store.get_processed(task_id)
        if stored is not None:
            self._check_same_task(stored, avs, request.operator_set_id)
            logger.debug("Returning stored result for an answered task", task_id=task_id)
            self._record("replayed", 0.0)
            return result_message(stored)
        running = self._running.get(task_id)
        if running is None:
            # The execution is its own task, not part of this call: a caller that goes away
            # does not cancel it (its deadline still bounds it), concurrent duplicates share
            # it, and its stored result answers later resubmissions.
            timeout = self._timeout(context)
            running = self._spawn(self._execute(fields, request, timeout))
            self._running[task_id] = running
            running.add_done_callback(functools.partial(self._finished, task_id))
        record = await asyncio.shield(running)
        self._check_same_task(record, avs, request.operator_set_id)
        return result_message(record)

    def _finished(self, task_id: str, task: asyncio.Future[ProcessedTask]) -> None:
        if self._running.get(task_id) is task:
            del self._running[task_id]
        if not task.cancelled():
            task.exception()  # retrieved here; callers that wait re-raise it themselves

    @staticmethod
    def _check_same_task(record: ProcessedTask, avs: str, operator_set_id: int) -> None:
        if record.avs_address != avs or record.operator_set_id != operator_set_id:
            raise InvalidArgument("task_id was already answered for another AVS or operator set")

    async def _authenticate(self, fields: dict[str, Any], request) -> None:
        avs, block = fields["avs_address"], request.task_block_number
        aggregator = fields["aggregator_address"]
        key = await self.chain.aggregator_key(avs, aggregator, block)
        digest = messages.task_submission_digest(
            fields["task_id"],
            avs,
            self.operator,
            request.operator_set_id,
            request.reference_timestamp,
            block,
            request.payload,
        )
        try:
            if key.curve == "ecdsa":
                # ~0.2 ms inline: cheaper than a thread hand-off, which under load costs
                # more in GIL contention than the recovery itself (bench/executor.py).
                verify_ecdsa(digest, request.signature, key.ecdsa_address)
            else:
                await self._crypto(verify_bn254, digest, request.signature, key.bn254_g2)
        except CryptoError:
            raise Unauthenticated(
                f"the task signature does not verify against aggregator {aggregator}'s key"
            ) from None
        if not await self.chain.is_member(avs, request.operator_set_id, self.operator, block):
            raise PermissionDenied(
                f"operator {self.operator} is not in operator set {request.operator_set_id} "
                f"of AVS {avs} at block {block}"
            )

    def _timeout(self, context) -> float:
        remaining = context.time_remaining() if context is not None else None
        if remaining is None:
            return min(self.limits.default_timeout, self.limits.max_timeout)
        if remaining <= _DEADLINE_MARGIN:
            raise RpcError(
                "the caller's deadline leaves no time to run the task",
                grpc.StatusCode.DEADLINE_EXCEEDED,
            )
        return min(remaining - _DEADLINE_MARGIN, self.limits.max_timeout)

    async def _execute(self, fields: dict[str, Any], request, timeout: float) -> ProcessedTask:
        task_id, avs = fields["task_id"], fields["avs_address"]
        opset, ref_ts, block = (
            request.operator_set_id,
            request.reference_timestamp,
            request.task_block_number,
        )
        started = time.time()
        # The in-flight record's fsync overlaps the performer call (one fsync less on the
        # task's latency); it is durable before the answer is signed and stored.
        saving = self._spawn(
            self.store.save_inflight(
                InflightTask(
                    task_id, avs, opset, fields["aggregator_address"], started, started + timeout
                )
            )
        )
        try:
            echoed, output = await self.performers.run_task(avs, task_id, request.payload, timeout)
            if echoed and echoed != task_id.encode():
                raise RpcError(
                    "the performer answered for another task id", grpc.StatusCode.INTERNAL
                )
            if len(output) > self.limits.max_result_bytes:
                raise ResourceExhausted(
                    f"the performer's result is {len(output)} bytes, over the limit of "
                    f"{self.limits.max_result_bytes} bytes (tasks.maxResultBytes)"
                )
            record = await self._sign(task_id, avs, opset, ref_ts, block, output)
            # Signing overlaps the in-flight record's fsync too; that record is durable (and
            # its save succeeded) before the processed record replaces it.
            await saving
        except BaseException as exc:
            # The save must land before the delete, or it would leave a stale record.
            await asyncio.wait([saving])
            if not saving.cancelled():
                saving.exception()
            with contextlib.suppress(RecordNotFound, StoreClosed):
                await self.store.delete_inflight(task_id)
            if isinstance(exc, PerformerCallFailed):
                logger.warning("Task failed on the performer", task_id=task_id, error=exc.message)
            self._record("failed", time.time() - started)
            raise
        await self.store.complete_task(record)
        self._record("completed", time.time() - started)
        # Debug, not info: one line per task costs ~7% of the executor's CPU at full load;
        # task counts and latencies are metrics (the `observe` hook).
        if _debug_enabled(logging.DEBUG):
            logger.debug(
                "Task completed",
                task_id=task_id,
                avs=avs,
                took_ms=round((time.time() - started) * 1000, 1),
            )
        return record

    async def _sign(
        self, task_id: str, avs: str, opset: int, ref_ts: int, block: int, output: bytes
    ) -> ProcessedTask:
        curve = await self.chain.curve(avs, opset, block)
        try:
            signer = self.signers.for_curve(curve)
        except CryptoError as exc:
            raise FailedPrecondition(str(exc)) from None
        message_hash = messages.message_hash(output)
        if curve == "ecdsa":
            separator = await self.chain.ecdsa_domain_separator()
            digest = messages.ecdsa_certificate_digest(separator, ref_ts, message_hash)
        else:
            digest = messages.bn254_certificate_digest(ref_ts, message_hash)
        if curve == "ecdsa":  # two ~40 µs signatures: inline (see _authenticate)
            signature = signer.sign_digest(digest)
            auth_digest = messages.result_auth_digest(task_id, avs, self.operator, opset, signature)
            auth_signature = signer.sign_digest(auth_digest)
        else:
            signature, auth_signature = await self._crypto(
                self._sign_bn254, signer, digest, task_id, avs, opset
            )
        now = time.time()
        sla = await self.chain.task_sla(avs, opset)
        return ProcessedTask(
            task_id=task_id,
            avs_address=avs,
            operator_set_id=opset,
            operator_address=self.operator,
            output=output,
            signature=signature,
            output_digest=digest,
            auth_signature=auth_signature,
            processed_at=now,
            expires_at=now + sla + self.limits.processed_retention_margin,
        )

    def _sign_bn254(
        self, signer: Signer, digest: bytes, task_id: str, avs: str, opset: int
    ) -> tuple[bytes, bytes]:
        """Both BN254 signatures in one trip to a crypto thread."""
        signature = signer.sign_digest(digest)
        auth_digest = messages.result_auth_digest(task_id, avs, self.operator, opset, signature)
        return signature, signer.sign_digest(auth_digest)

    def _record(self, outcome: str, seconds: float) -> None:
        if self._observe is not None:
            self._observe(outcome, seconds)

    def is_running(self, task_id: str) -> bool:
        return task_id in self._running

    async def cancel_running(self) -> None:
        """Cancel executions still running (shutdown after the grace period)."""
        pending = list(self._running.values())
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    @property
    def running(self) -> int:
        """Tasks executing right now (each counted once, however many callers wait)."""
        return len(self._running)

    async def drain(self, timeout: float) -> bool:
        """Wait for running tasks (shutdown): True if all finished within `timeout`."""
        pending = [f for f in self._running.values() if not f.done()]
        if not pending:
            return True
        _done, still = await asyncio.wait(pending, timeout=timeout)
        return not still
