"""docker-compose.yml with a real Docker engine and the real Compose CLI (`make compose-test`
runs only this; `make test` runs it too: about 40 s once the engine and images are cached).

The engine is DOCKER_HOST (or the default socket) when one answers, else the project-local one
(tools/docker_engine.py), started here and stopped again; without either the test is skipped
with the reason. The images are built offline (cached). Then, as an operator would:
`docker-compose up -d --wait`, the operations guide's compose commands, a task created in the
aggregator's container and followed to VERIFIED, grpcurl ListPerformers from the host on the
published gRPC port, the named volumes holding the stores, and `docker-compose down -v`
leaving nothing behind. Each step's duration is printed.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.compose.topology import COMPOSE_FILE, compose_binary, guide_compose_commands
from tests.helpers import ROOT
from tools import docker_engine

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
DEVNET = "/var/lib/ponos/devnet"
LIST_PERFORMERS = "eigenlayer.hourglass.v1.ExecutorService/ListPerformers"
TASK_TIMEOUT = 120.0
HOST_PORTS = {
    "PONOS_HOST_GRPC_PORT": 9090,
    "PONOS_HOST_AGGREGATOR_OPS_PORT": 8080,
    "PONOS_HOST_EXECUTOR_OPS_PORT": 8081,
}


def _quiet(_message: str) -> None:
    """Engine and build progress is not test output."""


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return probe.getsockname()[1]


def completed_tasks(metrics_url: str) -> float:
    """ponos_tasks_total{outcome="completed"} of the aggregator (0 while unreachable)."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as reply:
            text = reply.read().decode()
    except OSError:
        return 0.0
    found = re.search(r'^ponos_tasks_total\{outcome="completed"\} (\S+)$', text, flags=re.M)
    return float(found.group(1)) if found else 0.0


