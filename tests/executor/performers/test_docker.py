"""Docker performers against a real Docker engine: deploy and tasks, blue/green with drain,
restart and recreation, adoption, digest references without pulls, clear errors.

The engine is DOCKER_HOST (or the default socket) when it answers, else the project-local one
(tools/docker_engine.py: Debian's dockerd under .tools/, started here and stopped at the end);
without either the tests are skipped with the reason. Images are built offline once and cached
(the first run on a clean machine takes about five minutes: see the README's "Docker" section).
The project-local engine has no bridge network, so performers use host networking on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import docker
import pytest
from docker.errors import APIError, NotFound

from ponos.executor.performers.base import RuntimeContext
from ponos.executor.performers.docker import (
    LABEL_AVS,
    LABEL_PERFORMER,
    LABEL_PORT,
    DockerRuntime,
    container_name,
)
from ponos.executor.performers.errors import DeploymentFailed, RuntimeUnavailable
from ponos.executor.performers.manager import PerformerManager
from ponos.executor.performers.spec import EnvVar, PerformerSpec
from tests.executor.performers.conftest import AVS
from tools import docker_engine

pytestmark = [pytest.mark.asyncio(loop_factories=["uvloop"]), pytest.mark.timeout(900)]

# Loopback only: the performer binds 127.0.0.1 on the host network.
HELLO_ON_LOOPBACK = ("performer", "hello", "--host", "127.0.0.1")
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class Engine:
    docker_host: str
    hello_image: str
    sleeper_image: str
    sleeper_digest: str
    has_bridge: bool


def _quiet(_message: str) -> None:
    """Progress of the engine and image builds is not test output."""


def _reachable_engine() -> str | None:
    explicit = os.environ.get("DOCKER_HOST")
    for host in (explicit, DEFAULT_SOCKET):
        if host and docker_engine.ping(host):
            return host
    return None


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """A Docker engine with the test images, or a skip saying why there is none."""
    local: docker_engine.LocalEngine | None = None
    try:
        docker_host = _reachable_engine()
        try:
            if docker_host is None:
                candidate = docker_engine.LocalEngine()
                if candidate.start(timeout=120, log=_quiet):
                    local = candidate  # started here: stopped again at the end
                docker_host = candidate.docker_host
            images = docker_engine.build_images(docker_host, log=None)
            digest = docker_engine.digest_reference(docker_host, images.sleeper, log=None)
        except docker_engine.EngineUnavailable as exc:
            pytest.skip(f"no Docker engine for the docker runtime tests: {exc}")
        client = docker.DockerClient(base_url=docker_host)
        has_bridge = any(n.name == "bridge" for n in client.networks.list(names=["bridge"]))
        try:
            yield Engine(docker_host, images.hello, images.sleeper, digest, has_bridge)
        finally:
            labelled = client.containers.list(all=True, filters={"label": f"{LABEL_AVS}={AVS}"})
            for container in labelled:
                container.remove(force=True, v=True)
            client.close()
    finally:
        if local is not None:
            local.stop(log=_quiet)


@pytest.fixture
def engine_client(engine: Engine) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=engine.docker_host)
    yield client
    client.close()


@pytest.fixture
def docker_context(context: RuntimeContext, engine: Engine) -> RuntimeContext:
    context.docker_host = engine.docker_host
    context.environ = {"MY_LEVEL": "7", "PONOS_OPS__ADMIN_TOKEN": "s3cret"}
    return context


@pytest.fixture
async def manager(docker_context: RuntimeContext) -> PerformerManager:
    mgr = PerformerManager(docker_context, drain_timeout=30)
    yield mgr
    await mgr.shutdown(drain_timeout=1)


def hello_spec(engine: Engine, delay_ms: int = 0, **overrides) -> PerformerSpec:
    env = [EnvVar("LEVEL", value_from_env="MY_LEVEL")]
    if delay_ms:
        env.append(EnvVar("TASK_DELAY_MS", str(delay_ms)))
    values = {
        "avs_address": AVS,
        "runtime": "docker",
        "image": engine.hello_image,
        "network_name": "host",
        "command": HELLO_ON_LOOPBACK,
        "env": tuple(env),
        "health_interval": 0.2,
        **overrides,
    }
    return PerformerSpec(**values)


def sleeper_spec(image: str, **overrides) -> PerformerSpec:
    values = {"avs_address": AVS, "runtime": "docker", "image": image, "network_name": "host"}
    return PerformerSpec(**{**values, **overrides})


async def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def gone(client: docker.DockerClient, container_id: str) -> bool:
    try:
        client.containers.get(container_id)
    except NotFound:
        return True
    return False


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- deploy, tasks, listing -------------------------------------------------------------------


async def test_deploy_runs_tasks_in_a_container_listed_with_its_id(manager, engine, engine_client):
    instance = await manager.deploy(hello_spec(engine), "dep-docker", timeout=60)
    [info] = manager.list()
    assert (info.runtime, info.status) == ("docker", "InService")
    assert info.resource_healthy and info.application_healthy
    assert await manager.run_task(AVS, "0xaa", b"0x07", timeout=5) == (b"0xaa", b"0x31")

    container = engine_client.containers.get(info.resource_id)
    assert container.id == info.resource_id  # the full container id, as ListPerformers shows
    assert container.status == "running"
    assert container.name == container_name(AVS, info.performer_id)
    port = info.endpoint.rsplit(":", 1)[1]
    assert info.endpoint == f"127.0.0.1:{port}"
    assert container.labels[LABEL_PERFORMER] == info.performer_id
    assert container.labels[LABEL_AVS] == AVS
    assert container.labels[LABEL_PORT] == port
    env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    assert env["PERFORMER_PORT"] == env["PORT"] == port
    assert env["LEVEL"] == "7"  # valueFromEnv, resolved from the executor's environment
    assert env["AVS_ADDRESS"] == AVS
    assert "PONOS_OPS__ADMIN_TOKEN" not in env  # the executor's own secrets stay with it

    await manager.remove(instance.performer_id)
    assert gone(engine_client, info.resource_id)
    await instance.runtime.stop()  # idempotent: stopping a removed container is no error
    assert not await instance.runtime.is_alive()


async def test_blue_green_drains_the_old_container_before_removing_it(
    manager, engine, engine_client
):
    blue = await manager.deploy(hello_spec(engine, delay_ms=8000), "dep-blue", timeout=60)
    running = asyncio.create_task(manager.run_task(AVS, "0x01", b"0x02", timeout=30))
    await wait_for(lambda: blue.inflight == 1)
    green = await manager.deploy(hello_spec(engine), "dep-green", timeout=60)
    # New tasks go to green at once while blue finishes the task it has.
    assert await manager.run_task(AVS, "0x02", b"0x03", timeout=5) == (b"0x02", b"0x09")
    statuses = {i.performer_id: (i.status, i.resource_id) for i in manager.list()}
    assert statuses == {
        green.performer_id: ("InService", green.runtime.resource_id),
        blue.performer_id: ("Draining", blue.runtime.resource_id),
    }
    assert blue.runtime.resource_id != green.runtime.resource_id
    assert await running == (b"0x01", b"0x04")
    await wait_for(lambda: gone(engine_client, blue.runtime.resource_id))
    await wait_for(lambda: [i.performer_id for i in manager.list()] == [green.performer_id])
    assert engine_client.containers.get(green.runtime.resource_id).status == "running"


# -- restart and recreation -----------------------------------------------------------------


async def test_a_killed_container_is_restarted_in_place(manager, engine, engine_client):
    instance = await manager.deploy(hello_spec(engine), "dep-kill", timeout=60)
    container_id = instance.runtime.resource_id
    engine_client.containers.get(container_id).kill()
    await wait_for(lambda: instance.restarts == 1 and instance.application_healthy, timeout=60)
    assert instance.runtime.resource_id == container_id
    assert engine_client.containers.get(container_id).status == "running"
    assert await manager.run_task(AVS, "0x03", b"0x0a", timeout=5) == (b"0x03", b"0x64")


async def test_a_removed_container_is_recreated_under_the_same_name(manager, engine, engine_client):
    instance = await manager.deploy(hello_spec(engine), "dep-rm", timeout=60)
    old_id = instance.runtime.resource_id
    engine_client.containers.get(old_id).remove(force=True)
    await wait_for(lambda: instance.restarts == 1 and instance.application_healthy, timeout=60)
    [info] = manager.list()
    assert info.resource_id not in ("", old_id)
    recreated = engine_client.containers.get(info.resource_id)
    assert recreated.status == "running"
    assert recreated.name == instance.runtime.container_name
    assert recreated.labels[LABEL_PERFORMER] == instance.performer_id
    assert await manager.run_task(AVS, "0x04", b"0x05", timeout=5) == (b"0x04", b"0x19")


async def test_a_container_that_exits_fails_the_deploy_with_its_exit_code_and_output(
    manager, engine, engine_client
):
    spec = hello_spec(engine, command=("performer", "hello", "--port", "not-a-port"))
    with pytest.raises(DeploymentFailed, match="exit code 2") as failure:
        await manager.deploy(spec, "dep-exit", timeout=60)
    assert "invalid int value" in str(failure.value)  # the performer's own last output
    assert manager.list() == []
    leftovers = engine_client.containers.list(all=True, filters={"label": f"{LABEL_AVS}={AVS}"})
    assert leftovers == []


# -- adoption -------------------------------------------------------------------------------


async def test_a_new_manager_adopts_the_running_container(docker_context, engine):
    first = PerformerManager(docker_context, drain_timeout=5)
    second = PerformerManager(docker_context, drain_timeout=5)
    try:
        spec = hello_spec(engine)
        await first.deploy(spec, "dep-adopt", timeout=60)
        [info] = first.list()
        adopted = await second.avs(AVS).adopt(
            spec, info.performer_id, info.resource_id, info.endpoint, "dep-adopt", info.created_at
        )
        assert adopted is not None
        [seen] = second.list()
        assert (seen.performer_id, seen.resource_id) == (info.performer_id, info.resource_id)
        assert (seen.status, seen.endpoint) == ("InService", info.endpoint)
        assert await second.run_task(AVS, "0x05", b"0x03", timeout=5) == (b"0x05", b"0x09")

        # Only that performer's running container, of that image, is ever taken over.
        other_id = DockerRuntime(spec, "performer-someone-else", docker_context)
        assert not await other_id.adopt(info.resource_id, info.endpoint)
        other_image = DockerRuntime(
            hello_spec(engine, image=engine.sleeper_image), info.performer_id, docker_context
        )
        assert not await other_image.adopt(info.resource_id, info.endpoint)
        missing = DockerRuntime(spec, info.performer_id, docker_context)
        assert not await missing.adopt("0" * 64, info.endpoint)
    finally:
        await second.shutdown(drain_timeout=1)
        await first.shutdown(drain_timeout=1)


async def test_stopped_or_foreign_containers_are_not_adopted(docker_context, engine):
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.container import DockerContainer

    # A container someone else started (here with testcontainers): no ponos labels.
    testcontainers_config.ryuk_disabled = True  # its reaper image cannot be pulled here
    foreign = DockerContainer(
        engine.sleeper_image,
        docker_client_kw={"environment": {"DOCKER_HOST": engine.docker_host}},
    ).with_kwargs(network_mode="host")
    with foreign:
        foreign_id = foreign.get_wrapped_container().id
        runtime = DockerRuntime(sleeper_spec(engine.sleeper_image), "performer-x", docker_context)
        assert not await runtime.adopt(foreign_id, "127.0.0.1:8080")

    # A container of this very performer that is no longer running.
    spec = sleeper_spec(engine.sleeper_image)
    owner = DockerRuntime(spec, "performer-stopped", docker_context)
    await owner.start()
    try:
        client = docker.DockerClient(base_url=engine.docker_host)
        client.api.stop(owner.resource_id, timeout=0)
        client.close()
        again = DockerRuntime(spec, "performer-stopped", docker_context)
        assert not await again.adopt(owner.resource_id, owner.endpoint)
    finally:
        await owner.stop()


# -- images ---------------------------------------------------------------------------------


async def test_a_digest_reference_runs_the_local_image_without_a_pull(
    docker_context, engine, engine_client
):
    reference = engine.sleeper_digest  # 127.0.0.1:PORT/ponos-sleeper@sha256:...
    repository, digest = reference.split("@")
    assert digest.startswith("sha256:")
    # The registry it came from is gone: any pull of this reference would fail.
    with pytest.raises(APIError):
        engine_client.images.pull(repository, tag=digest)
    runtime = DockerRuntime(sleeper_spec(reference), "performer-digest", docker_context)
    await runtime.start()
    try:
        assert await runtime.is_alive()
        container = engine_client.containers.get(runtime.resource_id)
        assert container.attrs["Config"]["Image"] == reference
        assert container.image.id == engine_client.images.get(engine.sleeper_image).id
    finally:
        await runtime.stop()
    assert gone(engine_client, runtime.resource_id)


async def test_a_missing_image_fails_the_deploy_naming_the_image(manager, engine, engine_client):
    image = f"127.0.0.1:{closed_port()}/ponos/absent:1"
    with pytest.raises(DeploymentFailed, match="could not be pulled") as failure:
        await manager.deploy(hello_spec(engine, image=image), "dep-missing", timeout=30)
    assert image in str(failure.value)
    assert manager.list() == []
    assert engine_client.containers.list(all=True, filters={"ancestor": image}) == []


# -- networks -------------------------------------------------------------------------------


async def test_a_named_network_is_created_and_the_endpoint_is_the_container_name(
    docker_context, engine, engine_client
):
    network = f"ponos-test-{uuid.uuid4().hex[:8]}"
    runtime = DockerRuntime(
        sleeper_spec(engine.sleeper_image, network_name=network), "performer-net", docker_context
    )
    try:
        await runtime.start()
        created = engine_client.networks.get(network)
        assert created.attrs["Driver"] == "bridge"
        assert created.attrs["Options"]["com.docker.network.bridge.enable_icc"] == "true"
        container = engine_client.containers.get(runtime.resource_id)
        assert list(container.attrs["NetworkSettings"]["Networks"]) == [network]
        assert container.attrs["Config"]["Hostname"] == runtime.container_name
        assert runtime.endpoint == f"{runtime.container_name}:8080"
        env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
        assert env["PERFORMER_PORT"] == "8080"
    finally:
        await runtime.stop()
        with contextlib.suppress(NotFound):
            engine_client.networks.get(network).remove()


async def test_a_published_port_serves_tasks_on_loopback(manager, engine):
    if not engine.has_bridge:
        pytest.skip(
            "this engine has no default bridge network (dockerd --bridge=none), so no port "
            "can be published on it"
        )
    spec = hello_spec(engine, network_name=None, command=())
    instance = await manager.deploy(spec, "dep-publish", timeout=60)
    assert instance.runtime.endpoint.startswith("127.0.0.1:")
    assert await manager.run_task(AVS, "0x06", b"0x04", timeout=5) == (b"0x06", b"0x10")


async def test_without_a_bridge_publishing_is_a_clear_error(manager, engine):
    if engine.has_bridge:
        pytest.skip(
            "this engine has a default bridge network, so the error of an engine without one "
            "cannot be produced on it (the published-port test runs instead)"
        )
    with pytest.raises(DeploymentFailed, match="no default bridge network"):
        await manager.deploy(hello_spec(engine, network_name=None), "dep-nobridge", timeout=30)
    assert manager.list() == []


# -- no engine ------------------------------------------------------------------------------


async def test_an_unreachable_engine_is_reported_with_the_docker_host_tried(context, tmp_path):
    context.docker_host = f"unix://{tmp_path}/no-docker.sock"
    spec = sleeper_spec("ponos-sleeper:busybox")
    with pytest.raises(RuntimeUnavailable, match=f"DOCKER_HOST={context.docker_host}"):
        await DockerRuntime(spec, "performer-nowhere", context).start()
    manager = PerformerManager(context)
    with pytest.raises(RuntimeUnavailable, match="No such file or directory"):
        await manager.deploy(spec, "dep-nowhere", timeout=5)
    assert manager.list() == []
