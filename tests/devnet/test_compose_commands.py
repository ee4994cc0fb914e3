"""`ponos devnet chain` and `ponos devnet deploy`: the devnet split in two for Docker Compose
(a chain service, a one-shot setup service), as real subprocesses against real anvil nodes."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ponos.config import AggregatorConfig, ExecutorConfig, load_config
from ponos.devnet.anvil import Anvil, free_port, rpc_call
from ponos.devnet.artifacts import ARTIFACTS_DIR
from tests.devnet.test_cli_devnet import run_in_process
from tests.helpers import run_cli

pytestmark = pytest.mark.devnet


def listening_addresses(port: int) -> set[str]:
    """Local IPv4 addresses with a listening TCP socket on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, hex_port = fields[1].split(":")
        if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


class ChainProcess:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ponos", "devnet", "chain", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def first_line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline()

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=30)
        return self.process.returncode, out


@pytest.fixture
def chain():
    started: list[ChainProcess] = []

    def start(*args: str) -> ChainProcess:
        started.append(ChainProcess(*args))
        return started[-1]

    yield start
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait()


def test_chain_runs_anvil_in_the_foreground_on_loopback_until_sigterm(chain):
    port = free_port()
    node = chain("--port", str(port))
    line = node.first_line()
    assert f"listening on 127.0.0.1:{port}" in line and "chain 31337" in line
    assert rpc_call(f"http://127.0.0.1:{port}", "eth_chainId") == hex(31337)
    assert listening_addresses(port) == {"127.0.0.1"}
    code, out = node.stop()
    assert code == 0
    assert "Devnet chain stopped (anvil exit code 0)" in out
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_chain_listens_on_every_address_only_when_asked(chain):
    port = free_port()
    node = chain("--host", "0.0.0.0", "--port", str(port))
    assert f"listening on 0.0.0.0:{port}" in node.first_line()
    assert listening_addresses(port) == {"0.0.0.0"}
    assert rpc_call(f"http://127.0.0.1:{port}", "eth_chainId") == hex(31337)
    assert node.stop()[0] == 0


def test_chain_on_a_busy_port_or_a_bad_one_is_a_clear_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("devnet", "chain", "--port", str(port))
    assert result.returncode == 1
    assert f"anvil exited with code 1 while starting on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_cli("devnet", "chain", "--port", "70000")
    assert result.returncode == 1 and "--port 70000 is not a TCP port" in result.stderr


# -- deploy ---------------------------------------------------------------------------------------


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys):
    """The CLI in this process (no interpreter start-up per call): a run_cli-like result."""

    def run(*args: str) -> Result:
        return Result(*run_in_process(capsys, *args))

    return run


def deploy_args(url: str, folder: Path, *extra: str) -> list[str]:
    return [
        "devnet", "deploy", "--rpc-url", url, "--dir", str(folder),
        "--executor-socket", "executor:9090", "--performer-endpoint", "performer:8080",
        "--data-root", str(folder.parent / "data"), "--bind-host", "0.0.0.0", *extra,
    ]  # fmt: skip


