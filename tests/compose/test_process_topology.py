"""docker-compose.yml's topology, run as processes on loopback, works end to end.

Every service runs the command the file gives it (read through the real Compose binary), in
depends_on order, with its own healthcheck as readiness probe; compose host names become
127.0.0.1 and ports free ones (tests/compose/topology.py). A task created on the chain must
be VERIFIED through aggregator -> executor -> the hello performer as an endpoint performer,
and grpcurl ListPerformers on the executor's gRPC port must list that endpoint performer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ponos.chain.types import TaskStatus
from ponos.devnet.manager import client_for
from tests.compose.topology import ProcessTopology, compose_config

pytestmark = [pytest.mark.devnet, pytest.mark.timeout(600)]

LIST_PERFORMERS = "eigenlayer.hourglass.v1.ExecutorService/ListPerformers"
TASK_TIMEOUT = 90.0


@pytest.fixture
def topology(tmp_path):
    config = compose_config()
    topo = ProcessTopology(config, tmp_path)
    try:
        yield topo
    finally:
        topo.down()
        topo.kill_all()


def wait_verified(directory: Path, task_hash: str, topo: ProcessTopology) -> bytes:
    client = client_for(directory)
    deadline = time.monotonic() + TASK_TIMEOUT
    while time.monotonic() < deadline:
        status = client.task_status(task_hash)
        if status == TaskStatus.VERIFIED:
            return client.task_result(task_hash) or b""
        assert status == TaskStatus.CREATED, topo._fail(f"task is {status.name}", "aggregator")
        time.sleep(0.5)
    raise topo._fail(f"task {task_hash} not verified in {TASK_TIMEOUT:.0f}s", "aggregator")


def test_the_compose_topology_as_processes_verifies_a_task_through_the_endpoint_performer(
    topology: ProcessTopology,
):
    topology.up()
    devnet = topology.path("/var/lib/ponos/devnet")
    deployment = json.loads((devnet / "deployment.json").read_text())
    executor_grpc = topology.port("executor", 9090)
    performer = topology.port("performer", 8080)
    # The executor operator is registered with the compose socket, mapped onto loopback.
    assert [op["socket"] for op in deployment["executors"]] == [f"127.0.0.1:{executor_grpc}"]

    task = subprocess.run(
        [
            sys.executable,
            "-m",
            "ponos",
            "devnet",
            "task",
            "--dir",
            str(devnet),
            "--payload",
            "0x05",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert task.returncode == 0, task.stderr
    task_hash = task.stdout.strip()
    assert wait_verified(devnet, task_hash, topology) == bytes([25])  # 5 squared

    grpcurl = Path(sys.executable).with_name("grpcurl")
    listed = subprocess.run(
        [str(grpcurl), "-plaintext", f"127.0.0.1:{executor_grpc}", LIST_PERFORMERS],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listed.returncode == 0, listed.stderr
    performers = json.loads(listed.stdout)["performers"]
    assert len(performers) == 1
    assert performers[0]["avs_address"] == deployment["avs"]
    assert performers[0]["artifact_registry"] == f"127.0.0.1:{performer}"
    assert performers[0]["status"] == "InService"
    assert performers[0]["application_healthy"] is True

    # Data went where the named volumes are mounted.
    assert (topology.path("/var/lib/ponos/aggregator") / "db").is_dir()
    assert (topology.path("/var/lib/ponos/executor") / "db").is_dir()

    codes = topology.down()
    assert codes == {"aggregator": 0, "executor": 0, "chain": 0, "performer": 0}, codes
