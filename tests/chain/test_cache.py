"""The TTL cache for chain reads: single flight, expiry, invalidation, cancellation."""

from __future__ import annotations

import asyncio

import pytest

from ponos.chain.cache import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_misses_share_one_fetch():
    cache: TTLCache[int] = TTLCache(10)
    fetches = 0
    gate = asyncio.Event()

    async def fetch() -> int:
        nonlocal fetches
        fetches += 1
        await gate.wait()
        return 7

    waiters = [asyncio.create_task(cache.get("k", fetch)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiters) == [7] * 5
    assert fetches == 1


async def test_entries_expire_after_the_ttl_and_can_be_invalidated():
    clock = Clock()
    cache: TTLCache[int] = TTLCache(5, clock=clock)
    values = iter(range(100))

    async def fetch() -> int:
        return next(values)

    assert await cache.get("k", fetch) == 0
    clock.now = 4.9
    assert await cache.get("k", fetch) == 0
    clock.now = 5.1
    assert await cache.get("k", fetch) == 1
    cache.invalidate("k")
    assert await cache.get("k", fetch) == 2


async def test_a_failed_fetch_is_not_cached_and_waiters_see_the_error():
    cache: TTLCache[int] = TTLCache(10)
    calls = 0

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise ValueError("node down")
        return 3

    first = asyncio.create_task(cache.get("k", flaky))
    second = asyncio.create_task(cache.get("k", flaky))
    for task in (first, second):
        with pytest.raises(ValueError, match="node down"):
            await task
    assert await cache.get("k", flaky) == 3


async def test_cancelling_the_fetching_caller_lets_a_waiter_fetch_instead():
    cache: TTLCache[int] = TTLCache(10)
    gate = asyncio.Event()
    fetches = 0

    async def fetch() -> int:
        nonlocal fetches
        fetches += 1
        await gate.wait()
        return 1

    owner = asyncio.create_task(cache.get("k", fetch))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(cache.get("k", fetch))
    await asyncio.sleep(0)
    owner.cancel()  # e.g. the gRPC call that triggered the read hit its deadline
    with pytest.raises(asyncio.CancelledError):
        await owner
    await asyncio.sleep(0)
    gate.set()
    assert await waiter == 1  # not cancelled, not failed: it fetched itself
    assert fetches == 2
