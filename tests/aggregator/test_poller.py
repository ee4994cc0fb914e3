"""The chain poller against a real anvil (through the fault-injecting proxy): range polling,
adaptive ranges, confirmations, reorgs of depth 1-5, RPC faults, resumption."""

from __future__ import annotations

import asyncio
import contextlib
import math

import pytest

from ponos.aggregator.poller import ChainPoller
from ponos.chain.rpc import JsonRpcClient, RetryPolicy
from ponos.config.aggregator import ChainConfig
from ponos.devnet.anvil import rpc_call
from ponos.devnet.reorg import reorg, rollback
from ponos.storage.aggregator_store import AggregatorStore
from ponos.storage.memory import MemoryEngine
from ponos.storage.records import TaskRecord
from tests.aggregator.conftest import events
from tests.support.cluster import wait_until
from tests.support.counts import report_counts
from tests.support.rpc_proxy import Fault, RpcFaultProxy

pytestmark = pytest.mark.devnet

FAST_RETRY = RetryPolicy(attempts=3, initial=0.02, maximum=0.1)


class PollerHarness:
    """A ChainPoller on a memory store, running as a task, recording what it hands over."""

    def __init__(
        self,
        devnet,
        url: str,
        store: AggregatorStore | None = None,
        range_probe_after: int = 32,
        **chain,
    ) -> None:
        self.devnet = devnet
        settings = {
            "name": "devnet",
            "chain_id": 31337,
            "rpc_url": url,
            "poll_interval_seconds": 0.05,
            "rpc_timeout": 1.0,
            **chain,
        }
        self.chain = ChainConfig(**settings)
        self.store = store or AggregatorStore(MemoryEngine("aggregator"))
        self.rpc = JsonRpcClient(url, timeout=self.chain.rpc_timeout, retry=FAST_RETRY)
        self.found: list[TaskRecord] = []
        self.orphaned: list[TaskRecord] = []
        self.poller = ChainPoller(
            self.chain,
            self.rpc,
            self.store,
            devnet.deployment.contracts["TaskMailbox"],
            {devnet.deployment.avs},
            self._found,
            self._orphaned,
            range_probe_after=range_probe_after,
        )
        self._task: asyncio.Task[None] | None = None

    async def _found(self, tasks: list[TaskRecord]) -> None:
        self.found.extend(tasks)

    async def _orphaned(self, tasks: list[TaskRecord]) -> None:
        self.orphaned.extend(tasks)

    async def __aenter__(self) -> PollerHarness:
        self._task = asyncio.create_task(self.poller.run())
        return self

    async def __aexit__(self, *exc) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.rpc.close()

    def cursor(self) -> int | None:
        return self.store.get_cursor(31337)

    async def caught_up(self, block: int, timeout: float = 30.0) -> None:
        await wait_until(
            lambda: (self.cursor() or -1) >= block, timeout, what=f"cursor at block {block}"
        )


def head(devnet) -> int:
    return int(devnet.client.w3.eth.block_number)


def mine(devnet, blocks: int) -> None:
    rpc_call(devnet.rpc_url, "anvil_mine", [hex(blocks)], timeout=120)


async def create(devnet, payload: bytes):
    return await asyncio.to_thread(devnet.client.create_task, payload)


@pytest.fixture
async def proxy(devnet):
    proxy = await RpcFaultProxy(devnet.rpc_url).start()
    yield proxy
    await proxy.stop()


async def test_first_start_begins_at_the_head_and_a_restart_resumes_after_the_cursor(
    devnet, proxy, logs
):
    before = await create(devnet, b"\x01")  # below the head at start: not ours
    mine(devnet, 1)
    start = head(devnet)
    async with PollerHarness(devnet, proxy.url) as h:
        await h.caught_up(start)
        assert events(logs, "No stored cursor")[0]["block"] == start
        task = await create(devnet, b"\x02")
        await h.caught_up(task.block_number)
        assert [t.task_id for t in h.found] == [task.task_hash]
    assert before.task_hash not in {t.task_id for t in h.found}
    mine(devnet, 3)
    late = await create(devnet, b"\x03")
    cursor = h.cursor()
    async with PollerHarness(devnet, proxy.url, store=h.store) as again:
        await again.caught_up(late.block_number)
        assert [t.task_id for t in again.found] == [late.task_hash]
    resumed = events(logs, "Resuming chain polling from block")
    assert resumed and resumed[-1]["block"] == cursor + 1