@dataclass
class Timings:
    steps: list[tuple[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def step(self, name: str, since: float) -> None:
        seconds = time.monotonic() - since
        self.steps.append((name, seconds))
        print(f"compose-test: {name}: {seconds:.1f} s", flush=True)

    def report(self) -> str:
        total = time.monotonic() - self.started
        lines = [f"  {name:<58} {seconds:6.1f} s" for name, seconds in self.steps]
        return "\n".join([*lines, f"  {'total':<58} {total:6.1f} s"])


@dataclass
class Compose:
    docker_host: str
    project: str
    env: dict[str, str]

    def run(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(compose_binary()), "-f", str(COMPOSE_FILE), "-p", self.project, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            cwd=ROOT,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"docker-compose {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{self.logs()}"
            )
        return done

    def logs(self) -> str:
        done = subprocess.run(
            [str(compose_binary()), "-f", str(COMPOSE_FILE), "-p", self.project, "logs"],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
        )
        return "\n".join(done.stdout.splitlines()[-60:])


@pytest.fixture(scope="module")
def docker_host() -> Iterator[str]:
    local: docker_engine.LocalEngine | None = None
    since = time.monotonic()
    try:
        explicit = os.environ.get("DOCKER_HOST")
        host = next((h for h in (explicit, DEFAULT_SOCKET) if h and docker_engine.ping(h)), None)
        try:
            if host is None:
                candidate = docker_engine.LocalEngine()
                if candidate.start(timeout=120, log=_quiet):
                    local = candidate
                host = candidate.docker_host
            client = docker_engine.docker_client(host)
            try:
                base = docker_engine.build_base_image(client, log=_quiet)
                docker_engine.build_project_image(client, base=base, log=None)
            finally:
                client.close()
        except docker_engine.EngineUnavailable as exc:
            pytest.skip(f"no Docker engine for the compose test: {exc}")
        print(
            f"\ncompose-test: engine and images ready: {time.monotonic() - since:.1f} s",
            flush=True,
        )
        yield host
    finally:
        if local is not None:
            local.stop(log=_quiet)


def test_docker_compose_up_verifies_a_task_and_down_leaves_nothing(docker_host):
    timings = Timings()
    ports = {
        name: default if _port_free(default) else _free_port()
        for name, default in HOST_PORTS.items()
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PONOS_", "COMPOSE_"))}
    env.update({name: str(port) for name, port in ports.items()})
    env["DOCKER_HOST"] = docker_host
    compose = Compose(docker_host, f"ponos-compose-test-{os.getpid()}", env)
    grpc = ports["PONOS_HOST_GRPC_PORT"]
    print(f"\ncompose-test: engine {docker_host}, project {compose.project}, host ports {ports}")
    try:
        since = time.monotonic()
        compose.run("up", "-d", "--wait", "--wait-timeout", "240", timeout=300)
        timings.step("docker-compose up -d --wait (every healthcheck passing)", since)
        listing = compose.run("ps", "-a", "--format", "json").stdout
        ps = [json.loads(line) for line in listing.splitlines() if line.strip()]
        states = {c["Service"]: (c["State"], c.get("Health", ""), c["ExitCode"]) for c in ps}
        assert states["setup"][0] == "exited" and states["setup"][2] == 0, states
        for name in ("chain", "performer", "executor", "aggregator"):
            assert states[name][:2] == ("running", "healthy"), states

        since = time.monotonic()
        for argv in guide_compose_commands((ROOT / "docs" / "operations.md").read_text()):
            args = argv[1:]
            follow = "-f" in args and args[0] == "logs"
            if follow:  # `logs -f` follows forever: take what it printed in a few seconds
                try:
                    compose.run(*args, timeout=4)
                    raise AssertionError("docker-compose logs -f returned")
                except subprocess.TimeoutExpired as exc:
                    output = (exc.stdout or b"").decode(errors="replace")
                services = set(re.findall(r"^(\w+)-1\s+\|", output, flags=re.M))
                assert {"aggregator", "executor"} <= services, output[-2000:]
            else:
                compose.run(*args)
        timings.step("the operations guide's compose commands", since)

        since = time.monotonic()
        created = compose.run(
            "exec", "-T", "aggregator", "ponos", "devnet", "task", "--dir", DEVNET,
            "--payload", "0x06",
        )  # fmt: skip
        task_hash = created.stdout.strip()
        assert re.fullmatch(r"0x[0-9a-f]{64}", task_hash), created.stdout
        timings.step("`ponos devnet task` in the aggregator's container", since)
        since = time.monotonic()
        # Follow it on the aggregator's published metrics (cheap), then read it on chain.
        metrics = f"http://127.0.0.1:{ports['PONOS_HOST_AGGREGATOR_OPS_PORT']}/metrics"
        deadline = time.monotonic() + TASK_TIMEOUT
        while completed_tasks(metrics) < 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        timings.step("the task completed (aggregator metrics on the host)", since)
        since = time.monotonic()
        status = compose.run(
            "exec", "-T", "aggregator", "ponos", "devnet", "status", "--dir", DEVNET, task_hash
        ).stdout  # fmt: skip
        assert status.split()[1] == "VERIFIED", f"{status}\n{compose.logs()}"
        assert "result    0x24" in status  # 6 squared
        timings.step("`ponos devnet status`: VERIFIED on chain, result 0x24", since)

        since = time.monotonic()
        grpcurl = Path(sys.executable).with_name("grpcurl")
        listed = subprocess.run(
            [str(grpcurl), "-plaintext", f"localhost:{grpc}", LIST_PERFORMERS],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert listed.returncode == 0, listed.stderr
        performers = json.loads(listed.stdout)["performers"]
        assert [(p["artifact_registry"], p["status"]) for p in performers] == [
            ("performer:8080", "InService")
        ], performers
        timings.step(f"grpcurl ListPerformers from the host on localhost:{grpc}", since)

        for service in ("aggregator", "executor"):
            stored = compose.run("exec", "-T", service, "ls", f"/var/lib/ponos/{service}/db")
            assert "CURRENT" in stored.stdout.split(), stored.stdout
    finally:
        since = time.monotonic()
        down = compose.run("down", "-v", "--timeout", "60", check=False, timeout=180)
        timings.step("docker-compose down -v", since)
    assert down.returncode == 0, down.stderr
    left = subprocess.run(
        [str(compose_binary()), "-p", compose.project, "ps", "-a", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert left.stdout.strip() == ""
    client = docker_engine.docker_client(docker_host)
    try:
        volumes = [v.name for v in client.volumes.list() if v.name.startswith(compose.project)]
    finally:
        client.close()
    assert volumes == []
    print("compose-test: passed\n" + timings.report(), flush=True)
