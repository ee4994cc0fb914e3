"""A small async cache for chain reads: entries expire after a TTL, and concurrent misses for
the same key share one fetch (no thundering herd of identical eth_calls)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class _OwnerCancelled(Exception):
    """The shared fetch a caller was waiting on was cancelled with its owner."""


class TTLCache(Generic[V]):
    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._values: dict[Hashable, tuple[float, V]] = {}
        self._inflight: dict[Hashable, asyncio.Future[V]] = {}

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[V]]) -> V:
        while True:
            now = self._clock()
            hit = self._values.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
            pending = self._inflight.get(key)
            if pending is None:
                return await self._fetch(key, fetch)
            try:
                return await asyncio.shield(pending)
            except _OwnerCancelled:
                continue  # the caller that was fetching went away: fetch ourselves

    async def _fetch(self, key: Hashable, fetch: Callable[[], Awaitable[V]]) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await fetch()
        except asyncio.CancelledError:
            # Only the caller that ran the fetch was cancelled (e.g. its RPC deadline):
            # waiters must not inherit that cancellation; they fetch again themselves.
            future.set_exception(_OwnerCancelled())
            future.exception()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it themselves
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(value)
        if len(self._values) >= self.max_entries:
            self._values.clear()
        self._values[key] = (self._clock() + self.ttl, value)
        return value

    def invalidate(self, key: Hashable | None = None) -> None:
        if key is None:
            self._values.clear()
        else:
            self._values.pop(key, None)
