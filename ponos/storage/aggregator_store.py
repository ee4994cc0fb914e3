"""What the aggregator persists: chain cursors, recent block headers (reorg detection) and
tasks with a status index, a per-block index (rollback) and per-status counters.

Every change that touches more than one key is one `transact` call, so the record, its
indexes and the counters change together or not at all, and status transitions are
validated against the stored state with no other write in between.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable
from typing import Any

from ponos.log import get_logger
from ponos.storage.engine import Engine, Txn
from ponos.storage.errors import (
    CorruptRecord,
    InvalidRecord,
    RecordExists,
    RecordNotFound,
)
from ponos.storage.keys import make_key, make_prefix, parse_num
from ponos.storage.records import (
    BLOCK_CODEC,
    TASK_CODEC,
    BlockRecord,
    TaskRecord,
    normalize_address,
    normalize_task_id,
)
from ponos.storage.schema import SCHEMA_KEY
from ponos.storage.status import TaskStatus, check_task_transition

log = get_logger(__name__)

_FIXED_FIELDS = frozenset({"task_id", "status"})
_TASK_FIELDS = frozenset(f.name for f in dataclasses.fields(TaskRecord))


def _cursor_key(chain_id: int) -> bytes:
    return make_key("cursor", chain_id)


def _block_key(chain_id: int, number: int) -> bytes:
    return make_key("block", chain_id, number)


def _task_key(task_id: str) -> bytes:
    if task_id.__class__ is str and "/" not in task_id:
        return b"task/" + task_id.encode()  # make_key's result, without its general loop
    return make_key("task", task_id)


_COUNTER_KEYS = {s: make_key("counter", "task", s.value) for s in TaskStatus}


def _counter_key(status: TaskStatus) -> bytes:
    return _COUNTER_KEYS[status]


def _status_index_key(task: TaskRecord) -> bytes:
    avs, tid = task.avs_address, task.task_id
    if avs.__class__ is str and tid.__class__ is str and "/" not in avs and "/" not in tid:
        return f"task_status/{task.status.value}/{avs}/{tid}".encode()  # as make_key
    return make_key("task_status", task.status.value, avs, tid)


def _block_index_key(task: TaskRecord) -> bytes:
    return make_key("task_block", task.chain_id, task.block_number, task.task_id)


def _index_keys(task: TaskRecord) -> set[bytes]:
    return {_status_index_key(task), _block_index_key(task)}


def _decode_count(key: bytes, raw: bytes | None) -> int:
    """Counters are stored as decimal text (valid JSON numbers)."""
    if raw is None:
        return 0
    try:
        return int(raw)
    except ValueError:
        raise CorruptRecord(key, "counter is not an integer") from None


class AggregatorStore:
    """Typed access to aggregator storage. Reads are synchronous, writes `async`."""

    def __init__(self, engine: Engine) -> None:
        if engine.kind != "aggregator":
            raise InvalidRecord(f"AggregatorStore needs aggregator storage, got {engine.kind}")
        self.engine = engine

    # -- cursor and blocks ---------------------------------------------------------------
    def get_cursor(self, chain_id: int) -> int | None:
        """The last fully processed block of a chain, or None."""
        key = _cursor_key(chain_id)
        raw = self.engine.get(key)
        return None if raw is None else self._decode_cursor(key, raw)

    @staticmethod
    def _decode_cursor(key: bytes, raw: bytes) -> int:
        try:
            block = json.loads(raw)["block"]
        except (ValueError, KeyError, TypeError):
            raise CorruptRecord(key, "cursor record is unreadable") from None
        if isinstance(block, bool) or not isinstance(block, int) or block < 0:
            raise CorruptRecord(key, "cursor block is not a non-negative integer")
        return block

    @staticmethod
    def _cursor_value(chain_id: int, block: int) -> bytes:
        if isinstance(block, bool) or not isinstance(block, int) or block < 0:
            raise InvalidRecord(f"cursor {block!r} must be a non-negative integer")
        return json.dumps(
            {"chain_id": chain_id, "block": block, "updated_at": time.time()}
        ).encode()

    async def set_cursor(self, chain_id: int, block: int) -> None:
        await self.engine.put(_cursor_key(chain_id), self._cursor_value(chain_id, block))

    def list_cursors(self) -> dict[int, int]:
        return {
            parse_num(key.split(b"/")[1]): self._decode_cursor(key, raw)
            for key, raw in self.engine.scan(b"cursor/")
        }

    def get_block(self, chain_id: int, number: int) -> BlockRecord | None:
        key = _block_key(chain_id, number)
        raw = self.engine.get(key)
        return None if raw is None else BLOCK_CODEC.decode(key, raw)

    def list_blocks(self, chain_id: int, start: int, end: int) -> list[BlockRecord]:
        """Stored blocks with start <= number <= end, ascending."""
        if end < start:
            return []
        return [
            BLOCK_CODEC.decode(key, raw)
            for key, raw in self.engine.scan(
                make_prefix("block", chain_id),
                start=_block_key(chain_id, max(0, start)),
                end=_block_key(chain_id, end + 1),
            )
        ]

    def latest_block(self, chain_id: int) -> BlockRecord | None:
        for key, raw in self.engine.scan(make_prefix("block", chain_id), reverse=True, limit=1):
            return BLOCK_CODEC.decode(key, raw)
        return None

    # -- ranges and reorgs ---------------------------------------------------------------
    async def commit_range(
        self,
        chain_id: int,
        *,
        cursor: int,
        blocks: list[BlockRecord],
        tasks: list[TaskRecord],
        keep_blocks: int = 256,
    ) -> list[TaskRecord]:
        """One atomic batch: set the cursor, save the blocks, insert the tasks not already
        stored (as pending; stored ones are left untouched), prune blocks older than
        cursor - keep_blocks. Returns the tasks inserted."""
        cursor_value = self._cursor_value(chain_id, cursor)
        if keep_blocks < 0:
            raise InvalidRecord("keep_blocks must be >= 0")
        block_values = []
        for block in blocks:
            if block.chain_id != chain_id:
                raise InvalidRecord(
                    f"block {block.number} has chain_id {block.chain_id}, expected {chain_id}"
                )
            block_values.append((_block_key(chain_id, block.number), BLOCK_CODEC.encode(block)))
        now = time.time()
        prepared = [self._new_task(task, now, chain_id) for task in tasks]

        def apply(txn: Txn) -> list[TaskRecord]:
            txn.put(_cursor_key(chain_id), cursor_value)
            for key, value in block_values:
                txn.put(key, value)
            inserted = []
            for task in prepared:
                if txn.get(_task_key(task.task_id)) is None:
                    self._write_task(txn, task, None)
                    inserted.append(task)
            horizon = cursor - keep_blocks
            if horizon > 0:
                for key, _raw in txn.scan(
                    make_prefix("block", chain_id), end=_block_key(chain_id, horizon)
                ):
                    txn.delete(key)
            return inserted

        return await self.engine.transact(apply)

    async def rollback_to(self, chain_id: int, ancestor: int) -> list[TaskRecord]:
        """One atomic batch: delete block records above ancestor and the chain's tasks with
        block_number > ancestor (any status), set the cursor to ancestor. Returns the
        removed tasks."""
        cursor_value = self._cursor_value(chain_id, ancestor)

        def apply(txn: Txn) -> list[TaskRecord]:
            for key, _raw in txn.scan(
                make_prefix("block", chain_id), start=_block_key(chain_id, ancestor + 1)
            ):
                txn.delete(key)
            removed = []
            for key, _raw in txn.scan(
                make_prefix("task_block", chain_id),
                start=make_key("task_block", chain_id, ancestor + 1),
            ):
                task_id = key.rsplit(b"/", 1)[1].decode()
                task = self._read_task(txn, task_id)
                if task is None:
                    txn.delete(key)  # dangling index entry: drop it with the rest
                    continue
                self._delete_task(txn, task)
                removed.append(task)
            txn.put(_cursor_key(chain_id), cursor_value)
            removed.sort(key=lambda t: (t.block_number, t.log_index, t.task_id))
            return removed

        return await self.engine.transact(apply)

    # -- tasks ---------------------------------------------------------------------------
    def _new_task(self, task: TaskRecord, now: float, chain_id: int | None) -> TaskRecord:
        if task.status != TaskStatus.PENDING:
            raise InvalidRecord(f"task {task.task_id} must be stored as pending, not {task.status}")
        if chain_id is not None and task.chain_id != chain_id:
            raise InvalidRecord(
                f"task {task.task_id} has chain_id {task.chain_id}, expected {chain_id}"
            )
        return dataclasses.replace(
            task,
            task_id=normalize_task_id(task.task_id),
            avs_address=normalize_address(task.avs_address, "avs address"),
            status=TaskStatus.PENDING,
            created_at=task.created_at or now,
            updated_at=now,
        )

    async def save_task(self, task: TaskRecord) -> TaskRecord:
        """Insert one new pending task (RecordExists if the id is stored)."""
        record = self._new_task(task, time.time(), None)

        def apply(txn: Txn) -> TaskRecord:
            if txn.get(_task_key(record.task_id)) is not None:
                raise RecordExists("task", record.task_id)
            self._write_task(txn, record, None)
            return record

        return await self.engine.transact(apply)

    def get_task(self, task_id: str) -> TaskRecord | None:
        key = _task_key(normalize_task_id(task_id))
        raw = self.engine.get(key)
        return None if raw is None else TASK_CODEC.decode(key, raw)

    async def transition(
        self, task_id: str, to: TaskStatus | str, *, reason: str | None = None, **fields: Any
    ) -> TaskRecord:
        """Validated status change; record, status index and counters in one batch."""
        task_id = normalize_task_id(task_id)
        changes = self._check_fields(fields) if fields else {}
        if reason is not None:
            changes["reason"] = reason

        def apply(txn: Txn) -> TaskRecord:
            old = self._read_task(txn, task_id)
            if old is None:
                raise RecordNotFound("task", task_id)
            target = check_task_transition(old.status, to)
            new = TASK_CODEC.replace(old, {**changes, "status": target, "updated_at": time.time()})
            self._write_task(txn, new, old)
            return new

        return await self.engine.transact(apply)

    async def update_task(self, task_id: str, **fields: Any) -> TaskRecord:
        """Change fields other than the status (attempts, result, tx_hash, ...)."""
        task_id = normalize_task_id(task_id)
        changes = self._check_fields(fields)

        def apply(txn: Txn) -> TaskRecord:
            old = self._read_task(txn, task_id)
            if old is None:
                raise RecordNotFound("task", task_id)
            new = TASK_CODEC.replace(old, {**changes, "updated_at": time.time()})
            self._write_task(txn, new, old)
            return new

        return await self.engine.transact(apply)

    async def delete_task(self, task_id: str) -> TaskRecord:
        task_id = normalize_task_id(task_id)

        def apply(txn: Txn) -> TaskRecord:
            old = self._read_task(txn, task_id)
            if old is None:
                raise RecordNotFound("task", task_id)
            self._delete_task(txn, old)
            return old

        return await self.engine.transact(apply)

    def list_tasks(
        self,
        status: TaskStatus | str | Iterable[TaskStatus | str] | None = None,
        avs: str | None = None,
        limit: int | None = None,
    ) -> list[TaskRecord]:
        """Tasks by status (one, a set, or all) and optionally AVS, via the status index;
        ordered by status, AVS, task id."""
        if status is None:
            statuses = list(TaskStatus)
        elif isinstance(status, str):
            statuses = [TaskStatus(status)]
        else:
            wanted = {TaskStatus(s) for s in status}
            statuses = [s for s in TaskStatus if s in wanted]
        avs_part = normalize_address(avs, "avs address") if avs is not None else None
        out: list[TaskRecord] = []
        for current in statuses:
            prefix = (
                make_prefix("task_status", current.value, avs_part)
                if avs_part
                else make_prefix("task_status", current.value)
            )
            remaining = None if limit is None else limit - len(out)
            if remaining is not None and remaining <= 0:
                break
            for key, _raw in self.engine.scan(prefix):
                task = self.get_task(key.rsplit(b"/", 1)[1].decode())
                if task is None:
                    log.warning("task index entry without a task", key=key.decode())
                    continue
                out.append(task)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def count_by_status(self) -> dict[TaskStatus, int]:
        return {
            s: _decode_count(_counter_key(s), self.engine.get(_counter_key(s))) for s in TaskStatus
        }

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _check_fields(fields: dict[str, Any]) -> dict[str, Any]:
        unknown = set(fields) - _TASK_FIELDS
        if unknown:
            raise InvalidRecord(f"unknown task field(s): {', '.join(sorted(unknown))}")
        fixed = set(fields) & _FIXED_FIELDS
        if fixed:
            raise InvalidRecord(
                f"task field(s) {', '.join(sorted(fixed))} cannot be changed here "
                "(the status changes only through transition)"
            )
        if "avs_address" in fields:
            fields = {**fields, "avs_address": normalize_address(fields["avs_address"])}
        return fields

    @staticmethod
    def _read_task(txn: Txn, task_id: str) -> TaskRecord | None:
        key = _task_key(task_id)
        raw = txn.get(key)
        return None if raw is None else TASK_CODEC.decode(key, raw)

    @staticmethod
    def _bump(txn: Txn, status: TaskStatus, delta: int) -> None:
        key = _COUNTER_KEYS[status]
        txn.put(key, b"%d" % (_decode_count(key, txn.get(key)) + delta))

    def _write_task(self, txn: Txn, new: TaskRecord, old: TaskRecord | None) -> None:
        """The record, the index entries that changed, the counters of a status change."""
        if old is None:
            txn.put(_status_index_key(new), b"")
            txn.put(_block_index_key(new), b"")
        else:
            if (
                old.status != new.status
                or old.avs_address != new.avs_address
                or old.task_id != new.task_id
            ):
                txn.delete(_status_index_key(old))
                txn.put(_status_index_key(new), b"")
            if (
                old.chain_id != new.chain_id
                or old.block_number != new.block_number
                or old.task_id != new.task_id
            ):
                txn.delete(_block_index_key(old))
                txn.put(_block_index_key(new), b"")
        txn.put(_task_key(new.task_id), TASK_CODEC.encode(new))
        if old is None:
            self._bump(txn, new.status, 1)
        elif old.status != new.status:
            self._bump(txn, old.status, -1)
            self._bump(txn, new.status, 1)

    def _delete_task(self, txn: Txn, old: TaskRecord) -> None:
        for key in sorted(_index_keys(old)):
            txn.delete(key)
        txn.delete(_task_key(old.task_id))
        self._bump(txn, old.status, -1)

    # -- verification --------------------------------------------------------------------
    def verify(self) -> list[str]:
        """Decode every record and cross-check indexes and counters; problems as text."""
        problems: list[str] = []
        engine = self.engine
        if engine.get(SCHEMA_KEY) is None:
            problems.append("meta/schema is missing")
        for key, raw in engine.scan(b"cursor/"):
            try:
                self._decode_cursor(key, raw)
            except CorruptRecord as exc:
                problems.append(exc.message)
        for key, raw in engine.scan(b"block/"):
            try:
                block = BLOCK_CODEC.decode(key, raw)
                if key != _block_key(block.chain_id, block.number):
                    problems.append(f"{key.decode()}: holds block {block.chain_id}/{block.number}")
            except (CorruptRecord, InvalidRecord) as exc:
                problems.append(exc.message)
        expected_index: set[bytes] = set()
        counts = dict.fromkeys(TaskStatus, 0)
        for key, raw in engine.scan(b"task/"):
            try:
                task = TASK_CODEC.decode(key, raw)
                if key != _task_key(task.task_id):
                    problems.append(f"{key.decode()}: holds task {task.task_id}")
                expected_index |= _index_keys(task)
                counts[task.status] += 1
            except (CorruptRecord, InvalidRecord) as exc:
                problems.append(exc.message)
        stored_index = {
            k
            for kind in ("task_status", "task_block")
            for k, _ in engine.scan(kind.encode() + b"/")
        }
        for key in sorted(expected_index - stored_index):
            problems.append(f"index entry {key.decode()} is missing")
        for key in sorted(stored_index - expected_index):
            problems.append(f"index entry {key.decode()} points to no matching task")
        for status in TaskStatus:
            key = _counter_key(status)
            try:
                stored = _decode_count(key, engine.get(key))
            except CorruptRecord as exc:
                problems.append(exc.message)
                continue
            if stored != counts[status]:
                problems.append(
                    f"{key.decode()}: counter says {stored}, {counts[status]} tasks are {status}"
                )
        return problems
