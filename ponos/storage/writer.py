"""Group commit: one writer thread turns concurrent write requests into one WriteBatch
and one fsync.

Each request (a list of ops, or a transact function) is checked and merged into the group's
pending writes in submission order; a transact function reads through a view that sees the
writes of the requests before it in the group. The pending writes become one WriteBatch
holding each key once, with its last value (a counter bumped by every request of a group is
written once); it is written unsynced, then one WAL sync makes the whole group durable, and
only then is every request acknowledged. The sync is `flush_wal(sync=True)` rather than
`write(..., sync=True)` because rocksdict releases the GIL during flush_wal but holds it
during a synced write, which would stall the event loop for the whole fsync
(docs/storage.md, "Durability").
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from ponos.storage.engine import Op, Txn
from ponos.storage.errors import StoreClosed

_STOP = object()


class GroupTarget(Protocol):
    """What the writer needs from its engine."""

    def get(self, key: bytes) -> bytes | None: ...

    def scan(self, prefix: bytes, **kwargs: Any) -> Iterator[tuple[bytes, bytes]]: ...

    def resolve_ops(self, ops: list[Op]) -> list[tuple[Any, ...]]:
        """Check one request's ops; (key, value, ...) for each, or raise (nothing changes)."""

    def write_resolved(self, entries: Iterable[tuple[Any, ...]]) -> None:
        """Write resolved ops (each key once) as one atomic, unsynced batch."""

    def sync_wal(self) -> None: ...

    def map_error(self, exc: BaseException) -> BaseException: ...


class _Request:
    __slots__ = ("error", "fn", "future", "loop", "ops", "result")

    def __init__(
        self,
        ops: list[Op] | None,
        fn: Callable[[Txn], Any] | None,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
    ) -> None:
        self.ops = ops
        self.fn = fn
        self.loop = loop
        self.future = future
        self.result: Any = None
        self.error: BaseException | None = None


def _resolve_all(requests: list[_Request]) -> None:
    for request in requests:
        if request.future.done():  # the caller was cancelled; the write itself happened
            continue
        if request.error is not None:
            request.future.set_exception(request.error)
        else:
            request.future.set_result(request.result)


class _GroupView:
    """Reads for transact functions: committed data plus the group's earlier writes.

    A scan first writes the pending batch (unsynced, not yet acknowledged) so the
    iterator sees it; point gets consult the pending writes directly."""

    def __init__(self, writer: GroupCommitWriter) -> None:
        self._writer = writer
        self._committed_get = writer.target.get
        self.pending: dict[bytes, tuple[Any, ...]] = {}  # key -> resolved (key, value, ...)

    def get(self, key: bytes) -> bytes | None:
        entry = self.pending.get(key)
        if entry is not None:
            return entry[1]
        return self._committed_get(key)

    def scan(self, prefix: bytes, **kwargs: Any) -> Iterator[tuple[bytes, bytes]]:
        self._writer.write_pending()
        return self._writer.target.scan(prefix, **kwargs)


class GroupCommitWriter:
    """Owns the single writer thread of a RocksDB engine."""

    def __init__(
        self,
        target: GroupTarget,
        *,
        sync: bool,
        max_group: int = 1024,
        name: str = "ponos-storage-writer",
    ) -> None:
        self.target = target
        self._sync = sync
        self._max_group = max_group
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stopping = False
        self._batch_requests: list[_Request] = []
        self._view = _GroupView(self)
        self._written: list[_Request] = []
        self.groups_total = 0
        self.requests_total = 0
        self.syncs_total = 0
        self.max_group_seen = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, ops: list[Op] | None, fn: Callable[[Txn], Any] | None) -> asyncio.Future:
        if self._stopping:
            raise StoreClosed()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Request(ops, fn, loop, future))
        return future

    def stop(self) -> None:
        """Process everything already submitted, then end the thread (blocking)."""
        if not self._stopping:
            self._stopping = True
            self._queue.put(_STOP)
        self._thread.join()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group = [first]
            stop = False
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                group.append(item)
            self._process(group)
            if stop:
                return

    def write_pending(self) -> None:
        """Write the group's batch so far (unsynced); its requests wait for the sync."""
        if not self._batch_requests:
            return
        pending, requests = self._view.pending, self._batch_requests
        self._view.pending, self._batch_requests = {}, []
        try:
            self.target.write_resolved(pending.values())
            self._written.extend(requests)
        except BaseException as exc:
            error = self.target.map_error(exc)
            for request in requests:
                request.error = error

    def _process(self, group: list[_Request]) -> None:
        self._written = []
        for request in group:
            txn = None
            try:
                if request.fn is not None:
                    txn = Txn(self._view)  # type: ignore[arg-type]
                    request.result = request.fn(txn)
                    ops = txn.ops
                else:
                    ops = request.ops or []
            except BaseException as exc:  # the caller's own error (e.g. InvalidTransition)
                request.error = exc
                continue
            if not ops:
                continue
            try:
                resolved = self.target.resolve_ops(ops)
            except BaseException as exc:
                request.error = self.target.map_error(exc)
                continue
            self._batch_requests.append(request)
            pending = self._view.pending
            for entry in resolved:
                pending[entry[0]] = entry
        self.write_pending()
        if self._written and self._sync:
            try:
                self.target.sync_wal()
                self.syncs_total += 1
            except BaseException as exc:
                error = self.target.map_error(exc)
                for request in self._written:
                    request.error = error
        self._written = []
        self.groups_total += 1
        self.requests_total += len(group)
        self.max_group_seen = max(self.max_group_seen, len(group))
        by_loop: dict[asyncio.AbstractEventLoop, list[_Request]] = {}
        for request in group:
            by_loop.setdefault(request.loop, []).append(request)
        for loop, requests in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve_all, requests)
            except RuntimeError:  # that event loop is closed; nobody is waiting any more
                pass
