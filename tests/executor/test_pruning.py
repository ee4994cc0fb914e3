"""Task records do not grow forever: a processed task's record (the stored answer) expires
after the task's SLA plus `tasks.processedRetentionMargin`, in-flight records left by a crash
expire at their deadline, and the prune loop removes both. The devnet here has a 1 s task
SLA so expiry happens within the test."""

from __future__ import annotations

import time

import pytest

from ponos.config.common import StorageConfig
from ponos.devnet.local import local_devnet
from ponos.storage import ExecutorStore, InflightTask, open_engine
from tests.executor.harness import (
    RECORDING,
    SigningAggregator,
    config_data,
    load,
    new_task_id,
    running_executor,
    wait_until,
)
from tests.executor.recording_performer import recorded

TASK_SLA = 1


@pytest.fixture(scope="module")
def short_sla_devnet():
    with local_devnet(operators=1, curve="ecdsa", task_sla=TASK_SLA) as net:
        yield net


async def test_expired_processed_and_inflight_records_are_pruned(short_sla_devnet, tmp_path):
    net = short_sla_devnet
    record = tmp_path / "record.jsonl"
    data = config_data(
        net,
        tmp_path,
        command=RECORDING,
        envs={"RECORD_FILE": str(record)},
        tasks={"processedRetentionMargin": "500ms", "pruneInterval": "100ms"},
    )
    config = load(data, tmp_path)
    # What a crashed run leaves behind: one task whose deadline has passed, one still running.
    now = time.time()
    avs = net.deployment.avs
    aggregator_address = net.deployment.aggregator.address
    stale, recent = new_task_id(), new_task_id()
    storage = StorageConfig(type="rocksdb")
    storage.rocksdb.dir = config.storage.rocksdb.dir
    engine = open_engine(storage, "executor")
    store = ExecutorStore(engine)
    await store.save_inflight(InflightTask(stale, avs, 1, aggregator_address, now - 60, now - 30))
    await store.save_inflight(InflightTask(recent, avs, 1, aggregator_address, now, now + 1.5))
    await engine.close()

    aggregator = SigningAggregator(net)
    async with running_executor(config) as (service, client):
        after_start = {t.task_id for t in service.store.list_inflight()}
        submission = aggregator.submission(b"0x09")
        first = await client.executor.SubmitTask(submission, timeout=30)
        stored = service.store.get_processed(submission.task_id)
        assert stored is not None
        assert stored.expires_at - stored.processed_at == pytest.approx(TASK_SLA + 0.5, abs=0.01)
        await wait_until(lambda: service.store.get_processed(submission.task_id) is None)
        await wait_until(lambda: service.store.list_inflight() == [])
        # Past its expiry the task id is unknown again: a (late) resubmission runs anew.
        second = await client.executor.SubmitTask(submission, timeout=30)
        expiry_index = list(service.store.engine.scan(b"processed_expiry/"))
    assert after_start == {recent}  # the expired one went at start-up
    assert first.output == second.output == b"0x51"
    assert sum(e["task_id"] == submission.task_id for e in recorded(record)) == 2
    assert len(expiry_index) == 1  # only the second answer's entry is left
