"""`ponos devnet up/down/task/status`: a detached anvil with the deployment, in a folder.

The folder holds anvil.pid (JSON: pid, port), anvil.log, deployment.json, aggregator.yaml,
executor-<i>.yaml and data/ (the services' storage). `up` is idempotent: a running devnet
deployed with the same parameters is reported, not redeployed; one with other parameters is an
error. A fresh deployment is a fresh chain, so `up` then empties data/ (state of an old chain).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponos.devnet.anvil import Anvil, rpc_call
from ponos.devnet.client import DevnetClient
from ponos.devnet.configs import check_ports, write_configs
from ponos.devnet.deploy import (
    DEFAULT_SEED,
    Curve,
    DevnetDeployment,
    deploy_devnet,
    validate_options,
)
from ponos.devnet.errors import DevnetError

PID_FILE = "anvil.pid"
LOG_FILE = "anvil.log"
DEPLOYMENT_FILE = "deployment.json"
CHAIN_ID = 31337


@dataclass
class UpOptions:
    directory: Path = Path("devnet")
    port: int = 8545
    operators: int = 3
    curve: Curve = "ecdsa"
    threshold_bips: int = 6667
    task_sla: int = 60
    weights: list[int] | None = None
    grpc_base_port: int = 9090
    ops_base_port: int = 8080
    seed: str = DEFAULT_SEED
    # After deploying, anvil mines a block every `block_time` seconds like a real chain
    # (0 keeps automine: a block only per transaction, so chain time stands still).
    block_time: int = 1

    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def parameters(self) -> dict[str, Any]:
        """Comparable with DevnetDeployment.parameters()."""
        return {
            "chain_id": CHAIN_ID,
            "curve": self.curve,
            "threshold_bips": self.threshold_bips,
            "task_sla": self.task_sla,
            "seed": self.seed,
            "operators": self.operators,
            "weights": self.weights or [100] * self.operators,
            "sockets": [f"127.0.0.1:{self.grpc_base_port + i}" for i in range(self.operators)],
        }


@dataclass
class UpResult:
    deployment: DevnetDeployment
    pid: int
    reused: bool
    files: list[Path] = field(default_factory=list)


def _read_pid_file(directory: Path) -> dict[str, Any] | None:
    path = directory / PID_FILE
    try:
        data = json.loads(path.read_text())
        return {"pid": int(data["pid"]), "port": int(data["port"])}
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        raise DevnetError(
            f"{path} is not a devnet pid file", hint="remove it if no devnet runs there"
        ) from None


def _is_our_anvil(pid: int, port: int) -> bool:
    """The process exists and is an anvil listening on `port` (guards against reused pids)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(part.endswith(b"anvil") for part in cmdline) and str(port).encode() in cmdline


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def running_devnet(directory: Path) -> dict[str, Any] | None:
    """{"pid", "port"} of the devnet running from `directory`, None if none (stale files removed)."""
    state = _read_pid_file(directory)
    if state is None:
        return None
    if _is_our_anvil(state["pid"], state["port"]):
        return state
    (directory / PID_FILE).unlink(missing_ok=True)
    return None


def load_deployment(directory: Path) -> DevnetDeployment:
    path = directory / DEPLOYMENT_FILE
    try:
        return DevnetDeployment.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        raise DevnetError(
            f"no devnet in {directory} ({path} does not exist)",
            hint=f"run `ponos devnet up --dir {directory}` first",
        ) from None
    except json.JSONDecodeError as exc:
        raise DevnetError(f"{path} is not valid JSON ({exc.msg})") from None


def _deployment_is_live(deployment: DevnetDeployment) -> bool:
    try:
        code = rpc_call(deployment.rpc_url, "eth_getCode", [deployment.contracts["TaskMailbox"], "latest"])
    except (OSError, RuntimeError):
        return False
    return isinstance(code, str) and len(code) > 2


