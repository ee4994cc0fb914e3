"""Performer slots: blue/green deploys with drain, refusal of concurrent deploys, timeouts,
restart of a crashed performer, both health protocols, and endpoint performers."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from ponos.executor.performers.errors import (
    DeploymentFailed,
    DeploymentInProgress,
    DeploymentTimeout,
    NoCurrentPerformer,
    PerformerNotFound,
)
from ponos.executor.performers.manager import PerformerEvents, PerformerManager
from ponos.executor.performers.spec import PerformerSpec
from tests.executor.performers.conftest import AVS, LEGACY, hello_spec

pytestmark = pytest.mark.asyncio(loop_factories=["uvloop"])


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[str, str]] = []
        self.removed: list[str] = []

    def events(self) -> PerformerEvents:
        async def changed(info):
            self.changes.append((info.performer_id, info.status))

        async def removed(performer_id):
            self.removed.append(performer_id)

        return PerformerEvents(changed=changed, removed=removed)


@pytest.fixture
async def manager(context):
    recorder = Recorder()
    mgr = PerformerManager(context, recorder.events(), drain_timeout=30)
    mgr.recorder = recorder
    yield mgr
    await mgr.shutdown(drain_timeout=1)


async def wait_for(predicate, timeout=15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_deploy_puts_a_healthy_performer_in_service(manager):
    instance = await manager.deploy(hello_spec(), "dep-1", timeout=30)
    [info] = manager.list()
    assert info.performer_id == instance.performer_id
    assert info.status == "InService"
    assert info.resource_healthy and info.application_healthy
    assert info.last_health_check is not None
    assert await manager.run_task(AVS, "0xaa", b"0x07", timeout=5) == (b"0xaa", b"0x31")
    assert (instance.performer_id, "Staged") in manager.recorder.changes
    assert (instance.performer_id, "InService") in manager.recorder.changes


async def test_blue_green_drains_the_old_performer_before_removing_it(manager):
    blue = await manager.deploy(hello_spec(delay_ms=5000), "dep-blue", timeout=30)
    running = asyncio.create_task(manager.run_task(AVS, "0x01", b"0x02", timeout=10))
    await wait_for(lambda: blue.inflight == 1)
    green = await manager.deploy(hello_spec(), "dep-green", timeout=30)
    # New tasks go to green at once, while blue still finishes its task.
    assert await manager.run_task(AVS, "0x02", b"0x03", timeout=5) == (b"0x02", b"0x09")
    statuses = {i.performer_id: i.status for i in manager.list()}
    assert statuses == {green.performer_id: "InService", blue.performer_id: "Draining"}
    assert await running == (b"0x01", b"0x04")
    await wait_for(lambda: blue.performer_id in manager.recorder.removed)
    assert [i.performer_id for i in manager.list()] == [green.performer_id]
    assert not await blue.runtime.is_alive()


async def test_concurrent_deploy_for_the_same_avs_is_refused(manager):
    first = asyncio.create_task(manager.deploy(hello_spec(), "dep-a", timeout=30))
    await asyncio.sleep(0.05)
    with pytest.raises(DeploymentInProgress):
        await manager.deploy(hello_spec(), "dep-b", timeout=30)
    await first
    assert len(manager.list()) == 1


async def test_a_performer_that_never_gets_healthy_times_out_and_is_removed(manager):
    spec = hello_spec(command=(sys.executable, "-c", "import time; time.sleep(60)"))
    with pytest.raises(DeploymentTimeout):
        await manager.deploy(spec, "dep-slow", timeout=1.5)
    assert manager.list() == []
    assert len(manager.recorder.removed) == 1


async def test_a_performer_that_exits_fails_the_deploy_fast_with_its_log(manager):
    spec = hello_spec(command=(sys.executable, "-c", "import sys; sys.exit(3)"))
    started = asyncio.get_running_loop().time()
    with pytest.raises(DeploymentFailed, match="exited with code 3") as info:
        await manager.deploy(spec, "dep-exit", timeout=30)
    assert asyncio.get_running_loop().time() - started < 10
    assert ".log" in str(info.value)
    assert manager.list() == []


async def test_crashed_performer_in_service_is_restarted(manager):
    instance = await manager.deploy(hello_spec(interval=0.2), "dep-crash", timeout=30)
    os.kill(int(instance.runtime.resource_id.split(":")[0]), signal.SIGKILL)
    await wait_for(lambda: instance.restarts == 1 and instance.application_healthy, timeout=30)
    assert await manager.run_task(AVS, "0x03", b"0x0a", timeout=5) == (b"0x03", b"0x64")


async def test_legacy_performer_is_health_checked_with_performer_service(manager):
    instance = await manager.deploy(hello_spec(command=LEGACY), "dep-legacy", timeout=30)
    assert instance.application_healthy
    assert instance.client._standard_health is False
    assert await manager.run_task(AVS, "0x04", b"x", timeout=5) == (b"0x04", b"legacy:x")


async def test_remove_and_errors_for_unknown_performers(manager):
    instance = await manager.deploy(hello_spec(), "dep-rm", timeout=30)
    await manager.remove(instance.performer_id)
    assert manager.list() == []
    with pytest.raises(PerformerNotFound):
        await manager.remove(instance.performer_id)
    with pytest.raises(NoCurrentPerformer):
        await manager.run_task(AVS, "0x05", b"0x01", timeout=5)
    with pytest.raises(NoCurrentPerformer):
        await manager.run_task("0x" + "99" * 20, "0x05", b"0x01", timeout=5)


async def test_endpoint_performer_is_routed_and_health_checked_not_managed(manager, context):
    from ponos.performer import PerformerServer
    from ponos.performer.hello import HelloWorker

    server = PerformerServer(HelloWorker(delay_ms=0), port=0, host="127.0.0.1")
    port = await server.start()
    try:
        spec = PerformerSpec(
            avs_address=AVS, runtime="endpoint", endpoint=f"127.0.0.1:{port}", health_interval=0.2
        )
        instance = await manager.deploy(spec, "dep-endpoint", timeout=10)
        assert instance.resource_healthy and instance.application_healthy
        assert await manager.run_task(AVS, "0x06", b"0x02", timeout=5) == (b"0x06", b"0x04")
        await server.stop(0)
        await wait_for(lambda: not instance.resource_healthy, timeout=10)
        assert not instance.application_healthy
    finally:
        await server.stop(0)
