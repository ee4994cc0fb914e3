"""The storage engine interface both backends implement, and `open_engine`.

Reads are synchronous (point gets, bounded prefix scans) and safe to call on the event
loop. Writes are `async` and return only once the change is durable: a `Batch` is applied
atomically across record kinds, and `transact(fn)` runs a read-validate-write function so
that no other write interleaves between its reads and its writes (the typed stores use it
for status transitions and index maintenance).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from ponos.storage.errors import InvalidRecord, StorageError, StoreClosed
from ponos.storage.keys import split_key
from ponos.storage.schema import kinds_for

T = TypeVar("T")

Op = tuple[bytes, bytes | None]
"""(key, value) to put, or (key, None) to delete."""


class Batch:
    """An atomic list of puts and deletes, possibly across record kinds."""

    __slots__ = ("ops",)

    def __init__(self, ops: list[Op] | None = None) -> None:
        self.ops: list[Op] = list(ops or [])

    def put(self, key: bytes, value: bytes) -> None:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise InvalidRecord(f"value for {key!r} must be bytes")
        self.ops.append((bytes(key), bytes(value)))

    def delete(self, key: bytes) -> None:
        self.ops.append((bytes(key), None))

    def __len__(self) -> int:
        return len(self.ops)

    def __bool__(self) -> bool:
        return bool(self.ops)


class Txn(Batch):
    """What a `transact` function sees: reads of committed data plus its own point writes.

    `get` sees the function's own earlier puts/deletes; `scan` sees committed data only.
    """

    __slots__ = ("_overlay", "_reader")

    def __init__(self, reader: Engine) -> None:
        self.ops = []
        self._reader = reader
        self._overlay: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self._overlay:
            return self._overlay[key]
        return self._reader.get(key)

    def scan(
        self,
        prefix: bytes,
        *,
        start: bytes | None = None,
        end: bytes | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        return self._reader.scan(prefix, start=start, end=end, reverse=reverse, limit=limit)

    def put(self, key: bytes, value: bytes) -> None:
        if key.__class__ is not bytes or value.__class__ is not bytes:
            if not isinstance(value, bytes | bytearray | memoryview):
                raise InvalidRecord(f"value for {key!r} must be bytes")
            key, value = bytes(key), bytes(value)
        self.ops.append((key, value))
        self._overlay[key] = value

    def delete(self, key: bytes) -> None:
        if key.__class__ is not bytes:
            key = bytes(key)
        self.ops.append((key, None))
        self._overlay[key] = None


@dataclasses.dataclass(frozen=True, slots=True)
class GcResult:
    """One value-log GC pass. Sizes are on-disk bytes of SST + blob files."""

    bytes_before: int
    bytes_after: int
    duration_s: float
    blob_bytes_before: int = 0
    blob_bytes_after: int = 0
    blob_files_before: int = 0
    blob_files_after: int = 0
    skipped: bool = False
    reason: str = ""

    @property
    def reclaimed_bytes(self) -> int:
        return max(0, self.bytes_before - self.bytes_after)


class Engine(ABC):
    """Interface shared by the RocksDB and memory backends."""

    backend: str = "abstract"

    def __init__(self, kind: str, path: str | None) -> None:
        self.kind = kind
        self.path = path
        self.kinds: tuple[str, ...] = kinds_for(kind)
        self._kind_set = frozenset(self.kinds)
        self._closed = False
        self.gc_runs = 0
        self.gc_reclaimed_bytes = 0
        self.gc_last_time: float | None = None
        self.gc_last_duration: float | None = None

    # -- reads ---------------------------------------------------------------------------
    @abstractmethod
    def get(self, key: bytes) -> bytes | None: ...

    @abstractmethod
    def scan(
        self,
        prefix: bytes,
        *,
        start: bytes | None = None,
        end: bytes | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        """Items whose key starts with prefix (which must include `<kind>/`), in key order
        (descending with reverse). start is inclusive, end exclusive; both are full keys."""

    def count(self, kind: str) -> int:
        """Exact number of records of a kind (a key scan)."""
        self._check_kind(kind)
        return sum(1 for _ in self.scan(kind.encode() + b"/"))

    # -- writes --------------------------------------------------------------------------
    @abstractmethod
    def _submit(self, ops: list[Op] | None, fn: Callable[[Txn], Any] | None) -> Awaitable[Any]:
        """Start a write; the awaitable completes when it is durable (fn's result)."""

    async def write(self, batch: Batch | list[Op]) -> None:
        ops = batch.ops if isinstance(batch, Batch) else list(batch)
        self._check_open()
        for key, _value in ops:
            self._check_kind(split_key(key)[0])
        if ops:
            await self._submit(ops, None)

    async def put(self, key: bytes, value: bytes) -> None:
        batch = Batch()
        batch.put(key, value)
        await self.write(batch)

    async def delete(self, key: bytes) -> None:
        await self.write([(bytes(key), None)])

    async def transact(self, fn: Callable[[Txn], T]) -> T:
        """Run fn(txn) with no other write in between its reads and its writes, then apply
        txn's writes atomically and durably; returns fn's result. If fn raises, nothing is
        written and the exception propagates."""
        self._check_open()
        return await self._submit(None, fn)

    # -- maintenance ---------------------------------------------------------------------
    @abstractmethod
    async def gc_once(self) -> GcResult: ...

    def start_background(self) -> None:  # noqa: B027 - optional hook
        """Start periodic maintenance (value-log GC); a no-op where there is none."""

    async def stop_background(self) -> None:  # noqa: B027 - optional hook
        """Stop periodic maintenance."""

    @abstractmethod
    async def checkpoint(self, target: str) -> int:
        """Write a consistent copy to target (must not exist); returns its sequence."""

    @abstractmethod
    def stats(self) -> dict[str, Any]: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def close_sync(self) -> None:
        """Blocking close for code without an event loop (CLI, tests' teardown)."""

    @property
    def closed(self) -> bool:
        return self._closed

    # -- helpers -------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed()

    def _check_kind(self, kind: str) -> None:
        if kind not in self._kind_set:
            raise InvalidRecord(
                f"record kind {kind!r} does not exist in {self.kind} storage "
                f"(kinds: {', '.join(self.kinds)})"
            )

    def _gc_stats(self) -> dict[str, Any]:
        return {
            "gc_runs_total": self.gc_runs,
            "gc_reclaimed_bytes_total": self.gc_reclaimed_bytes,
            "gc_last_time_seconds": self.gc_last_time,
            "gc_last_duration_seconds": self.gc_last_duration,
        }

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def open_engine(storage_config: Any, kind: str, *, read_only: bool = False) -> Engine:
    """Open the configured backend for a service kind ("aggregator" or "executor").

    storage_config is a `ponos.config.common.StorageConfig`. Opening a directory written by
    the other service, or with another schema version, raises SchemaMismatch.
    """
    kinds_for(kind)
    if storage_config.type == "memory":
        from ponos.storage.memory import MemoryEngine

        return MemoryEngine(kind)
    if storage_config.type != "rocksdb":
        raise StorageError(f"unknown storage.type {storage_config.type!r}")
    directory = storage_config.rocksdb.dir
    if not directory:
        raise StorageError(
            "storage.rocksdb.dir is not set", hint="set it, or pass --data-dir to the service"
        )
    from ponos.storage.rocksdb import RocksEngine

    return RocksEngine.open(directory, storage_config.rocksdb, kind, read_only=read_only)
