"""`ponos devnet up/task/status/down` as real subprocesses, and the configs they write."""

from __future__ import annotations

import json
import os
import re
import socket

import pytest

from ponos.config import AggregatorConfig, ExecutorConfig, load_config
from ponos.devnet.anvil import free_port
from ponos.cli import main
from ponos.devnet.manager import devnet_down, running_devnet
from tests.helpers import run_cli


@pytest.fixture
def devnet_dir(tmp_path):
    """A devnet folder whose anvil is stopped after the test, even when it fails."""
    folder = tmp_path / "devnet"
    try:
        yield folder
    finally:
        devnet_down(folder)


def run_in_process(capsys, *args: str) -> tuple[int, str, str]:
    """main() in this process (fast, for argument errors): (exit code, stdout, stderr)."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def up_args(folder, port, *extra):
    return (
        "devnet", "up", "--dir", str(folder), "--port", str(port),
        "--grpc-base-port", "19190", "--ops-base-port", "19290", *extra,
    )  # fmt: skip


def test_up_task_status_down_round_trip(devnet_dir):
    port = free_port()
    first = run_cli(*up_args(devnet_dir, port))
    assert first.returncode == 0, first.stderr
    assert f"http://127.0.0.1:{port}" in first.stdout
    assert "ponos aggregator run --config" in first.stdout
    state = running_devnet(devnet_dir)
    assert state is not None and state["port"] == port
    deployment = json.loads((devnet_dir / "deployment.json").read_text())

    again = run_cli(*up_args(devnet_dir, port))
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout
    assert json.loads((devnet_dir / "deployment.json").read_text()) == deployment
    assert running_devnet(devnet_dir)["pid"] == state["pid"]

    task = run_cli("devnet", "task", "--dir", str(devnet_dir), "--payload", "0x04")
    assert task.returncode == 0, task.stderr
    task_hash = task.stdout.strip()
    assert re.fullmatch(r"0x[0-9a-f]{64}", task_hash)
    status = run_cli("devnet", "status", "--dir", str(devnet_dir), task_hash)
    assert status.returncode == 0, status.stderr
    assert status.stdout.split()[:2] == [task_hash, "CREATED"]
    assert "payload   0x04" in status.stdout

    down = run_cli("devnet", "down", "--dir", str(devnet_dir))
    assert down.returncode == 0 and f"pid {state['pid']}" in down.stdout
    assert running_devnet(devnet_dir) is None
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    after = run_cli("devnet", "status", "--dir", str(devnet_dir), task_hash)
    assert after.returncode == 1 and "not running" in after.stderr
    assert "Traceback" not in after.stderr


def test_written_configs_load_and_do_not_collide(devnet_dir, capsys):
    port = free_port()
    code, _, err = run_in_process(
        capsys, *up_args(devnet_dir, port, "--operators", "2", "--curve", "bn254")
    )
    assert code == 0, err
    deployment = json.loads((devnet_dir / "deployment.json").read_text())
    aggregator, _ = load_config(AggregatorConfig, devnet_dir / "aggregator.yaml")
    assert aggregator.l1_chain_id == 31337
    assert aggregator.chains[0].rpc_url == f"http://127.0.0.1:{port}"
    assert aggregator.avss[0].address == deployment["avs"]
    assert aggregator.avss[0].avs_registrar_address == deployment["avs_registrar"]
    assert aggregator.operator.address == deployment["aggregator"]["address"]
    assert aggregator.operator.signing_keys.bls is not None
    assert aggregator.contract_address("TaskMailbox", 31337) == deployment["contracts"]["TaskMailbox"]
    ports = {aggregator.ops.port}
    dirs = {aggregator.storage.rocksdb.dir}
    for i in range(2):
        executor, _ = load_config(ExecutorConfig, devnet_dir / f"executor-{i}.yaml")
        assert f"127.0.0.1:{executor.grpc_port}" == deployment["executors"][i]["socket"]
        assert executor.operator.address == deployment["executors"][i]["address"]
        performer = executor.performer_for(deployment["avs"])
        assert performer is not None and performer.runtime == "process"
        assert performer.command[-3:] == ["ponos", "performer", "hello"]
        assert executor.contract_address("BN254CertificateVerifier", 31337)
        ports |= {executor.grpc_port, executor.ops.port}
        dirs.add(executor.storage.rocksdb.dir)
    assert len(ports) == 5 and len(dirs) == 3
    assert oct((devnet_dir / "aggregator.yaml").stat().st_mode)[-3:] == "600"


def test_up_with_other_parameters_while_running_is_an_error(devnet_dir, capsys):
    port = free_port()
    assert run_in_process(capsys, *up_args(devnet_dir, port))[0] == 0
    code, _, err = run_in_process(capsys, *up_args(devnet_dir, port, "--threshold-bips", "5000"))
    assert code == 1
    assert "other parameters is running" in err and "devnet down" in err


def test_up_on_a_busy_port_is_an_error(devnet_dir, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run_in_process(capsys, *up_args(devnet_dir, port))
    assert code == 1
    assert f"port {port}" in err and "in use" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--curve", "ed25519"), 2, "invalid choice"),
        (("--weights", "1,x"), 2, "comma-separated integers"),
        (("--task-sla", "soon"), 2, "not a duration"),
        (("--operators", "0"), 1, "at least 1"),
        (("--operators", "2", "--weights", "1,2,3"), 1, "3 values for 2 operators"),
        (("--threshold-bips", "10001"), 1, "between 0 and 10000"),
        (("--grpc-base-port", "8081"), 1, "overlap"),
        (("--port", "70000"), 1, "not a TCP port"),
    ],
)
def test_bad_up_options_are_clear_errors(devnet_dir, capsys, args, code, message):
    port = ("--port", str(free_port())) if "--port" not in args else ()
    result, _, err = run_in_process(capsys, "devnet", "up", "--dir", str(devnet_dir), *port, *args)
    assert result == code
    assert message in err
    assert not (devnet_dir / "anvil.pid").exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [("04", "starting with 0x"), ("0xzz", "not valid hex"), ("0x", "empty")],
)
def test_bad_task_payload_is_a_clear_error(tmp_path, capsys, payload, message):
    code, _, err = run_in_process(capsys, "devnet", "task", "--dir", str(tmp_path), "--payload", payload)
    assert code == 1 and message in err


def test_commands_without_a_devnet_say_how_to_start_one(tmp_path, capsys):
    code, _, err = run_in_process(capsys, "devnet", "task", "--dir", str(tmp_path), "--payload", "0x04")
    assert code == 1
    assert "no devnet in" in err and "devnet up" in err
    code, out, _ = run_in_process(capsys, "devnet", "down", "--dir", str(tmp_path))
    assert code == 0 and "No devnet running" in out
    assert not os.listdir(tmp_path)


def test_status_shows_verified_with_its_result_and_expired(devnet_dir, capsys):
    from eth_utils import keccak

    from ponos.devnet.manager import client_for
    from tests.devnet.signing import ecdsa_certificate, ecdsa_digest, ecdsa_signatures

    assert run_in_process(capsys, *up_args(devnet_dir, free_port(), "--task-sla", "30s"))[0] == 0
    client = client_for(devnet_dir)
    deployment = client.deployment
    hashes = []
    for _ in range(2):
        code, out, err = run_in_process(
            capsys, "devnet", "task", "--dir", str(devnet_dir), "--payload", "0x04"
        )
        assert code == 0, err
        hashes.append(out.strip())
    verified, expired = hashes
    client.increase_time(1)
    info = client.task_info(verified)
    result = (16).to_bytes(32, "big")
    digest = ecdsa_digest(deployment.contracts["ECDSACertificateVerifier"], info[9], keccak(result))
    keys = [op.ecdsa.private_key for op in deployment.executors]
    cert = ecdsa_certificate(info[9], keccak(result), ecdsa_signatures(keys, digest))
    client.submit_result(verified, cert, result)
    client.increase_time(31)

    code, out, _ = run_in_process(capsys, "devnet", "status", "--dir", str(devnet_dir), verified)
    assert code == 0 and out.split()[1] == "VERIFIED"
    assert f"result    0x{result.hex()}" in out
    code, out, _ = run_in_process(capsys, "devnet", "status", "--dir", str(devnet_dir), expired)
    assert code == 0 and out.split()[1] == "EXPIRED" and "result" not in out
    code, _, err = run_in_process(
        capsys, "devnet", "status", "--dir", str(devnet_dir), "0x" + "00" * 32
    )
    assert code == 1 and "does not exist" in err
    code, _, err = run_in_process(capsys, "devnet", "status", "--dir", str(devnet_dir), "0x12")
    assert code == 1 and "not a task hash" in err
