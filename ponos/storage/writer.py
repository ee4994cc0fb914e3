"""Group commit: one writer thread turns concurrent write requests into few fsyncs.

Each request (a list of ops, or a transact function) is applied as its own atomic,
unsynced WriteBatch, in submission order; then one WAL sync makes the whole group durable,
and only then is every request in the group acknowledged. The sync is `flush_wal(sync=True)`
rather than `write(..., sync=True)` because rocksdict releases the GIL during flush_wal but
holds it during a synced write, which would stall the event loop for the whole fsync
(docs/storage.md, "Durability").
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

from ponos.storage.engine import Op, Txn
from ponos.storage.errors import StoreClosed

_STOP = object()


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


def _resolve(request: _Request) -> None:
    if request.future.done():  # the caller was cancelled; the write itself still happened
        return
    if request.error is not None:
        request.future.set_exception(request.error)
    else:
        request.future.set_result(request.result)


class GroupCommitWriter:
    """Owns the single writer thread of a RocksDB engine."""

    def __init__(
        self,
        *,
        make_txn: Callable[[], Txn],
        apply: Callable[[list[Op]], None],
        sync: Callable[[], None] | None,
        map_error: Callable[[BaseException], BaseException],
        max_group: int = 1024,
        name: str = "ponos-storage-writer",
    ) -> None:
        self._make_txn = make_txn
        self._apply = apply
        self._sync = sync
        self._map_error = map_error
        self._max_group = max_group
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stopping = False
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

    def _process(self, group: list[_Request]) -> None:
        written: list[_Request] = []
        for request in group:
            try:
                if request.fn is not None:
                    txn = self._make_txn()
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
                self._apply(ops)
                written.append(request)
            except BaseException as exc:  # delivered to the caller, never lost in the thread
                request.error = self._map_error(exc)
        if written and self._sync is not None:
            try:
                self._sync()
                self.syncs_total += 1
            except BaseException as exc:
                error = self._map_error(exc)
                for request in written:
                    request.error = error
        self.groups_total += 1
        self.requests_total += len(group)
        self.max_group_seen = max(self.max_group_seen, len(group))
        for request in group:
            try:
                request.loop.call_soon_threadsafe(_resolve, request)
            except RuntimeError:  # that event loop is closed; nobody is waiting any more
                pass