def test_deploy_writes_the_configs_of_the_compose_topology(anvil, tmp_path):
    folder = tmp_path / "devnet"
    result = run_cli(*deploy_args(anvil.url, folder))
    assert result.returncode == 0, result.stderr
    assert f"Devnet deployed on {anvil.url}" in result.stdout
    deployment = json.loads((folder / "deployment.json").read_text())
    assert [op["socket"] for op in deployment["executors"]] == ["executor:9090"]

    aggregator, _ = load_config(AggregatorConfig, folder / "aggregator.yaml")
    executor, _ = load_config(ExecutorConfig, folder / "executor.yaml")
    data = tmp_path / "data"
    assert aggregator.chains[0].rpc_url == anvil.url
    assert aggregator.avss[0].address == deployment["avs"]
    assert aggregator.operator.address == deployment["aggregator"]["address"]
    assert (aggregator.ops.host, aggregator.ops.port) == ("0.0.0.0", 8080)
    assert aggregator.storage.rocksdb.dir == str(data / "aggregator" / "db")
    assert aggregator.storage.snapshots.dir == str(data / "aggregator" / "snapshots")

    assert (executor.grpc_host, executor.grpc_port) == ("0.0.0.0", 9090)
    assert (executor.ops.host, executor.ops.port) == ("0.0.0.0", 8081)
    assert executor.operator.address == deployment["executors"][0]["address"]
    assert executor.l1_chain.rpc_url == anvil.url
    performer = executor.performer_for(deployment["avs"])
    assert performer is not None
    assert (performer.runtime, performer.endpoint) == ("endpoint", "performer:8080")
    assert executor.storage.rocksdb.dir == str(data / "executor" / "db")
    assert executor.performer_dir == str(data / "executor" / "performers")
    for name in ("deployment.json", "aggregator.yaml", "executor.yaml"):
        assert oct((folder / name).stat().st_mode)[-3:] == "600", name
    # Like a real chain: a block a second once deployed.
    head = int(str(rpc_call(anvil.url, "eth_blockNumber")), 16)
    time.sleep(2.2)
    assert int(str(rpc_call(anvil.url, "eth_blockNumber")), 16) >= head + 2


def test_deploy_is_idempotent_and_keeps_the_data_of_a_live_deployment(anvil, tmp_path, cli):
    folder = tmp_path / "devnet"
    assert cli(*deploy_args(anvil.url, folder)).returncode == 0
    deployment = (folder / "deployment.json").read_text()
    store = tmp_path / "data" / "aggregator" / "db"
    store.mkdir(parents=True)
    (store / "CURRENT").write_text("kept")

    again = cli(*deploy_args(anvil.url, folder, "--executor-ops-port", "9191"))
    assert again.returncode == 0, again.stderr
    assert "reused, configs rewritten" in again.stdout
    assert (folder / "deployment.json").read_text() == deployment
    assert (store / "CURRENT").read_text() == "kept"
    executor, _ = load_config(ExecutorConfig, folder / "executor.yaml")
    assert executor.ops.port == 9191

    other = cli(*deploy_args(anvil.url, folder, "--threshold-bips", "5000"))
    assert other.returncode == 1
    assert "made with other parameters" in other.stderr and "Traceback" not in other.stderr


def test_deploy_to_a_fresh_chain_redeploys_and_clears_the_old_stores(tmp_path, cli):
    folder = tmp_path / "devnet"
    port = free_port()
    with Anvil(port=port) as first:
        assert cli(*deploy_args(first.url, folder)).returncode == 0
    old_store = tmp_path / "data" / "executor" / "db"
    old_store.mkdir(parents=True)
    (old_store / "CURRENT").write_text("state of a chain that is gone")
    with Anvil(port=port) as fresh:  # same URL, empty chain: `docker-compose down` + `up`
        result = cli(*deploy_args(fresh.url, folder))
        assert result.returncode == 0, result.stderr
        assert "Devnet deployed" in result.stdout
        assert f"removed old data {old_store}" in result.stdout
        assert not old_store.exists()
        code = rpc_call(
            fresh.url,
            "eth_getCode",
            [
                json.loads((folder / "deployment.json").read_text())["contracts"]["TaskMailbox"],
                "latest",
            ],
        )
        assert len(str(code)) > 2


def test_task_and_status_work_on_a_deployed_folder_while_its_chain_runs(tmp_path, cli):
    folder = tmp_path / "devnet"
    with Anvil() as node:
        assert cli(*deploy_args(node.url, folder, "--block-time", "0")).returncode == 0
        task = cli("devnet", "task", "--dir", str(folder), "--payload", "0x07")
        assert task.returncode == 0, task.stderr
        status = cli("devnet", "status", "--dir", str(folder), task.stdout.strip())
        assert status.returncode == 0, status.stderr
        assert status.stdout.split()[1] == "CREATED" and "payload   0x07" in status.stdout
    after = cli("devnet", "task", "--dir", str(folder), "--payload", "0x07")
    assert after.returncode == 1
    assert f"the chain at {node.url} does not answer" in after.stderr
    assert "Traceback" not in after.stderr


