"""Reorgs of depth 1-5 under a running aggregator with real executors: task events removed
(the tasks are gone: they must leave storage) or re-included in later blocks (they must be
found again and verified), verifications orphaned (the task must be verified again), and a
reorg while tasks are still being fanned out. The chain is checked from the outside: every
task that exists on the canonical chain has exactly one TaskVerified event there."""

from __future__ import annotations

import asyncio

import pytest

from ponos.chain.types import TaskStatus as ChainStatus
from ponos.devnet.reorg import reorg
from ponos.storage.status import TaskStatus
from tests.aggregator.conftest import events
from tests.support.cluster import (
    DevnetCluster,
    aggregator_settings,
    load_aggregator_config,
    running_aggregator,
    verified_logs,
    wait_until,
    write_config,
)
from tests.support.counts import report_counts

pytestmark = [pytest.mark.devnet, pytest.mark.asyncio(loop_factories=["uvloop"])]


def settled_on_chain(cluster: DevnetCluster, service, tasks: list[str], start: int) -> bool:
    """Every task either gone from the chain (and from storage) or verified exactly once on
    the canonical chain and completed in storage."""
    counts = verified_logs(
        cluster.net.client.w3, cluster.deployment.contracts["TaskMailbox"], start
    )
    for task_id in tasks:
        on_chain = cluster.net.client.task_status(task_id)
        record = service.store.get_task(task_id)
        if on_chain == ChainStatus.NONE:
            if record is not None:
                return False
            continue
        if counts.get(task_id, 0) != 1 or record is None:
            return False
        if record.status != TaskStatus.COMPLETED:
            return False
    return True


def report(cluster: DevnetCluster, tasks: list[str], start: int, label: str) -> tuple[int, ...]:
    counts = verified_logs(
        cluster.net.client.w3, cluster.deployment.contracts["TaskMailbox"], start
    )
    existing = [t for t in tasks if cluster.net.client.task_status(t) != ChainStatus.NONE]
    verified = sum(1 for t in existing if counts.get(t, 0) >= 1)
    duplicates = sum(max(0, counts.get(t, 0) - 1) for t in existing)
    lost = len(existing) - verified
    report_counts(
        f"{label}: tasks created={len(tasks)} reorged away={len(tasks) - len(existing)} "
        f"verified={verified} duplicates={duplicates} lost={lost}"
    )
    return verified, duplicates, lost


async def start_aggregator(cluster: DevnetCluster, tmp_path, **settings):
    start = await asyncio.to_thread(cluster.head) + 1
    config_dict = aggregator_settings(cluster, tmp_path / "agg", start_block=start)
    config_dict.update(settings)
    config = load_aggregator_config(write_config(tmp_path / "aggregator.yaml", config_dict))
    return start, running_aggregator(config)


async def test_reorgs_of_depth_1_to_5_leave_every_surviving_task_verified_exactly_once(
    ecdsa, tmp_path, logs
):
    cluster = ecdsa
    start, aggregator = await start_aggregator(cluster, tmp_path)
    all_tasks: list[str] = []
    async with aggregator as service:
        for depth in range(1, 6):
            created = await asyncio.to_thread(cluster.create_tasks, [b"\x02", b"\x03"])
            ids = [t.task_hash for t in created]
            all_tasks += ids
            await wait_until(
                lambda ids=ids: all(
                    (r := service.store.get_task(i)) is not None
                    and r.status == TaskStatus.COMPLETED
                    for i in ids
                ),
                60,
                what=f"tasks completed before the depth-{depth} reorg",
            )
            head = await asyncio.to_thread(cluster.head)
            await wait_until(
                lambda h=head: service.store.get_cursor(31337) >= h, 30, what="poller at the head"
            )
            # Odd depths drop the replaced blocks' transactions, even ones mine them again
            # one block later (task events move to a new block hash and height).
            reinclude = depth % 2 == 0
            await asyncio.to_thread(reorg, cluster.rpc_url, depth, reinclude, 1)
            await wait_until(
                lambda d=depth: any(e["depth"] == d for e in events(logs, "Block reorganization")),
                30,
                what=f"the depth-{depth} reorg detected",
            )
            await wait_until(
                lambda tasks=tuple(all_tasks): asyncio.to_thread(
                    settled_on_chain, cluster, service, list(tasks), start
                ),
                60,
                what=f"every task settled after the depth-{depth} reorg",
            )
    verified, duplicates, lost = report(cluster, all_tasks, start, "reorgs of depth 1-5")
    assert (duplicates, lost) == (0, 0)
    assert verified >= 2  # depth 1 orphans only a verification: its task must be verified again
    detected = sorted({e["depth"] for e in events(logs, "Block reorganization detected")})
    assert detected == [1, 2, 3, 4, 5]


async def test_reorg_during_fan_out_cancels_and_reprocesses_the_moved_tasks(ecdsa, tmp_path, logs):
    cluster = ecdsa
    start, aggregator = await start_aggregator(cluster, tmp_path, executors={"callTimeout": "1s"})
    async with aggregator as service:
        for i in range(3):
            cluster.pause_executor(i)
        try:
            created = await asyncio.to_thread(cluster.create_tasks, [b"\x04", b"\x05", b"\x06"])
            ids = [t.task_hash for t in created]
            await wait_until(
                lambda: all(
                    (r := service.store.get_task(i)) is not None
                    and r.status == TaskStatus.PROCESSING
                    for i in ids
                ),
                30,
                what="tasks in fan-out",
            )
            first_blocks = {i: service.store.get_task(i).block_hash for i in ids}
            await asyncio.to_thread(reorg, cluster.rpc_url, 3, True, 2)
            await wait_until(
                lambda: len(events(logs, "Cancelled task from an orphaned block")) >= 1,
                30,
                what="in-flight tasks cancelled",
            )
        finally:
            for i in range(3):
                cluster.resume_executor(i)
        await wait_until(
            lambda: asyncio.to_thread(settled_on_chain, cluster, service, ids, start),
            60,
            what="every moved task verified",
        )
        moved = [i for i in ids if service.store.get_task(i).block_hash != first_blocks[i]]
    verified, duplicates, lost = report(cluster, ids, start, "reorg during fan-out")
    assert (verified, duplicates, lost) == (3, 0, 0)
    assert moved
