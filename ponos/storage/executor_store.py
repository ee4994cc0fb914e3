"""What the executor persists: performers (for re-adoption after a restart), deployments,
in-flight tasks and processed tasks (replay protection with a cached signed result).

Processed tasks carry an expiry and an index by expiry, so `prune_processed` touches only
what expired instead of scanning everything (the Go original's marker never expires).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

from ponos.storage.engine import Engine, Txn
from ponos.storage.errors import CorruptRecord, InvalidRecord, RecordNotFound
from ponos.storage.keys import make_key
from ponos.storage.records import (
    DEPLOYMENT_CODEC,
    INFLIGHT_CODEC,
    PERFORMER_CODEC,
    PERFORMER_RUNTIMES,
    PERFORMER_SLOTS,
    PROCESSED_CODEC,
    DeploymentRecord,
    InflightTask,
    PerformerState,
    ProcessedTask,
    normalize_address,
    normalize_id,
    normalize_task_id,
)
from ponos.storage.schema import SCHEMA_KEY
from ponos.storage.status import DeploymentStatus, check_deployment_transition


def _millis(seconds: float) -> int:
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidRecord(f"time {seconds!r} must be a non-negative number of seconds")
    return int(seconds * 1000)


def _expiry_key(task: ProcessedTask) -> bytes:
    return make_key("processed_expiry", _millis(task.expires_at), task.task_id)


class ExecutorStore:
    """Typed access to executor storage. Reads are synchronous, writes `async`."""

    def __init__(self, engine: Engine) -> None:
        if engine.kind != "executor":
            raise InvalidRecord(f"ExecutorStore needs executor storage, got {engine.kind}")
        self.engine = engine

    # -- performers ----------------------------------------------------------------------
    async def save_performer(self, state: PerformerState) -> PerformerState:
        """Insert or replace a performer record."""
        normalize_id(state.performer_id, "performer id")
        if state.runtime not in PERFORMER_RUNTIMES:
            raise InvalidRecord(
                f"performer runtime {state.runtime!r} is not one of {', '.join(PERFORMER_RUNTIMES)}"
            )
        if state.slot not in PERFORMER_SLOTS:
            raise InvalidRecord(
                f"performer slot {state.slot!r} is not one of {', '.join(PERFORMER_SLOTS)}"
            )
        record = dataclasses.replace(
            state, avs_address=normalize_address(state.avs_address, "avs address")
        )
        await self.engine.put(
            make_key("performer", record.performer_id), PERFORMER_CODEC.encode(record)
        )
        return record

    def get_performer(self, performer_id: str) -> PerformerState | None:
        key = make_key("performer", normalize_id(performer_id, "performer id"))
        raw = self.engine.get(key)
        return None if raw is None else PERFORMER_CODEC.decode(key, raw)

    def list_performers(self, avs: str | None = None) -> list[PerformerState]:
        wanted = normalize_address(avs, "avs address") if avs is not None else None
        out = [PERFORMER_CODEC.decode(k, v) for k, v in self.engine.scan(b"performer/")]
        return [p for p in out if wanted is None or p.avs_address == wanted]

    async def delete_performer(self, performer_id: str) -> None:
        await self._delete_existing("performer", normalize_id(performer_id, "performer id"))

    # -- deployments ---------------------------------------------------------------------
    async def save_deployment(self, record: DeploymentRecord) -> DeploymentRecord:
        """Insert or replace a deployment record."""
        normalize_id(record.deployment_id, "deployment id")
        stored = dataclasses.replace(
            record,
            avs_address=normalize_address(record.avs_address, "avs address"),
            status=DeploymentStatus(record.status),
            started_at=record.started_at or time.time(),
        )
        await self.engine.put(
            make_key("deployment", stored.deployment_id), DEPLOYMENT_CODEC.encode(stored)
        )
        return stored

    async def update_deployment_status(
        self, deployment_id: str, status: DeploymentStatus | str, error: str | None = None
    ) -> DeploymentRecord:
        """Validated transition; completed_at is set when it reaches running or failed."""
        key = make_key("deployment", normalize_id(deployment_id, "deployment id"))

        def apply(txn: Txn) -> DeploymentRecord:
            raw = txn.get(key)
            if raw is None:
                raise RecordNotFound("deployment", deployment_id)
            old = DEPLOYMENT_CODEC.decode(key, raw)
            target = check_deployment_transition(old.status, status)
            changes: dict[str, Any] = {"status": target}
            if target in (DeploymentStatus.RUNNING, DeploymentStatus.FAILED):
                changes["completed_at"] = time.time()
            if error is not None:
                changes["error"] = error
            new = dataclasses.replace(old, **changes)
            txn.put(key, DEPLOYMENT_CODEC.encode(new))
            return new

        return await self.engine.transact(apply)

    def get_deployment(self, deployment_id: str) -> DeploymentRecord | None:
        key = make_key("deployment", normalize_id(deployment_id, "deployment id"))
        raw = self.engine.get(key)
        return None if raw is None else DEPLOYMENT_CODEC.decode(key, raw)

    def list_deployments(self, avs: str | None = None) -> list[DeploymentRecord]:
        wanted = normalize_address(avs, "avs address") if avs is not None else None
        out = [DEPLOYMENT_CODEC.decode(k, v) for k, v in self.engine.scan(b"deployment/")]
        return [d for d in out if wanted is None or d.avs_address == wanted]

    # -- in-flight and processed tasks ---------------------------------------------------
    async def save_inflight(self, task: InflightTask) -> InflightTask:
        record = dataclasses.replace(
            task,
            task_id=normalize_task_id(task.task_id),
            avs_address=normalize_address(task.avs_address, "avs address"),
        )
        await self.engine.put(make_key("inflight", record.task_id), INFLIGHT_CODEC.encode(record))
        return record

    def get_inflight(self, task_id: str) -> InflightTask | None:
        key = make_key("inflight", normalize_task_id(task_id))
        raw = self.engine.get(key)
        return None if raw is None else INFLIGHT_CODEC.decode(key, raw)

    def list_inflight(self) -> list[InflightTask]:
        return [INFLIGHT_CODEC.decode(k, v) for k, v in self.engine.scan(b"inflight/")]

    async def delete_inflight(self, task_id: str) -> None:
        await self._delete_existing("inflight", normalize_task_id(task_id))

    async def complete_task(self, processed: ProcessedTask) -> ProcessedTask:
        """One batch: drop the in-flight record (if any), store the processed record and
        its expiry index entry (replacing an earlier one for the same task)."""
        record = dataclasses.replace(
            processed,
            task_id=normalize_task_id(processed.task_id),
            avs_address=normalize_address(processed.avs_address, "avs address"),
        )
        key = make_key("processed", record.task_id)
        value = PROCESSED_CODEC.encode(record)
        expiry = _expiry_key(record)

        def apply(txn: Txn) -> ProcessedTask:
            txn.delete(make_key("inflight", record.task_id))
            raw = txn.get(key)
            if raw is not None:
                try:
                    txn.delete(_expiry_key(PROCESSED_CODEC.decode(key, raw)))
                except (CorruptRecord, InvalidRecord):
                    pass  # the damaged record is overwritten below
            txn.put(key, value)
            txn.put(expiry, b"")
            return record

        return await self.engine.transact(apply)

    def get_processed(self, task_id: str) -> ProcessedTask | None:
        key = make_key("processed", normalize_task_id(task_id))
        raw = self.engine.get(key)
        return None if raw is None else PROCESSED_CODEC.decode(key, raw)

    async def prune_processed(self, now: float, *, limit: int | None = 10_000) -> int:
        """Delete processed tasks with expires_at <= now (millisecond precision), at most
        limit per call; returns how many were removed. Reads only the expiry index."""
        end = make_key("processed_expiry", _millis(now) + 1)

        def apply(txn: Txn) -> int:
            removed = 0
            for key, _raw in txn.scan(b"processed_expiry/", end=end, limit=limit):
                task_id = key.rsplit(b"/", 1)[1].decode()
                txn.delete(key)
                txn.delete(make_key("processed", task_id))
                removed += 1
            return removed

        return await self.engine.transact(apply)

    # -- helpers -------------------------------------------------------------------------
    async def _delete_existing(self, kind: str, ident: str) -> None:
        key = make_key(kind, ident)

        def apply(txn: Txn) -> None:
            if txn.get(key) is None:
                raise RecordNotFound(kind, ident)
            txn.delete(key)

        await self.engine.transact(apply)

    def verify(self) -> list[str]:
        """Decode every record and cross-check the expiry index; problems as text."""
        problems: list[str] = []
        engine = self.engine
        if engine.get(SCHEMA_KEY) is None:
            problems.append("meta/schema is missing")
        checks = (
            ("performer", PERFORMER_CODEC, "performer_id"),
            ("deployment", DEPLOYMENT_CODEC, "deployment_id"),
            ("inflight", INFLIGHT_CODEC, "task_id"),
        )
        for kind, codec, id_field in checks:
            for key, raw in engine.scan(kind.encode() + b"/"):
                try:
                    record = codec.decode(key, raw)
                    if key != make_key(kind, getattr(record, id_field)):
                        problems.append(f"{key.decode()}: holds {getattr(record, id_field)}")
                except (CorruptRecord, InvalidRecord) as exc:
                    problems.append(exc.message)
        expected: set[bytes] = set()
        for key, raw in engine.scan(b"processed/"):
            try:
                record = PROCESSED_CODEC.decode(key, raw)
                expected.add(_expiry_key(record))
            except (CorruptRecord, InvalidRecord) as exc:
                problems.append(exc.message)
        stored = {key for key, _ in engine.scan(b"processed_expiry/")}
        for key in sorted(expected - stored):
            problems.append(f"index entry {key.decode()} is missing")
        for key in sorted(stored - expected):
            problems.append(f"index entry {key.decode()} points to no matching processed task")
        return problems
