"""Executor processes killed and stopped for real: SIGKILL then restart on the same data dir
re-adopts the running performers (or restarts dead ones from their stored artifacts) with no
duplicates and no orphans; SIGTERM drains in-flight tasks, stops the performers and closes
the store cleanly. Performer processes are found on the machine by a marker in their
environment, so orphans cannot hide."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid

import grpc
import pytest

from ponos.config.common import StorageConfig
from ponos.storage import ExecutorStore, open_engine
from tests.executor.harness import (
    RECORDING,
    ExecutorClient,
    SigningAggregator,
    config_data,
    kill_marked,
    load,
    new_executor_process,
    processes_with_env,
    rpc_error,
    running_executor,
    wait_until,
)
from tests.executor.recording_performer import recorded
from tests.executor.test_management import artifact, deploy_request

pytestmark = pytest.mark.asyncio(loop_factories=["uvloop"])

OTHER_AVS = "0x" + "5a" * 20  # deployed through DeployArtifact only, not in the config


def log_entries(executor, message: str) -> list[dict]:
    return [entry for entry in executor.logs() if entry.get("msg") == message]


def performer_view(performers) -> dict[str, tuple[str, str]]:
    return {p.performer_id: (p.avs_address, p.status) for p in performers}


async def test_sigkilled_executor_restarts_with_the_same_performers_and_no_orphans(
    devnet, tmp_path
):
    mark = uuid.uuid4().hex
    record = tmp_path / "record.jsonl"
    data = config_data(
        devnet, tmp_path, command=RECORDING, envs={"RECORD_FILE": str(record), "MARK": mark}
    )
    executor = new_executor_process(data, tmp_path)
    aggregator = SigningAggregator(devnet)
    url, digest = artifact(tmp_path / "other.py")
    executor.start()
    client = ExecutorClient(executor.target)
    try:
        await executor.wait_serving()
        await client.executor.DeployArtifact(
            deploy_request(OTHER_AVS, url, digest, MARK=mark), timeout=60
        )
        before = performer_view(await client.performers())
        pids_before = processes_with_env("MARK", mark)
        answered = aggregator.submission(b"0x0b")
        first = await client.executor.SubmitTask(answered, timeout=30)
        interrupted = aggregator.submission(b"wait 60000 0x02")
        pending = asyncio.ensure_future(client.executor.SubmitTask(interrupted, timeout=90))
        await wait_until(lambda: any(e["task_id"] == interrupted.task_id for e in recorded(record)))

        executor.kill()  # SIGKILL: no shutdown code runs
        assert (await rpc_error(pending)).code() == grpc.StatusCode.UNAVAILABLE
        assert processes_with_env("MARK", mark) == pids_before  # performers outlive it

        executor.start()
        await executor.wait_serving()
        after = performer_view(await client.performers())
        pids_after = processes_with_env("MARK", mark)
        again = await client.executor.SubmitTask(answered, timeout=30)
        messages = executor.messages()
        loaded = log_entries(executor, "Loaded performer")
    finally:
        await client.close()
        executor.ensure_stopped()
        kill_marked("MARK", mark)
    assert len(before) == 2 and len(pids_before) == 2
    assert {avs for avs, _ in before.values()} == {devnet.deployment.avs, OTHER_AVS}
    assert after == before  # same ids, same AVSs, all in service: no duplicates
    assert pids_after == pids_before  # re-adopted, not restarted: no orphans
    for line in ("Loading performer states", "Loaded 2 performer states from storage"):
        assert line in messages
    assert "Recovered 1 inflight tasks from storage" in messages
    assert messages.index("Loading performer states") < messages.index(
        "Loaded 2 performer states from storage"
    )
    assert {e["performer_id"]: e["action"] for e in loaded} == {pid: "re-adopted" for pid in before}
    assert all(e["application_healthy"] and e["resource_healthy"] for e in loaded)
    # The task answered before the crash is answered again from the store, not re-run.
    assert again == first
    assert sum(e["task_id"] == answered.task_id for e in recorded(record)) == 1


async def test_dead_performers_are_restarted_from_their_stored_artifacts_after_a_crash(
    devnet, tmp_path
):
    mark = uuid.uuid4().hex
    data = config_data(devnet, tmp_path, envs={"MARK": mark})
    executor = new_executor_process(data, tmp_path)
    url, digest = artifact(tmp_path / "other.py")
    aggregator = SigningAggregator(devnet)
    executor.start()
    client = ExecutorClient(executor.target)
    try:
        await executor.wait_serving()
        await client.executor.DeployArtifact(
            deploy_request(OTHER_AVS, url, digest, MARK=mark), timeout=60
        )
        before = {p.performer_id: p for p in await client.performers()}
        executor.kill()
        old_pids = processes_with_env("MARK", mark)
        for pid in old_pids:  # the machine rebooted, say: the performers are gone too
            os.kill(pid, signal.SIGKILL)
        await wait_until(lambda: processes_with_env("MARK", mark) == [])

        executor.start()
        await executor.wait_serving()
        after = {p.performer_id: p for p in await client.performers()}
        new_pids = processes_with_env("MARK", mark)
        result = await client.executor.SubmitTask(aggregator.submission(b"0x0d"), timeout=30)
        loaded = log_entries(executor, "Loaded performer")
        status = executor.terminate()
        left = processes_with_env("MARK", mark)
    finally:
        await client.close()
        executor.ensure_stopped()
        kill_marked("MARK", mark)
    assert after.keys() == before.keys()
    for performer_id, performer in after.items():
        assert performer.artifact_digest == before[performer_id].artifact_digest
        assert performer.container_id != before[performer_id].container_id
        assert performer.resource_healthy and performer.application_healthy
    assert len(new_pids) == 2 and not set(new_pids) & set(old_pids)
    assert {e["action"] for e in loaded} == {"restarted from stored artifact"}
    assert result.output == b"0xa9"
    assert status == 0 and left == []


async def test_sigterm_drains_in_flight_tasks_stops_performers_and_closes_the_store(
    devnet, tmp_path
):
    mark = uuid.uuid4().hex
    record = tmp_path / "record.jsonl"
    data = config_data(
        devnet, tmp_path, command=RECORDING, envs={"RECORD_FILE": str(record), "MARK": mark}
    )
    executor = new_executor_process(data, tmp_path)
    aggregator = SigningAggregator(devnet)
    executor.start()
    client = ExecutorClient(executor.target)
    try:
        await executor.wait_serving()
        [performer] = await client.performers()
        gate = tmp_path / "gate"
        slow = aggregator.submission(b"gate " + str(gate).encode() + b" 0x03")
        pending = asyncio.ensure_future(client.executor.SubmitTask(slow, timeout=60))
        await wait_until(lambda: any(e["task_id"] == slow.task_id for e in recorded(record)))
        executor.proc.send_signal(signal.SIGTERM)
        await wait_until(lambda: "Shutting down" in executor.messages())
        # The task is held by the gate: the executor is draining, still answering.
        health_during = await client.health_status()
        refused = await rpc_error(client.executor.SubmitTask(aggregator.submission(), timeout=10))
        listed_during = await client.performers()
        gate.touch()
        result = await pending
        status = await asyncio.to_thread(executor.proc.wait, 60)
        performers_left = processes_with_env("MARK", mark)
        messages = executor.messages()
    finally:
        await client.close()
        executor.ensure_stopped()
        kill_marked("MARK", mark)
    assert health_during == "NOT_SERVING"
    assert refused.code() == grpc.StatusCode.UNAVAILABLE
    assert "shutting down" in refused.details()
    assert [p.performer_id for p in listed_during] == [performer.performer_id]
    assert result.output == b"0x09"
    assert status == 0
    assert performers_left == []
    order = ["Shutting down", "In-flight tasks finished", "Performers stopped", "Storage closed"]
    assert [m for m in messages if m in order] == order
    # The store reopens cleanly: nothing in flight, the answer kept, every record intact.
    storage = StorageConfig(type="rocksdb")
    storage.rocksdb.dir = data["storage"]["rocksdb"]["dir"]
    engine = open_engine(storage, "executor")
    try:
        store = ExecutorStore(engine)
        assert store.list_inflight() == []
        assert store.get_processed(slow.task_id).output == b"0x09"
        assert [s.performer_id for s in store.list_performers()] == [performer.performer_id]
        assert store.verify() == []
    finally:
        await engine.close()


async def test_restarts_keep_stored_performers_unless_the_config_changed(devnet, tmp_path):
    """Same config: the stored performer comes back under its id (restarted from its stored
    artifact after a graceful stop). Changed config: the configured performer replaces it."""
    first_mark, second_mark = uuid.uuid4().hex, uuid.uuid4().hex
    data = config_data(devnet, tmp_path, envs={"MARK": first_mark})
    async with running_executor(load(data, tmp_path)) as (_, client):
        [original] = await client.performers()
    async with running_executor(load(data, tmp_path)) as (_, client):
        [same] = await client.performers()
        same_pids = processes_with_env("MARK", first_mark)
    changed = config_data(devnet, tmp_path, envs={"MARK": second_mark})
    async with running_executor(load(changed, tmp_path)) as (service, client):
        [replaced] = await client.performers()
        old_pids = processes_with_env("MARK", first_mark)
        new_pids = processes_with_env("MARK", second_mark)
        stored = [s.performer_id for s in service.store.list_performers()]
    assert same.performer_id == original.performer_id
    assert same.container_id != original.container_id and len(same_pids) == 1
    assert replaced.performer_id != original.performer_id
    assert replaced.status == "InService" and replaced.application_healthy
    assert old_pids == [] and len(new_pids) == 1
    assert stored == [replaced.performer_id]


async def test_sigterm_during_start_up_stops_without_waiting_for_the_deploy(devnet, tmp_path):
    mark = uuid.uuid4().hex
    stuck = [sys.executable, "-c", "import time; time.sleep(600)"]
    data = config_data(devnet, tmp_path, command=stuck, envs={"MARK": mark}, deployTimeout="10m")
    executor = new_executor_process(data, tmp_path)
    executor.start()
    try:
        await wait_until(lambda: processes_with_env("MARK", mark) != [], timeout=60)
        executor.proc.send_signal(signal.SIGTERM)
        # Without the fix it would wait for the 10-minute deploy timeout.
        status = await asyncio.to_thread(executor.proc.wait, 60)
        messages = executor.messages()
    finally:
        executor.ensure_stopped()
        kill_marked("MARK", mark)
    assert status == 0
    assert "Stop requested during start-up" in messages and "Executor stopped" in messages
    assert processes_with_env("MARK", mark) == []