async def test_backfill_reads_logs_by_range_with_a_few_calls_per_range(devnet, proxy):
    start = head(devnet) + 1
    created = []
    for i in range(12):
        mine(devnet, 19)
        created.append(await create(devnet, bytes([i + 1])))
    end = head(devnet)
    blocks = end - start + 1
    async with PollerHarness(devnet, proxy.url, start_block=start, max_block_range=50) as h:
        await h.caught_up(end, timeout=60)
    assert sorted(t.task_id for t in h.found) == sorted(t.task_hash for t in created)
    stored = {t.task_id: t for t in h.store.list_tasks()}
    assert all(stored[t.task_hash].block_number == t.block_number for t in created)
    ranges = math.ceil(blocks / 50)
    # One eth_getLogs per range, not one per block (the Go original: 1 + k calls per block).
    assert proxy.calls["eth_getLogs"] == ranges
    # Headers: one per range outside the reorg window, and each block inside it once (their
    # hashes are kept for reorg detection), in batches.
    window = h.chain.max_reorg_depth
    assert proxy.calls["eth_getBlockByNumber"] <= ranges + window + 1
    # Per range: eth_blockNumber, eth_getLogs, one header batch (+ a tip check near the head);
    # a per-block poller needs at least two requests per block.
    assert proxy.http_requests < blocks / 10


async def test_range_shrinks_on_range_errors_and_grows_back_to_the_maximum(devnet, proxy):
    start = head(devnet) + 1
    created = []
    for i in range(8):
        mine(devnet, 9)
        created.append(await create(devnet, bytes([i + 1])))
    end = head(devnet)
    limit = proxy.add(Fault("eth_getLogs", "range_limit", max_range=7))
    async with PollerHarness(
        devnet, proxy.url, start_block=start, max_block_range=64, range_probe_after=3
    ) as h:
        await h.caught_up(end, timeout=60)
        assert sorted(t.task_id for t in h.found) == sorted(t.task_hash for t in created)
        spans = list(proxy.log_spans)
        assert spans[0] == (64, True)
        # Once refused, a span is not asked for again (until the probe after 3 ranges at
        # the limit): the size settles at the provider's limit instead of alternating.
        settled = [span for span, _ in spans].index(7)
        for i, (span, refused) in enumerate(spans[:settled]):
            if refused:
                assert all(later < span for later, _ in spans[i + 1 : settled + 1])
        assert sum(refused for _span, refused in spans) <= 8
        assert h.poller.status.range_size < 16
        proxy.faults.remove(limit)
        mine(devnet, 160)
        await h.caught_up(head(devnet), timeout=60)
        assert h.poller.status.range_size == 64


async def test_confirmations_hold_back_the_newest_blocks(devnet, proxy):
    start = head(devnet) + 1
    task = await create(devnet, b"\x05")
    async with PollerHarness(devnet, proxy.url, start_block=start, confirmations=3) as h:
        await asyncio.sleep(0.5)
        assert h.cursor() is None or h.cursor() < task.block_number
        assert h.found == []
        mine(devnet, 3)
        await h.caught_up(task.block_number)
        await asyncio.sleep(0.3)
        assert h.cursor() == head(devnet) - 3
        assert [t.task_id for t in h.found] == [task.task_hash]


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
async def test_reorg_removes_tasks_of_orphaned_blocks(devnet, proxy, logs, depth):
    start = head(devnet) + 1
    async with PollerHarness(devnet, proxy.url, start_block=start) as h:
        keep = await create(devnet, b"\x10")  # below the fork: survives
        mine(devnet, 1)
        gone = [await create(devnet, bytes([0x20 + i])) for i in range(depth)]
        await h.caught_up(head(devnet))
        assert {t.task_id for t in h.found} == {keep.task_hash} | {t.task_hash for t in gone}
        await asyncio.to_thread(reorg, devnet.rpc_url, depth)
        await wait_until(lambda: len(h.orphaned) == depth, 20, what="orphaned tasks reported")
        detected = events(logs, "Block reorganization detected")
        assert detected[-1]["depth"] == depth
        assert {t.task_id for t in h.orphaned} == {t.task_hash for t in gone}
        stored = {t.task_id for t in h.store.list_tasks()}
        assert stored == {keep.task_hash}
        await h.caught_up(head(devnet))
        assert h.store.get_block(31337, head(devnet)).hash == (
            "0x" + bytes(devnet.client.w3.eth.get_block("latest")["hash"]).hex()
        )
        assert h.poller.status.reorgs == 1