def devnet_up(options: UpOptions) -> UpResult:
    directory = options.directory
    validate_options(
        options.operators,
        options.curve,
        options.threshold_bips,
        options.task_sla,
        options.weights,
        None,
    )
    if not 0 < options.port < 65536:
        raise DevnetError(f"--port {options.port} is not a TCP port")
    check_ports(options.operators, options.grpc_base_port, options.ops_base_port)
    directory.mkdir(parents=True, exist_ok=True)
    state = running_devnet(directory)
    if state is not None:
        deployment = load_deployment(directory)
        if state["port"] != options.port or deployment.parameters() != options.parameters():
            raise DevnetError(
                f"a devnet with other parameters is running from {directory} "
                f"(pid {state['pid']}, port {state['port']})",
                hint=f"run `ponos devnet down --dir {directory}` first",
            )
        if _deployment_is_live(deployment):
            files = write_configs(
                deployment, directory, options.grpc_base_port, options.ops_base_port
            )
            return UpResult(deployment, state["pid"], reused=True, files=files)
        raise DevnetError(
            f"anvil (pid {state['pid']}) runs but has no TaskMailbox at "
            f"{deployment.contracts['TaskMailbox']}",
            hint=f"run `ponos devnet down --dir {directory}` and `up` again",
        )
    if _port_in_use(options.port):
        raise DevnetError(
            f"port {options.port} on 127.0.0.1 is in use by another process",
            hint="stop it or choose another --port",
        )
    node = Anvil(port=options.port, chain_id=CHAIN_ID, log_file=directory / LOG_FILE).start()
    assert node.process is not None
    pid = node.process.pid
    try:
        (directory / PID_FILE).write_text(json.dumps({"pid": pid, "port": options.port}) + "\n")
        deployment = deploy_devnet(
            node.url,
            operators=options.operators,
            curve=options.curve,
            threshold_bips=options.threshold_bips,
            task_sla=options.task_sla,
            weights=options.weights,
            seed=options.seed,
            grpc_base_port=options.grpc_base_port,
        )
        (directory / DEPLOYMENT_FILE).write_text(deployment.dumps())
        (directory / DEPLOYMENT_FILE).chmod(0o600)
        if options.block_time > 0:
            node.rpc("evm_setIntervalMining", [options.block_time])
        shutil.rmtree(directory / "data", ignore_errors=True)
        files = write_configs(deployment, directory, options.grpc_base_port, options.ops_base_port)
    except BaseException:
        node.stop()
        (directory / PID_FILE).unlink(missing_ok=True)
        raise
    # Detach: anvil runs in its own session and outlives this process.
    node.process = None
    return UpResult(deployment, pid, reused=False, files=[directory / DEPLOYMENT_FILE, *files])


def devnet_down(directory: Path, timeout: float = 5.0) -> int | None:
    """Stop the devnet's anvil; returns its pid, or None if none was running."""
    state = running_devnet(directory)
    if state is None:
        return None
    pid = state["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _is_our_anvil(pid, state["port"]):
            _reap(pid)
            time.sleep(0.02)
        if _is_our_anvil(pid, state["port"]):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid)
    (directory / PID_FILE).unlink(missing_ok=True)
    return pid


def _reap(pid: int) -> None:
    """Collect the exit status when anvil is our own child (tests start and stop in-process)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def client_for(directory: Path) -> DevnetClient:
    """A client for the devnet running from `directory` (DevnetError if it is not running).

    A folder written by `ponos devnet deploy` names a chain run elsewhere (a compose service):
    it is running when that chain answers with the deployment on it."""
    from ponos.devnet.provision import deployment_is_live, is_deployed_by_deploy

    deployment = load_deployment(directory)
    if is_deployed_by_deploy(deployment):
        if not deployment_is_live(deployment):
            raise DevnetError(
                f"the chain at {deployment.rpc_url} does not answer or no longer has the "
                f"deployment in {directory}",
                hint="start the chain and run `ponos devnet deploy` again",
            )
        return DevnetClient(deployment)
    if running_devnet(directory) is None:
        raise DevnetError(
            f"the devnet in {directory} is not running",
            hint=f"run `ponos devnet up --dir {directory}`",
        )
    return DevnetClient(deployment)


def parse_payload(text: str) -> bytes:
    body = text[2:] if text.lower().startswith("0x") else None
    if body is None:
        raise DevnetError(f"--payload {text!r}: expected hex bytes starting with 0x, e.g. 0x04")
    try:
        payload = bytes.fromhex(body)
    except ValueError:
        raise DevnetError(f"--payload {text!r} is not valid hex") from None
    if not payload:
        raise DevnetError("--payload is empty (the TaskMailbox rejects empty payloads)")
    return payload
