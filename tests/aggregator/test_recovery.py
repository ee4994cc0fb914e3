"""Restarts on the same data dir: range backfill of what happened while the aggregator was
down, and recovery of tasks left pending/processing (resumed, or expired when their deadline
passed meanwhile)."""

from __future__ import annotations

import asyncio
import math

import pytest

from ponos.devnet.anvil import rpc_call
from ponos.storage.status import TaskStatus
from tests.aggregator.conftest import events
from tests.support.cluster import (
    account,
    aggregator_settings,
    load_aggregator_config,
    running_aggregator,
    wait_until,
    write_config,
)
from tests.support.counts import report_counts

pytestmark = [pytest.mark.devnet, pytest.mark.asyncio(loop_factories=["uvloop"])]


def completed(service, ids) -> bool:
    return all(
        (r := service.store.get_task(i)) is not None and r.status == TaskStatus.COMPLETED
        for i in ids
    )


async def test_restart_backfills_the_downtime_by_range_and_verifies_every_task_once(
    ecdsa, tmp_path, logs
):
    cluster = ecdsa
    start = await asyncio.to_thread(cluster.head) + 1
    settings = aggregator_settings(cluster, tmp_path / "agg", start_block=start, maxBlockRange=100)
    config = load_aggregator_config(write_config(tmp_path / "aggregator.yaml", settings))
    async with running_aggregator(config) as service:
        before = [t.task_hash for t in await asyncio.to_thread(cluster.create_tasks, [b"\x01"])]
        await wait_until(lambda: completed(service, before), 60, what="first task completed")
        await wait_until(
            lambda: service.store.get_cursor(31337) >= cluster.head(), 30, what="caught up"
        )
        cursor = service.store.get_cursor(31337)
    downtime = []
    for i in range(15):
        rpc_call(cluster.rpc_url, "anvil_mine", [hex(20)], timeout=60)
        downtime += [
            t.task_hash for t in await asyncio.to_thread(cluster.create_tasks, [bytes([i + 2])])
        ]
    blocks = await asyncio.to_thread(cluster.head) - cursor
    async with running_aggregator(config) as service:
        await wait_until(lambda: completed(service, downtime), 90, what="downtime tasks completed")
        get_logs = service.rpcs[31337].stats.requests["eth_getLogs"]
    counts = account(cluster, before + downtime, start)
    report_counts(counts.line(f"backfill of {blocks} blocks") + f" eth_getLogs calls={get_logs}")
    assert (counts.verified, counts.duplicates, counts.lost) == (16, 0, 0)
    assert events(logs, "Resuming chain polling from block")[-1]["block"] == cursor + 1
    assert get_logs <= math.ceil(blocks / 100) + 10  # +10: rounds at the head after catching up
    assert get_logs < blocks / 10


async def test_restart_resumes_open_tasks_and_expires_those_whose_deadline_passed(
    ecdsa, tmp_path, logs
):
    cluster = ecdsa
    start = await asyncio.to_thread(cluster.head) + 1
    settings = aggregator_settings(cluster, tmp_path / "agg", start_block=start)
    settings["shutdownGrace"] = "0.5s"
    config = load_aggregator_config(write_config(tmp_path / "aggregator.yaml", settings))
    for i in range(3):
        cluster.pause_executor(i)
    try:
        async with running_aggregator(config) as service:
            await asyncio.to_thread(cluster.set_task_sla, 4)
            short = (await asyncio.to_thread(cluster.create_tasks, [b"\x07"]))[0].task_hash
            await asyncio.to_thread(cluster.set_task_sla, 60)
            long = (await asyncio.to_thread(cluster.create_tasks, [b"\x08"]))[0].task_hash
            await wait_until(
                lambda: all(
                    (r := service.store.get_task(i)) is not None
                    and r.status == TaskStatus.PROCESSING
                    for i in (short, long)
                ),
                30,
                what="both tasks processing",
            )
        await asyncio.sleep(5)  # the short task's deadline passes while we are down
    finally:
        for i in range(3):
            cluster.resume_executor(i)
    async with running_aggregator(config) as service:
        await wait_until(lambda: completed(service, [long]), 60, what="open task resumed")
        expired = service.store.get_task(short)
    recovered = events(logs, "Recovered ")
    assert recovered[-1]["count"] == 1 and recovered[-1]["expired"] == 1
    assert expired.status == TaskStatus.EXPIRED
    assert "deadline passed while the aggregator was down" in expired.reason
    counts = account(cluster, [long], start)
    report_counts(counts.line("recovery after a restart"))
    assert (counts.verified, counts.duplicates, counts.lost) == (1, 0, 0)
