"""SIGKILL the aggregator at random moments while tasks flow, restart it on the same data dir,
repeatedly: in the end every task is verified on chain exactly once, with one transaction per
task, and the store agrees.

The aggregator runs as a real subprocess (`python -m ponos aggregator run`), the chain mines a
block per second (so transactions sit in the mempool for a while, as on a real chain), and the
kills land anywhere: during start-up and recovery, polling, fan-out, between sending a
transaction and its receipt.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from ponos.config.common import StorageConfig
from ponos.storage import AggregatorStore, open_engine
from ponos.storage.status import TaskStatus
from tests.support.cluster import (
    AggregatorProcess,
    account,
    aggregator_settings,
    write_config,
)
from tests.support.counts import report_counts

pytestmark = pytest.mark.devnet

TASKS = 24
KILLS = 6


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def running_since(process: AggregatorProcess, mark: int) -> bool:
    return any("Aggregator is running" in line for line in process.lines()[mark:])


def test_sigkill_at_random_moments_leaves_every_task_verified_exactly_once(ecdsa_cluster, tmp_path):
    cluster = ecdsa_cluster
    cluster.ensure_running()
    cluster.set_interval_mining(1)
    rng = random.Random(20261127)
    client = cluster.net.client
    aggregator = cluster.deployment.aggregator.address
    sent_before = client.w3.eth.get_transaction_count(client.w3.to_checksum_address(aggregator))
    start = cluster.head() + 1
    data_dir = tmp_path / "agg"
    config = write_config(
        tmp_path / "aggregator.yaml",
        aggregator_settings(cluster, data_dir, start_block=start, poll_interval=0.3),
    )
    process = AggregatorProcess(config, tmp_path / "aggregator.log")
    created: list[str] = []
    errors: list[BaseException] = []

    def create_tasks() -> None:
        try:
            for i in range(TASKS):
                created.extend(t.task_hash for t in cluster.create_tasks([bytes([i + 1])]))
                time.sleep(rng.uniform(0.1, 0.6))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    try:
        mark = 0
        process.start()
        creator = threading.Thread(target=create_tasks, daemon=True)
        creator.start()
        for cycle in range(KILLS):
            if cycle == 0:
                time.sleep(rng.uniform(0.2, 2.0))  # during start-up
            else:
                wait_for(lambda m=mark: running_since(process, m), 90, "the aggregator running")
                time.sleep(rng.uniform(0.2, 3.0))
            process.kill()
            mark = len(process.lines())
            process.start()
        creator.join(timeout=120)
        assert not errors, errors
        assert len(created) == TASKS

        def all_verified() -> bool:
            return account(cluster, created, start).lost == 0

        wait_for(all_verified, 120, "every task verified on chain")
        assert process.stop() == 0
    finally:
        process.kill()
        cluster.set_interval_mining(0)

    counts = account(cluster, created, start)
    sent = (
        client.w3.eth.get_transaction_count(client.w3.to_checksum_address(aggregator)) - sent_before
    )
    report_counts(
        counts.line(f"SIGKILL x{KILLS}")
        + f" aggregator starts={process.starts} submitResult transactions={sent}"
    )
    assert (counts.created, counts.verified, counts.duplicates, counts.lost) == (
        TASKS,
        TASKS,
        0,
        0,
    )
    assert sent == TASKS, "a task was submitted more than once"

    engine = open_engine(
        StorageConfig(type="rocksdb", rocksdb={"dir": str(data_dir)}), "aggregator"
    )
    try:
        store = AggregatorStore(engine)
        records = {t.task_id: t for t in store.list_tasks()}
        assert set(created) <= set(records)
        assert {records[t].status for t in created} == {TaskStatus.COMPLETED}
        assert store.verify() == []
    finally:
        engine.close_sync()

    lines = process.lines()
    assert sum("Recovering from storage" in line for line in lines) >= KILLS
    assert any("Resuming chain polling from block" in line for line in lines)
    recovered = [line for line in lines if "pending tasks from storage" in line]
    assert any('"count": 0' not in line for line in recovered), "no kill left open tasks"
