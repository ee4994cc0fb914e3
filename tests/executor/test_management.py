"""DeployArtifact, ListPerformers and RemovePerformer over gRPC on a real executor: process
artifacts are content-addressed, blue/green deploys drain the old performer, concurrent
deploys and timeouts are refused with their codes, removal is immediate, and a performer
that crashes is restarted under the same id."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from ponos.pb import executor_pb2
from ponos.storage.status import DeploymentStatus
from tests.executor.harness import (
    RECORDING,
    SigningAggregator,
    config_data,
    load,
    processes_with_env,
    rpc_error,
    running_executor,
    wait_until,
)
from tests.executor.recording_performer import recorded


def artifact(path: Path, *, before_serving: str = "", note: str = "") -> tuple[str, str]:
    """A hello performer as a single-file process artifact: (registry_url, digest)."""
    path.write_text(
        f'"""Hello performer artifact. {note}"""\n'
        "import sys\n"
        f"{before_serving}\n"
        "from ponos.performer.__main__ import main\n"
        "sys.exit(main())\n"
    )
    return str(path), digest_of(path)


def recording_artifact(path: Path) -> tuple[str, str]:
    """The recording performer (tests/executor/recording_performer.py) as an artifact."""
    shutil.copyfile(RECORDING[1], path)
    return str(path), digest_of(path)


def digest_of(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def deploy_request(avs: str, registry_url: str, digest: str, **env: str):
    return executor_pb2.DeployArtifactRequest(
        avs_address=avs,
        registry_url=registry_url,
        digest=digest,
        env=[executor_pb2.PerformerEnv(name=k, value=v) for k, v in env.items()],
    )


def pid_of(performer: executor_pb2.Performer) -> int:
    return int(performer.container_id.split(":")[0])


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.asyncio(loop_factories=["uvloop"])
async def test_blue_green_deploy_drains_the_old_performer_and_lists_live_performers_only(
    devnet, tmp_path
):
    avs = devnet.deployment.avs
    aggregator = SigningAggregator(devnet)
    # Blue is the recording performer as an artifact: its task waits for a gate file, so the
    # test decides when blue's in-flight task ends (no race against the green deploy).
    blue_url, blue_digest = recording_artifact(tmp_path / "blue.py")
    green_url, green_digest = artifact(tmp_path / "green.py", note="green")
    gate = tmp_path / "gate"
    config = load(config_data(devnet, tmp_path), tmp_path)
    async with running_executor(config) as (service, client):
        [configured] = await client.performers()
        reply = await client.executor.DeployArtifact(
            deploy_request(avs, blue_url, blue_digest, RECORD_FILE=str(tmp_path / "rec")),
            timeout=60,
        )
        assert reply.success and reply.message == "Deployment completed successfully"
        [blue] = await client.performers()  # the configured one was drained and removed
        assert blue.performer_id != configured.performer_id
        assert (blue.artifact_registry, blue.artifact_digest) == (blue_url, blue_digest)
        assert (blue.status, blue.resource_healthy, blue.application_healthy) == (
            "InService",
            True,
            True,
        )
        checked = datetime.strptime(blue.last_health_check, "%Y-%m-%dT%H:%M:%SZ")
        assert abs((datetime.now(UTC).replace(tzinfo=None) - checked).total_seconds()) < 60
        assert alive(pid_of(blue))

        # A task runs on blue, held by the gate, while green is deployed.
        held = aggregator.submission(b"gate " + str(gate).encode() + b" 0x05")
        slow = asyncio.ensure_future(client.executor.SubmitTask(held, timeout=60))
        await wait_until(
            lambda: any(e["task_id"] == held.task_id for e in recorded(tmp_path / "rec"))
        )
        reply = await client.management.DeployArtifact(
            deploy_request(avs, green_url, green_digest), timeout=60
        )
        during = {p.performer_id: p.status for p in await client.performers()}
        fast = await client.executor.SubmitTask(aggregator.submission(b"0x06"), timeout=10)
        assert not slow.done() and alive(pid_of(blue))  # blue still works on its task
        gate.touch()
        assert (await slow).output == b"0x19"  # blue finished its task before it was removed
        [green_id] = [pid for pid, status in during.items() if status == "InService"]
        assert during == {green_id: "InService", blue.performer_id: "Draining"}
        assert fast.output == b"0x24"  # answered by green while blue was draining

        def blue_gone() -> bool:
            stored = {s.performer_id for s in service.store.list_performers()}
            return not alive(pid_of(blue)) and stored == {green_id}

        await wait_until(blue_gone)
        [green] = await client.performers()
        assert green.performer_id == green_id
        assert (green.artifact_registry, green.artifact_digest) == (green_url, green_digest)
        deployment = service.store.get_deployment(reply.deployment_id)
    assert deployment is not None and deployment.status == DeploymentStatus.RUNNING
    # The artifact ran from the executor's content-addressed store, not from its source path.
    stored = Path(config.performer_dir) / "artifacts" / green_digest.replace(":", "-")
    assert stored.with_suffix(".py").read_bytes() == Path(green_url).read_bytes()  # noqa: ASYNC240


async def test_deploy_artifact_refuses_bad_requests_and_changes_nothing(devnet, tmp_path):
    avs = devnet.deployment.avs
    url, digest = artifact(tmp_path / "perf.py")
    wrong_digest = "sha256:" + "0" * 64
    cases = [
        ("avs_address", deploy_request("", url, digest)),
        ("avs_address", deploy_request("0x1234", url, digest)),
        ("digest", deploy_request(avs, url, "")),
        ("digest", deploy_request(avs, url, "md5:abc")),
        ("registry_url", deploy_request(avs, "", digest)),
        ("digest mismatch", deploy_request(avs, url, wrong_digest)),
        ("no such artifact file", deploy_request(avs, str(tmp_path / "missing.py"), digest)),
    ]
    config = load(config_data(devnet, tmp_path), tmp_path)
    async with running_executor(config) as (service, client):
        before = await client.performers()
        for expected, request in cases:
            error = await rpc_error(client.executor.DeployArtifact(request, timeout=30))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (expected, error.details())
            assert expected in error.details(), (expected, error.details())
        after = await client.performers()
        deployments = service.store.list_deployments()
    assert [p.performer_id for p in after] == [p.performer_id for p in before]
    assert deployments == []
    assert not (Path(config.performer_dir) / "artifacts").exists() or not any(
        (Path(config.performer_dir) / "artifacts").iterdir()
    )


async def test_a_concurrent_deploy_for_the_same_avs_is_already_exists(devnet, tmp_path):
    avs = devnet.deployment.avs
    gate = tmp_path / "gate"
    wait_for_gate = f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.02)"
    slow_url, slow_digest = artifact(tmp_path / "slow.py", before_serving=wait_for_gate)
    url, digest = artifact(tmp_path / "perf.py")
    config = load(config_data(devnet, tmp_path), tmp_path)
    async with running_executor(config) as (service, client):
        first = asyncio.ensure_future(
            client.executor.DeployArtifact(deploy_request(avs, slow_url, slow_digest), timeout=60)
        )
        await wait_until(lambda: service.performers.avs(avs).staged is not None)
        error = await rpc_error(
            client.executor.DeployArtifact(deploy_request(avs, url, digest), timeout=60)
        )
        gate.touch()  # now the first deploy's performer starts serving
        assert (await first).success
        [current] = await client.performers()
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "already in progress" in error.details()
    assert current.artifact_digest == slow_digest


async def test_a_performer_that_never_gets_healthy_is_deadline_exceeded_and_removed(
    devnet, tmp_path
):
    avs = devnet.deployment.avs
    mark = uuid.uuid4().hex
    url, digest = artifact(tmp_path / "stuck.py", before_serving="import time; time.sleep(600)")
    config = load(config_data(devnet, tmp_path, deployTimeout="1500ms"), tmp_path)
    aggregator = SigningAggregator(devnet)
    async with running_executor(config) as (service, client):
        [before] = await client.performers()
        error = await rpc_error(
            client.executor.DeployArtifact(deploy_request(avs, url, digest, MARK=mark), timeout=30)
        )
        [after] = await client.performers()
        result = await client.executor.SubmitTask(aggregator.submission(b"0x03"), timeout=10)
        [deployment] = service.store.list_deployments()
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "did not become healthy" in error.details()
    assert after.performer_id == before.performer_id and after.status == "InService"
    assert result.output == b"0x09"  # the performer in service kept serving
    assert deployment.status == DeploymentStatus.FAILED and deployment.error
    assert processes_with_env("MARK", mark) == []  # the stuck process was stopped


async def test_remove_performer_stops_it_and_unknown_ids_are_not_found(devnet, tmp_path):
    aggregator = SigningAggregator(devnet)
    config = load(config_data(devnet, tmp_path), tmp_path)
    async with running_executor(config) as (service, client):
        [performer] = await client.performers()
        empty = await rpc_error(
            client.executor.RemovePerformer(executor_pb2.RemovePerformerRequest(), timeout=10)
        )
        unknown = await rpc_error(
            client.management.RemovePerformer(
                executor_pb2.RemovePerformerRequest(performer_id="performer-nope"), timeout=10
            )
        )
        reply = await client.executor.RemovePerformer(
            executor_pb2.RemovePerformerRequest(performer_id=performer.performer_id), timeout=30
        )
        listed = await client.performers()
        no_performer = await rpc_error(
            client.executor.SubmitTask(aggregator.submission(), timeout=10)
        )
        again = await rpc_error(
            client.executor.RemovePerformer(
                executor_pb2.RemovePerformerRequest(performer_id=performer.performer_id),
                timeout=10,
            )
        )
        stored = service.store.list_performers()
    assert empty.code() == grpc.StatusCode.INVALID_ARGUMENT and "performer_id" in empty.details()
    assert unknown.code() == grpc.StatusCode.NOT_FOUND and "performer-nope" in unknown.details()
    assert reply.success and performer.performer_id in reply.message
    assert listed == [] and stored == []
    assert not alive(pid_of(performer))
    assert no_performer.code() == grpc.StatusCode.UNAVAILABLE
    assert again.code() == grpc.StatusCode.NOT_FOUND


async def test_list_performers_filters_by_avs_case_insensitively_under_both_service_names(
    devnet, tmp_path
):
    avs = devnet.deployment.avs
    config = load(config_data(devnet, tmp_path), tmp_path)
    async with running_executor(config) as (_, client):
        everything = await client.performers()
        upper = await client.performers("0x" + avs[2:].upper())
        other = await client.performers("0x" + "ee" * 20)
        newer = await client.management.ListPerformers(
            executor_pb2.ListPerformersRequest(avs_address=avs), timeout=10
        )
    assert len(everything) == 1 and everything[0].avs_address == avs
    assert upper == everything == list(newer.performers)
    assert other == []


@pytest.mark.asyncio(loop_factories=["uvloop"])
async def test_a_crashed_performer_is_restarted_under_the_same_id(devnet, tmp_path):
    aggregator = SigningAggregator(devnet)
    config = load(config_data(devnet, tmp_path, health_interval="200ms"), tmp_path)
    async with running_executor(config) as (service, client):
        [before] = await client.performers()
        os.kill(pid_of(before), signal.SIGKILL)

        async def restarted() -> bool:
            [p] = await client.performers()
            return p.container_id != before.container_id and p.application_healthy

        seen_unhealthy = []

        async def watch() -> None:
            while True:
                [p] = await client.performers()
                if not p.resource_healthy:
                    seen_unhealthy.append(p)
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch())
        await wait_until(restarted, timeout=30)
        watcher.cancel()
        [after] = await client.performers()
        result = await client.executor.SubmitTask(aggregator.submission(b"0x08"), timeout=10)
        [state] = service.store.list_performers()
        assert alive(pid_of(after)) and not alive(pid_of(before))
    assert after.performer_id == before.performer_id
    assert seen_unhealthy, "ListPerformers never showed the crashed performer as unhealthy"
    assert result.output == b"0x40"
    assert state.resource_id == after.container_id  # the store follows the restart


@pytest.mark.asyncio(loop_factories=["uvloop"])
async def test_a_performer_alive_but_unhealthy_is_restarted_after_three_failed_checks(
    devnet, tmp_path
):
    record = tmp_path / "record.jsonl"
    aggregator = SigningAggregator(devnet)
    data = config_data(
        devnet,
        tmp_path,
        command=RECORDING,
        envs={"RECORD_FILE": str(record)},
        health_interval="200ms",
    )
    async with running_executor(load(data, tmp_path)) as (_, client):
        [before] = await client.performers()
        await client.executor.SubmitTask(aggregator.submission(b"sick"), timeout=10)
        seen = []

        async def restarted() -> bool:
            [p] = await client.performers()
            seen.append((p.resource_healthy, p.application_healthy))
            return p.container_id != before.container_id and p.application_healthy

        await wait_until(restarted, timeout=30)
        [after] = await client.performers()
        result = await client.executor.SubmitTask(aggregator.submission(b"0x03"), timeout=10)
        assert not alive(pid_of(before))  # the sick process was stopped, not left behind
    assert (True, False) in seen  # alive, not answering SERVING: application unhealthy
    assert after.performer_id == before.performer_id
    assert result.output == b"0x09"