@pytest.mark.parametrize("depth", [2, 5])
async def test_reorg_that_reincludes_tasks_in_later_blocks_finds_them_again(devnet, proxy, depth):
    start = head(devnet) + 1
    async with PollerHarness(devnet, proxy.url, start_block=start) as h:
        task = await create(devnet, b"\x30")
        mine(devnet, depth - 1)
        await h.caught_up(head(devnet))
        first = h.store.get_task(task.task_hash)
        result = await asyncio.to_thread(reorg, devnet.rpc_url, depth, True, depth - 1)
        moved_to = task.block_number + depth - 1
        await wait_until(
            lambda: (
                (t := h.store.get_task(task.task_hash)) is not None and t.block_number == moved_to
            ),
            20,
            what="task found again in its new block",
        )
        again = h.store.get_task(task.task_hash)
        assert again.block_hash == result.new_hashes[-1] != first.block_hash
        assert [t.task_id for t in h.orphaned] == [task.task_hash]
        assert [t.task_id for t in h.found] == [task.task_hash, task.task_hash]
        assert len(h.store.list_tasks()) == 1


async def test_shorter_chain_after_a_rollback_is_a_reorg_not_a_lagging_node(devnet, proxy):
    start = head(devnet) + 1
    async with PollerHarness(devnet, proxy.url, start_block=start) as h:
        task = await create(devnet, b"\x40")
        mine(devnet, 2)
        await h.caught_up(head(devnet))
        await asyncio.to_thread(rollback, devnet.rpc_url, 3)  # the task's block is gone
        await wait_until(lambda: h.orphaned, 20, what="orphaned task reported")
        assert [t.task_id for t in h.orphaned] == [task.task_hash]
        assert h.store.get_task(task.task_hash) is None
        assert h.cursor() == task.block_number - 1


async def test_rpc_faults_never_stop_the_poller_and_every_task_is_found_once(devnet, proxy):
    start = head(devnet) + 1
    # Each asserted kind once for certain, then at random rates.
    proxy.add(Fault("eth_getLogs", "http_429", times=1))
    proxy.add(Fault("eth_blockNumber", "rpc_error", times=1, message="header not found"))
    proxy.add(Fault("eth_getBlockByNumber", "null_result", times=1))
    proxy.add(Fault("*", "http_429", probability=0.1))
    proxy.add(Fault("*", "rpc_error", probability=0.05, message="header not found"))
    proxy.add(Fault("*", "http_500", probability=0.05))
    proxy.add(Fault("*", "drop", probability=0.05))
    proxy.add(Fault("*", "stall", probability=0.05, delay=1.5))  # beyond the 1 s timeout
    proxy.add(Fault("eth_getBlockByNumber", "null_result", probability=0.05))
    proxy.add(Fault("eth_blockNumber", "null_result", probability=0.05))
    # The provider refuses every range over 16 blocks. A backlog built before the poller
    # starts makes its first ranges longer than that, so the refusal is certain to be met
    # (a poller keeping up with the head asks for short ranges only).
    proxy.add(Fault("eth_getLogs", "range_limit", max_range=16))
    created = []
    for i in range(6):
        created.append(await create(devnet, bytes([0x50 + i])))
        mine(devnet, 9)
    async with PollerHarness(devnet, proxy.url, start_block=start, max_block_range=64) as h:
        for i in range(6, 12):
            created.append(await create(devnet, bytes([0x50 + i])))
            mine(devnet, 9)
        await h.caught_up(head(devnet), timeout=90)
        ids = [t.task_id for t in h.found]
        assert sorted(ids) == sorted(t.task_hash for t in created)
        assert len(set(ids)) == len(ids)
        assert h.poller.status.consecutive_errors == 0
    kinds = {key.split(":")[1] for key in proxy.injected}
    assert {"http_429", "rpc_error", "null_result", "range_limit"} <= kinds
    report_counts(
        f"poller under RPC faults: tasks created={len(created)} found={len(set(ids))} "
        f"duplicates={len(ids) - len(set(ids))} lost={len(created) - len(set(ids))} "
        f"faults injected={sum(proxy.injected.values())}"
    )


async def test_poller_survives_a_node_outage(devnet, proxy):
    start = head(devnet) + 1
    async with PollerHarness(devnet, proxy.url, start_block=start) as h:
        proxy.blackhole = True
        task = await create(devnet, b"\x60")
        await wait_until(
            lambda: h.poller.status.consecutive_errors >= 1,
            20,
            what="errors while the node is down",
        )
        proxy.blackhole = False
        await h.caught_up(task.block_number, timeout=60)
        assert [t.task_id for t in h.found] == [task.task_hash]
