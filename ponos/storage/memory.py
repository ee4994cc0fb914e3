"""In-memory backend (tests and `storage.type: memory`): same semantics, nothing persists.

Each kind is a dict plus a sorted key list, so prefix and range scans behave exactly as in
RocksDB. Writes run on the event loop (they are dictionary updates), so `transact`
functions are naturally serial.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterator
from typing import Any

from ponos.storage.engine import Engine, GcResult, Op, Txn
from ponos.storage.errors import SnapshotsUnsupported
from ponos.storage.keys import prefix_end, split_key
from ponos.storage.schema import SCHEMA_KEY, schema_record


class _KindTable:
    __slots__ = ("data", "keys")

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.keys: list[bytes] = []

    def put(self, key: bytes, value: bytes) -> None:
        if key not in self.data:
            bisect.insort(self.keys, key)
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        if self.data.pop(key, None) is not None:
            index = bisect.bisect_left(self.keys, key)
            del self.keys[index]


class MemoryEngine(Engine):
    backend = "memory"

    def __init__(self, kind: str) -> None:
        super().__init__(kind, None)
        self._tables = {name: _KindTable() for name in self.kinds}
        self._tables["meta"].put(SCHEMA_KEY, schema_record(kind))
        self.writes_total = 0
        self.write_ops_total = 0

    def get(self, key: bytes) -> bytes | None:
        self._check_open()
        kind, _rest = split_key(key)
        self._check_kind(kind)
        return self._tables[kind].data.get(key)

    def scan(
        self,
        prefix: bytes,
        *,
        start: bytes | None = None,
        end: bytes | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        self._check_open()
        kind, _rest = split_key(prefix)
        self._check_kind(kind)
        return self._scan(self._tables[kind], prefix, start, end, reverse, limit)

    @staticmethod
    def _scan(
        table: _KindTable,
        prefix: bytes,
        start: bytes | None,
        end: bytes | None,
        reverse: bool,
        limit: int | None,
    ) -> Iterator[tuple[bytes, bytes]]:
        lower = prefix if start is None else max(prefix, start)
        upper = prefix_end(prefix)
        if end is not None:
            upper = end if upper is None else min(upper, end)
        keys = table.keys
        lo = bisect.bisect_left(keys, lower)
        hi = len(keys) if upper is None else bisect.bisect_left(keys, upper)
        selected = keys[lo:hi]  # a copy: safe against writes while the caller iterates
        if reverse:
            selected.reverse()
        if limit is not None:
            selected = selected[: max(0, limit)]
        for key in selected:
            value = table.data.get(key)
            if value is not None:
                yield key, value

    async def _submit(self, ops: list[Op] | None, fn: Callable[[Txn], Any] | None) -> Any:
        self._check_open()
        result = None
        if fn is not None:
            txn = Txn(self)
            result = fn(txn)
            ops = txn.ops
            for key, _value in ops:
                self._check_kind(split_key(key)[0])
        for key, value in ops or ():
            table = self._tables[split_key(key)[0]]
            if value is None:
                table.delete(key)
            else:
                table.put(key, value)
        self.writes_total += 1
        self.write_ops_total += len(ops or ())
        return result

    async def gc_once(self) -> GcResult:
        self._check_open()
        self.gc_runs += 1
        self.gc_last_time = time.time()
        self.gc_last_duration = 0.0
        size = self._size()
        return GcResult(size, size, 0.0, skipped=True, reason="memory backend has no value log")

    async def checkpoint(self, target: str) -> int:
        raise SnapshotsUnsupported()

    def _size(self) -> int:
        return sum(
            len(k) + len(v) for table in self._tables.values() for k, v in table.data.items()
        )

    def stats(self) -> dict[str, Any]:
        counts = {name: len(table.data) for name, table in self._tables.items()}
        size = self._size() if not self._closed else 0
        return {
            "backend": self.backend,
            "kind": self.kind,
            "path": None,
            "live_data_size_bytes": size,
            "total_sst_size_bytes": 0,
            "blob_file_size_bytes": 0,
            "live_blob_file_size_bytes": 0,
            "blob_file_count": 0,
            "estimated_keys": sum(counts.values()),
            "kind_keys": counts,
            "writes_total": self.writes_total,
            "write_groups_total": self.writes_total,
            "write_ops_total": self.write_ops_total,
            "sync_writes": False,
            **self._gc_stats(),
        }

    async def close(self) -> None:
        self._closed = True

    def close_sync(self) -> None:
        self._closed = True
