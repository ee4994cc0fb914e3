"""ExecutorStore conformance (both backends): performers, deployments with validated
transitions, in-flight tasks, processed tasks with expiry pruning."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from ponos.storage.errors import InvalidRecord, InvalidTransition, RecordNotFound
from ponos.storage.executor_store import ExecutorStore
from ponos.storage.status import DeploymentStatus
from tests.storage.factories import (
    AVS_A,
    AVS_B,
    deployment,
    inflight,
    performer,
    processed,
    task_id,
)


@pytest.fixture
def store(make_engine) -> ExecutorStore:
    return ExecutorStore(make_engine("executor"))


async def test_performer_round_trip_update_list_and_delete(store):
    assert store.get_performer("performer-1") is None
    saved = await store.save_performer(performer(1))
    assert store.get_performer("performer-1") == saved == performer(1)
    await store.save_performer(performer(2, avs=AVS_B))
    assert [p.performer_id for p in store.list_performers()] == ["performer-1", "performer-2"]
    assert [p.performer_id for p in store.list_performers(avs=AVS_B)] == ["performer-2"]
    stopped = dataclasses.replace(
        performer(1), status="stopped", application_healthy=False, resource_id="c-9"
    )
    await store.save_performer(stopped)
    assert store.get_performer("performer-1") == stopped
    await store.delete_performer("performer-1")
    assert store.get_performer("performer-1") is None
    with pytest.raises(RecordNotFound):
        await store.delete_performer("performer-1")


async def test_performer_runtime_and_slot_are_validated(store):
    with pytest.raises(InvalidRecord, match="runtime"):
        await store.save_performer(dataclasses.replace(performer(1), runtime="kubernetes"))
    with pytest.raises(InvalidRecord, match="slot"):
        await store.save_performer(dataclasses.replace(performer(1), slot="blue"))
    with pytest.raises(InvalidRecord, match="performer id"):
        await store.save_performer(dataclasses.replace(performer(1), performer_id="a/b"))


async def test_deployment_lifecycle_and_transitions(store):
    assert store.get_deployment("deploy-1") is None
    await store.save_deployment(deployment(1))
    assert store.get_deployment("deploy-1").status is DeploymentStatus.PENDING
    deploying = await store.update_deployment_status("deploy-1", DeploymentStatus.DEPLOYING)
    assert deploying.completed_at is None
    running = await store.update_deployment_status("deploy-1", "running")
    assert running.completed_at is not None
    with pytest.raises(InvalidTransition, match="from running to pending"):
        await store.update_deployment_status("deploy-1", DeploymentStatus.PENDING)
    failed = await store.update_deployment_status("deploy-1", "failed", error="container exited")
    assert failed.error == "container exited"
    with pytest.raises(InvalidTransition, match="from failed to running"):
        await store.update_deployment_status("deploy-1", "running")
    assert store.get_deployment("deploy-1") == failed
    with pytest.raises(RecordNotFound):
        await store.update_deployment_status("deploy-404", "running")
    await store.save_deployment(deployment(2, avs=AVS_B))
    assert [d.deployment_id for d in store.list_deployments(avs=AVS_B)] == ["deploy-2"]
    assert len(store.list_deployments()) == 2


async def test_inflight_tasks_round_trip(store):
    await store.save_inflight(inflight(1))
    await store.save_inflight(inflight(2))
    assert store.get_inflight(task_id(1)) == inflight(1)
    assert {t.task_id for t in store.list_inflight()} == {task_id(1), task_id(2)}
    await store.delete_inflight(task_id(1))
    assert [t.task_id for t in store.list_inflight()] == [task_id(2)]
    with pytest.raises(RecordNotFound):
        await store.delete_inflight(task_id(1))


async def test_complete_task_moves_inflight_to_processed_atomically(store):
    await store.save_inflight(inflight(1))
    await store.complete_task(processed(1))
    assert store.get_inflight(task_id(1)) is None
    assert store.get_processed(task_id(1)) == processed(1)
    assert store.get_processed(task_id(2)) is None
    assert store.verify() == []


async def test_prune_removes_only_expired_processed_tasks(store):
    for n, expires in [(1, 100.0), (2, 200.0), (3, 300.0)]:
        await store.complete_task(processed(n, expires_at=expires))
    await store.complete_task(processed(3, expires_at=150.0))  # re-processed: new expiry
    assert await store.prune_processed(99.0) == 0
    assert await store.prune_processed(150.0) == 2
    assert store.get_processed(task_id(1)) is None and store.get_processed(task_id(3)) is None
    assert store.get_processed(task_id(2)) is not None
    assert await store.prune_processed(1e9) == 1
    assert await store.prune_processed(1e9) == 0
    assert store.verify() == []


async def test_prune_limit_bounds_one_call(store):
    for n in range(5):
        await store.complete_task(processed(n, expires_at=10.0 + n))
    assert await store.prune_processed(100.0, limit=2) == 2
    assert await store.prune_processed(100.0, limit=None) == 3


async def test_concurrent_performer_writers_and_readers(store):
    async def writer(w):
        for i in range(10):
            await store.save_performer(performer(f"{w}-{i}"))

    async def reader():
        for _ in range(10):
            store.list_performers()
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(w) for w in range(5)), *(reader() for _ in range(5)))
    assert len(store.list_performers(avs=AVS_A)) == 50


async def test_store_refuses_the_other_services_engine(make_engine):
    with pytest.raises(InvalidRecord, match="executor"):
        ExecutorStore(make_engine("aggregator"))
