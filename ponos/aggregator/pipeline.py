"""The task pipeline: every stored task, from pending to a terminal state, concurrently.

Each task is already stored `pending` (by the poller, before any network call). Here it moves
to `processing`, is fanned out to its executors, certified and submitted, and ends
`completed`, `failed` or `expired` with the reason. Tasks run concurrently across AVSs and
within one (bounded by `maxConcurrentTasks`); a reorg cancels the tasks of orphaned blocks.
The certificate and result are stored before submission, so a restart resumes at the
submission without asking the executors again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable

import aiohttp
from web3.exceptions import Web3Exception

from ponos import log
from ponos.aggregator.certificate import CertificateError, build_certificate
from ponos.aggregator.context import ContextError, ContextUnavailable, OperatorSetReader
from ponos.aggregator.fanout import Fanout, FanoutOutcome
from ponos.aggregator.submitter import DEADLINE_GRACE, Submitter
from ponos.chain.errors import ChainError
from ponos.chain.types import TaskStatus as ChainStatus
from ponos.errors import PonosError
from ponos.storage.aggregator_store import AggregatorStore
from ponos.storage.errors import InvalidTransition, RecordNotFound
from ponos.storage.records import TaskRecord
from ponos.storage.status import TaskStatus

logger = log.get_logger(__name__)

TERMINAL = {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.EXPIRED}
_INVALIDATING = (
    "ThresholdNotMet",
    "VerificationFailed",
    "InvalidReferenceTimestamp",
    "InvalidOperatorIndex",
)


RECHECK_SLACK = 60.0  # seconds: clock skew between our clock and block timestamps

# Failures that retrying can fix: the node is down, slow, rate-limiting or lagging.
_TRANSIENT = (ChainError, Web3Exception, aiohttp.ClientError, OSError, TimeoutError)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PonosError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def _who_answered(outcome: FanoutOutcome) -> str:
    answered = sorted(outcome.results)
    failed = {op: why for op, why in outcome.failures.items() if op not in outcome.results}
    parts = [f"answered: {', '.join(answered) or 'nobody'}"]
    if failed:
        parts.append("failed: " + "; ".join(f"{op} ({why})" for op, why in sorted(failed.items())))
    return ", ".join(parts)


class TaskPipeline:
    def __init__(
        self,
        store: AggregatorStore,
        contexts: OperatorSetReader,
        fanout: Fanout,
        submitters: dict[int, Submitter],
        max_concurrent: int = 256,
        on_outcome: Callable[[str, float], None] | None = None,
    ) -> None:
        self.store = store
        self.contexts = contexts
        self.fanout = fanout
        self.submitters = submitters
        self._slots = asyncio.Semaphore(max_concurrent)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._on_outcome = on_outcome

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def enqueue(self, tasks: list[TaskRecord]) -> None:
        for task in tasks:
            if task.task_id not in self._running:
                self._track(
                    task.task_id,
                    asyncio.create_task(self._run(task.task_id), name=f"task:{task.task_id[:10]}"),
                )

    def _track(self, task_id: str, runner: asyncio.Task[None]) -> None:
        self._running[task_id] = runner

        def forget(done: asyncio.Task[None]) -> None:
            # A cancelled runner may finish after a new one took its place (reorg, re-found).
            if self._running.get(task_id) is done:
                del self._running[task_id]

        runner.add_done_callback(forget)

    async def cancel(self, tasks: list[TaskRecord]) -> None:
        """Tasks removed by a reorg: stop working on them (their records are gone)."""
        for task in tasks:
            runner = self._running.pop(task.task_id, None)
            if runner is not None:
                runner.cancel()
                logger.info("Cancelled task from an orphaned block", task_id=task.task_id)

    async def recheck_completed(self, chain_id: int, since: float) -> None:
        """A reorg can orphan the block whose transaction verified a task while leaving the
        task itself in place: on chain it is CREATED again, in storage it is completed.
        Completed tasks of `chain_id` settled since `since` (unix time) have their on-chain
        status read again, and those no longer VERIFIED get their stored certificate
        submitted again. Runs after every reorg and at start-up (a crash may have
        interrupted a previous re-submission)."""
        submitter = self.submitters.get(chain_id)
        if submitter is None:
            return
        submitter.nonces.resync()  # our transactions in orphaned blocks freed their nonces
        candidates = [
            t
            for t in self.store.list_tasks(TaskStatus.COMPLETED)
            if t.chain_id == chain_id
            and t.updated_at >= since - RECHECK_SLACK
            and t.certificate is not None
            and t.task_id not in self._running
        ]
        for task in candidates:
            self._track(
                task.task_id,
                asyncio.create_task(
                    self._resubmit(submitter, task), name=f"recheck:{task.task_id[:10]}"
                ),
            )

    async def _resubmit(self, submitter: Submitter, task: TaskRecord) -> None:
        async with self._slots:
            try:
                status = await self._chain_status(submitter, task)
                if status != ChainStatus.CREATED:
                    return  # still verified, expired, or gone (the poller's business)
                logger.warning(
                    "A reorg orphaned the verification of a completed task; submitting again",
                    task_id=task.task_id,
                    previous_tx=task.tx_hash,
                )
                outcome = await self._submit(submitter, task, float(task.deadline))
                if outcome is not None:
                    await self.store.update_task(
                        task.task_id,
                        reason=f"{outcome.reason} (again, after a reorg)",
                        tx_hash=outcome.tx_hash or task.tx_hash,
                    )
                    logger.info(
                        "Re-submission after a reorg settled",
                        task_id=task.task_id,
                        outcome=outcome.status,
                    )
            except asyncio.CancelledError:
                raise
            except RecordNotFound:
                return
            except Exception:
                logger.exception("Re-checking a completed task failed", task_id=task.task_id)

    async def _chain_status(self, submitter: Submitter, task: TaskRecord) -> ChainStatus:
        attempt = 0
        while True:
            try:
                return await submitter.status(task.task_id)
            except _TRANSIENT as exc:
                attempt += 1
                if time.time() > task.deadline + DEADLINE_GRACE:
                    raise
                logger.warning(
                    "Cannot read a task's status yet, retrying",
                    task_id=task.task_id,
                    error=_describe(exc),
                )
                await asyncio.sleep(min(10.0, 0.5 * 2 ** min(attempt, 5)))

    async def stop(self, grace: float) -> None:
        """Let running tasks finish within `grace`, then cancel the rest (they stay stored and
        are resumed on the next start)."""
        running = list(self._running.values())
        if running:
            _done, pending = await asyncio.wait(running, timeout=grace)
            for runner in pending:
                runner.cancel()
            for runner in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await runner

    async def _run(self, task_id: str) -> None:
        async with self._slots:
            try:
                await self._process(task_id)
            except asyncio.CancelledError:
                raise
            except RecordNotFound:
                # A reorg removed the task while we worked on it; the poller cancels us too.
                logger.info("Task left storage while processing (reorg)", task_id=task_id)
            except Exception as exc:
                logger.exception("Task processing failed", task_id=task_id)
                await self._finish(
                    task_id, TaskStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}"
                )

    async def _finish(self, task_id: str, status: TaskStatus, reason: str, **fields) -> None:
        try:
            task = await self.store.transition(task_id, status, reason=reason, **fields)
        except (RecordNotFound, InvalidTransition):
            return
        latency = time.time() - task.created_at if task.created_at else 0.0
        log_method = logger.info if status == TaskStatus.COMPLETED else logger.warning
        log_method(
            f"Task {status.value}",
            task_id=task_id,
            avs=task.avs_address,
            reason=reason,
            latency_s=round(latency, 3),
            tx_hash=task.tx_hash,
        )
        if self._on_outcome is not None:
            self._on_outcome(status.value, latency)

    async def _process(self, task_id: str) -> None:
        task = self.store.get_task(task_id)
        if task is None or task.status in TERMINAL:
            return
        deadline = float(task.deadline)
        if time.time() >= deadline and task.certificate is None:
            await self._finish(task_id, TaskStatus.EXPIRED, "the deadline passed before processing")
            return
        if task.status == TaskStatus.PENDING:
            task = await self.store.transition(task_id, TaskStatus.PROCESSING)
        if task.certificate is None or task.result is None:
            certified = await self._certify(task, deadline)
            if certified is None:
                return
            task = certified
        submitter = self.submitters.get(task.chain_id)
        if submitter is None:
            await self._finish(
                task_id, TaskStatus.FAILED, f"no submitter for chain {task.chain_id}"
            )
            return
        outcome = await self._submit(submitter, task, deadline)
        if outcome is None:
            return
        if outcome.status == "verified":
            await self._finish(
                task_id,
                TaskStatus.COMPLETED,
                outcome.reason,
                tx_hash=outcome.tx_hash or task.tx_hash,
            )
        elif outcome.status == "expired":
            await self._finish(task_id, TaskStatus.EXPIRED, outcome.reason)
        else:
            if any(name in outcome.reason for name in _INVALIDATING):
                self.contexts.invalidate(
                    task.chain_id, task.avs_address, task.operator_set_id, task.reference_timestamp
                )
            await self._finish(task_id, TaskStatus.FAILED, outcome.reason)

    async def _submit(self, submitter: Submitter, task: TaskRecord, deadline: float):
        attempt = 0
        while True:
            current = self.store.get_task(task.task_id)
            if current is None:
                raise RecordNotFound("task", task.task_id)
            try:
                return await submitter.submit(
                    task.task_id, task.certificate, task.result, deadline, known_tx=current.tx_hash
                )
            except _TRANSIENT as exc:
                attempt += 1
                delay = min(10.0, 0.5 * 2 ** min(attempt, 5)) * random.uniform(0.8, 1.2)
                if time.time() + delay > deadline + DEADLINE_GRACE:
                    await self._finish(
                        task.task_id,
                        TaskStatus.EXPIRED,
                        f"could not submit before the deadline: {_describe(exc)}",
                    )
                    return None
                logger.warning(
                    "Submission error, retrying",
                    task_id=task.task_id,
                    error=_describe(exc),
                    retry_in_s=round(delay, 2),
                )
                await asyncio.sleep(delay)

    async def _certify(self, task: TaskRecord, deadline: float) -> TaskRecord | None:
        ctx = None
        attempt = 0
        while ctx is None:
            try:
                ctx = await self.contexts.get(
                    task.chain_id,
                    task.avs_address,
                    task.operator_set_id,
                    task.reference_timestamp,
                    task.block_number,
                )
            except ContextError as exc:
                await self._finish(task.task_id, TaskStatus.FAILED, exc.message)
                return None
            except ContextUnavailable as exc:
                attempt += 1
                delay = min(10.0, 0.5 * 2 ** min(attempt, 5))
                if time.time() + delay >= deadline:
                    await self._finish(
                        task.task_id, TaskStatus.EXPIRED, f"operator set unreadable: {exc.message}"
                    )
                    return None
                logger.warning(
                    "Cannot read operator set yet, retrying",
                    task_id=task.task_id,
                    error=exc.message,
                )
                await asyncio.sleep(delay)
        outcome = await self.fanout.run(task, ctx, deadline)
        if not outcome.decision.met:
            weight = (
                f"{outcome.decision.weight}/{ctx.total_weight} weight, "
                f"{ctx.threshold_bips} bips required; {_who_answered(outcome)}"
            )
            if outcome.impossible:
                await self._finish(
                    task.task_id,
                    TaskStatus.FAILED,
                    f"executors disagree: no result can reach the threshold ({weight})",
                )
            else:
                await self._finish(
                    task.task_id,
                    TaskStatus.EXPIRED,
                    f"not enough weight by the deadline ({weight})",
                )
            return None
        try:
            certificate, result = await asyncio.to_thread(build_certificate, ctx, outcome.winners())
        except CertificateError as exc:
            await self._finish(
                task.task_id, TaskStatus.FAILED, f"cannot build the certificate: {exc.message}"
            )
            return None
        logger.info(
            "Consensus reached",
            task_id=task.task_id,
            weight=outcome.decision.weight,
            total=ctx.total_weight,
            signers=len(outcome.decision.signers),
        )
        return await self.store.update_task(task.task_id, certificate=certificate, result=result)
