"""Ops against the real services: a devnet, three executors and the aggregator as processes,
the aggregator's RPC going through a fault proxy so the node can be "stopped".

Proves: metrics are exposed and change under load; readiness flips when the RPC node stops
and back when it returns; a snapshot taken through the endpoint while tasks flow restores and
verifies; SIGTERM exits 0 and leaves stores with nothing to recover (empty write-ahead logs)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from ponos.chain.types import TaskStatus
from ponos.devnet.demo import Demo, DemoOptions
from ponos.devnet.manager import UpOptions, client_for, devnet_down, devnet_up
from tests.support.rpc_proxy import ProxyThread
from tests.test_demo import _free_block

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def http(url: str, method: str = "GET", timeout: float = 60) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def metric(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$"
    match = re.search(pattern, text, flags=re.M)
    return float(match.group(1)) if match else 0.0


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


class Topology:
    def __init__(self, root: Path) -> None:
        base = _free_block(12)
        self.devnet = root / "devnet"
        self.base = base
        devnet_up(
            UpOptions(
                directory=self.devnet, port=base, grpc_base_port=base + 1, ops_base_port=base + 5
            )
        )
        self.proxy_thread = ProxyThread(f"http://127.0.0.1:{base}")
        self.proxy = self.proxy_thread.start()
        config_path = self.devnet / "aggregator.yaml"
        config = yaml.safe_load(config_path.read_text())
        for chain in config["chains"]:
            chain["rpcUrl"] = self.proxy.url
            chain["pollIntervalSeconds"] = 1
        config_path.write_text(yaml.safe_dump(config))
        self.demo = Demo(DemoOptions(directory=self.devnet, hold=False), out=open("/dev/null", "w"))  # noqa: SIM115
        for i in range(3):
            self.demo.start_service(
                f"executor-{i}",
                ["executor", "run", "--config", str(self.devnet / f"executor-{i}.yaml")],
            )
        self.demo.start_service("aggregator", ["aggregator", "run", "--config", str(config_path)])
        self.ports = self.demo.ops_ports()
        for name, port in self.ports.items():
            self.demo.wait_ready(name, port)
        self.client = client_for(self.devnet)

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def process(self, name: str) -> subprocess.Popen:
        return dict(self.demo.processes)[name]

    def verified(self, task_hashes: list[str]) -> bool:
        return all(self.client.task_status(t) == TaskStatus.VERIFIED for t in task_hashes)

    def close(self) -> None:
        self.demo.stop_services()
        self.proxy_thread.stop()
        devnet_down(self.devnet)


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    topo = Topology(tmp_path_factory.mktemp("live"))
    try:
        yield topo
    finally:
        topo.close()


def test_metrics_are_exposed_and_change_under_load(topology):
    executors = [f"executor-{i}" for i in range(3)]

    def executed(texts):
        return sum(metric(t, "ponos_executor_tasks_total", '{outcome="completed"}') for t in texts)

    _, before_agg = http(topology.url("aggregator", "/metrics"))
    before_exe = [http(topology.url(e, "/metrics"))[1] for e in executors]
    tasks = [topology.client.create_task(bytes([n])).task_hash for n in range(10, 15)]
    wait_for(lambda: topology.verified(tasks), 90, "5 tasks verified")
    _, after_agg = wait_for(
        lambda: (
            lambda r: (
                r
                if metric(r[1], "ponos_tasks_total", '{outcome="completed"}')
                >= metric(before_agg, "ponos_tasks_total", '{outcome="completed"}') + 5
                else None
            )
        )(http(topology.url("aggregator", "/metrics"))),
        30,
        "the completed-tasks counter",
    )
    after_exe = [http(topology.url(e, "/metrics"))[1] for e in executors]
    assert metric(after_agg, "ponos_task_duration_seconds_count", '{outcome="completed"}') >= 5
    assert metric(
        after_agg, "ponos_rpc_requests_total", '{chain_id="31337",method="eth_getLogs"}'
    ) > metric(before_agg, "ponos_rpc_requests_total", '{chain_id="31337",method="eth_getLogs"}')
    assert metric(after_agg, "ponos_chain_last_processed_block", '{chain_id="31337"}') > 0
    # Every verified task was signed by at least two of the three executors (6667 bips).
    assert executed(after_exe) >= executed(before_exe) + 10
    for text in after_exe:
        assert metric(text, "ponos_performers", '{health="healthy",status="InService"}') == 1
    for text in (after_agg, *after_exe):
        assert "ponos_build_info{" in text and "ponos_storage_live_data_bytes" in text
        assert "0x" not in "".join(line for line in text.splitlines() if not line.startswith("#"))


def test_readiness_flips_when_the_rpc_node_stops_and_returns(topology):
    assert http(topology.url("aggregator", "/readyz"))[0] == 200
    topology.proxy.blackhole = True
    try:
        _, body = wait_for(
            lambda: (lambda r: r if r[0] == 503 else None)(
                http(topology.url("aggregator", "/readyz"))
            ),
            20,
            "readiness to turn off",
        )
        checks = json.loads(body)["checks"]
        assert checks["rpc:31337"]["ok"] is False
        assert http(topology.url("aggregator", "/eigen/node/health"))[0] in (206, 503)
        assert http(topology.url("aggregator", "/healthz"))[0] == 200  # alive all along
    finally:
        topology.proxy.blackhole = False
    wait_for(
        lambda: http(topology.url("aggregator", "/readyz"))[0] == 200, 60, "readiness to return"
    )


def test_snapshot_under_load_restores_and_verifies(topology, tmp_path):
    stop = threading.Event()
    created: list[str] = []

    def load():
        n = 30
        while not stop.is_set():
            created.append(topology.client.create_task(bytes([n % 250 + 1])).task_hash)
            n += 1
            time.sleep(0.2)

    writer = threading.Thread(target=load, daemon=True)
    writer.start()
    try:
        wait_for(lambda: len(created) >= 3, 30, "tasks to flow")
        status, body = http(
            topology.url("aggregator", "/admin/snapshots?wait=true"), "POST", timeout=120
        )
    finally:
        stop.set()
        writer.join(30)
    assert status == 201, body
    manifest = json.loads(body)
    assert manifest["verified"] is True and manifest["counts"]["task"] >= 1
    target = tmp_path / "restored"
    ponos = [sys.executable, "-m", "ponos", "db"]
    restore = subprocess.run(
        [*ponos, "restore", "--snapshot", manifest["path"], "--dir", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restore.returncode == 0, restore.stderr
    verify = subprocess.run(
        [*ponos, "verify", "--dir", str(target), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stderr
    report = json.loads(verify.stdout)
    assert report["ok"] is True and report["counts"]["task"] == manifest["counts"]["task"]
    wait_for(lambda: topology.verified(created), 120, "the tasks created during the snapshot")


def test_sigterm_exits_cleanly_leaving_nothing_to_recover(topology):
    """Last in the module: it stops the services."""
    for name in ("aggregator", "executor-0"):
        process = topology.process(name)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        data = topology.devnet / "data" / name
        wal = sum(p.stat().st_size for p in data.glob("*.log"))
        assert wal == 0, f"{name} left {wal} bytes of write-ahead log to replay"
        info = subprocess.run(
            [sys.executable, "-m", "ponos", "db", "info", "--dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert info.returncode == 0, info.stderr