def test_deploy_with_the_contracts_from_ponos_contracts_dir(anvil, tmp_path, cli, monkeypatch):
    copy = tmp_path / "artifacts"
    shutil.copytree(ARTIFACTS_DIR, copy)
    monkeypatch.setenv("PONOS_CONTRACTS_DIR", str(copy))
    ok = cli(*deploy_args(anvil.url, tmp_path / "a"))
    assert ok.returncode == 0, ok.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PONOS_CONTRACTS_DIR", str(empty))
    missing = cli(*deploy_args(anvil.url, tmp_path / "b"))
    assert missing.returncode == 1
    assert f"contract artifact {empty}/AllocationManager.json is missing" in missing.stderr
    assert "PONOS_CONTRACTS_DIR" in missing.stderr and "Traceback" not in missing.stderr


def test_deploy_into_a_folder_of_devnet_up_is_refused(anvil, tmp_path, cli):
    folder = tmp_path / "devnet"
    folder.mkdir()
    assert anvil.process is not None
    (folder / "anvil.pid").write_text(json.dumps({"pid": anvil.process.pid, "port": anvil.port}))
    result = cli(*deploy_args(anvil.url, folder))
    assert result.returncode == 1
    assert "started by `ponos devnet up`" in result.stderr
    assert not (folder / "deployment.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--executor-socket", "executor"), "--executor-socket 'executor' is not host:port"),
        (("--performer-endpoint", "performer:http"), "is not host:port"),
        (("--executor-ops-port", "9090"), "both 9090"),
        (("--aggregator-ops-port", "0"), "--aggregator-ops-port 0 is not a TCP port"),
        (("--bind-host", " "), "--bind-host is empty"),
        (("--block-time", "-1"), "--block-time must be 0 or more"),
        (("--threshold-bips", "10001"), "between 0 and 10000"),
    ],
)
def test_bad_deploy_options_are_clear_errors(tmp_path, capsys, args, message):
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run_in_process(capsys, *deploy_args(url, tmp_path / "devnet", *args))
    assert code == 1 and message in err, err


def test_deploy_to_a_chain_that_does_not_answer_says_so(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run_in_process(
        capsys, "devnet", "deploy", "--rpc-url", url, "--dir", str(tmp_path)
    )
    assert code == 1
    assert f"cannot reach the chain at {url}" in err and "ponos devnet chain" in err
    code, _, err = run_in_process(capsys, "devnet", "deploy", "--rpc-url", "chain:8545")
    assert code == 1 and "is not an http(s) URL" in err


def test_deploy_defaults_are_loopback_a_process_performer_and_data_in_the_folder(
    anvil, tmp_path, cli
):
    folder = tmp_path / "devnet"
    result = cli("devnet", "deploy", "--rpc-url", anvil.url, "--dir", str(folder))
    assert result.returncode == 0, result.stderr
    assert "the hello performer, as a process" in result.stdout
    aggregator, _ = load_config(AggregatorConfig, folder / "aggregator.yaml")
    executor, _ = load_config(ExecutorConfig, folder / "executor.yaml")
    assert (executor.grpc_host, executor.grpc_port) == ("127.0.0.1", 9090)
    assert executor.ops.host == aggregator.ops.host == "127.0.0.1"
    performer = executor.avs_performers[0]
    assert performer.runtime == "process"
    assert performer.command[-3:] == ["ponos", "performer", "hello"]
    assert executor.storage.rocksdb.dir == str((folder / "data" / "executor" / "db").resolve())
