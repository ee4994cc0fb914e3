"""`ponos devnet deploy`: deploy the devnet to a chain someone else runs, and write the configs
of a one-executor topology (Docker Compose: the `setup` service).

Unlike `ponos devnet up`, the chain is not ours (`ponos devnet chain` in another container),
and the services reach each other by name: the executor operator registers the socket
`--executor-socket` (e.g. `executor:9090`, the executor's gRPC port is its port) and runs the
AVS's performer as an `endpoint` performer at `--performer-endpoint` (e.g. `performer:8080`).
Services bind `--bind-host` (0.0.0.0 inside containers; loopback by default) and keep their
data under `--data-root` (`<root>/aggregator`, `<root>/executor`: the named volumes).

Idempotent: a deployment in the folder that is still live on the chain, made with the same
parameters, is reused (configs rewritten, data kept). A new deployment means a new chain, so
the services' old data (state of another chain) is removed first, as `devnet up` does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ponos.devnet.anvil import rpc_call
from ponos.devnet.configs import aggregator_config, executor_config
from ponos.devnet.deploy import (
    DEFAULT_SEED,
    Curve,
    DevnetDeployment,
    deploy_devnet,
    validate_options,
)
from ponos.devnet.errors import DevnetError
from ponos.devnet.manager import DEPLOYMENT_FILE, load_deployment, running_devnet

AGGREGATOR_CONFIG = "aggregator.yaml"
EXECUTOR_CONFIG = "executor.yaml"
# DevnetDeployment.extra marker: deployed by `devnet deploy` to a chain this folder does not run.
MANAGED_BY = "managed_by"
MANAGED_BY_DEPLOY = "devnet deploy"
HEADER = "# Written by `ponos devnet deploy`: development keys only, never use them elsewhere.\n"


def split_endpoint(text: str, flag: str) -> tuple[str, int]:
    """`host:port` (IPv6 in brackets) or a DevnetError naming the flag."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DevnetError(f"{flag} {text!r} is not host:port, e.g. executor:9090")
    return host, int(port)


@dataclass
class DataPaths:
    """Where the two services keep their stores, snapshots and performer files."""

    root: Path

    @property
    def aggregator_db(self) -> Path:
        return self.root / "aggregator" / "db"

    @property
    def aggregator_snapshots(self) -> Path:
        return self.root / "aggregator" / "snapshots"

    @property
    def executor_db(self) -> Path:
        return self.root / "executor" / "db"

    @property
    def executor_snapshots(self) -> Path:
        return self.root / "executor" / "snapshots"

    @property
    def executor_performers(self) -> Path:
        return self.root / "executor" / "performers"

    def all(self) -> list[Path]:
        return [
            self.aggregator_db,
            self.aggregator_snapshots,
            self.executor_db,
            self.executor_snapshots,
            self.executor_performers,
        ]


@dataclass
class DeployOptions:
    rpc_url: str
    directory: Path = Path("devnet")
    executor_socket: str = "127.0.0.1:9090"
    performer_endpoint: str | None = None  # None: the hello performer as a process
    data_root: Path | None = None  # None: <directory>/data
    bind_host: str = "127.0.0.1"
    aggregator_ops_port: int = 8080
    executor_ops_port: int = 8081
    curve: Curve = "ecdsa"
    threshold_bips: int = 6667
    task_sla: int = 60
    block_time: int = 1
    seed: str = DEFAULT_SEED

    @property
    def data(self) -> DataPaths:
        return DataPaths((self.data_root or self.directory / "data").resolve())

    def validate(self) -> None:
        validate_options(1, self.curve, self.threshold_bips, self.task_sla, None, None)
        if not self.rpc_url.startswith(("http://", "https://")):
            raise DevnetError(f"--rpc-url {self.rpc_url!r} is not an http(s) URL")
        _, grpc_port = split_endpoint(self.executor_socket, "--executor-socket")
        if self.performer_endpoint is not None:
            split_endpoint(self.performer_endpoint, "--performer-endpoint")
        if not self.bind_host.strip():
            raise DevnetError("--bind-host is empty: e.g. 127.0.0.1, or 0.0.0.0 in a container")
        ports = {
            "--aggregator-ops-port": self.aggregator_ops_port,
            "--executor-ops-port": self.executor_ops_port,
        }
        for flag, port in ports.items():
            if not 0 < port < 65536:
                raise DevnetError(f"{flag} {port} is not a TCP port (1-65535)")
        if len({grpc_port, self.executor_ops_port}) < 2:
            raise DevnetError(
                f"the executor's gRPC port (--executor-socket) and --executor-ops-port are both "
                f"{grpc_port}: choose different ports"
            )
        if self.block_time < 0:
            raise DevnetError("--block-time must be 0 or more seconds")

    def parameters(self, chain_id: int) -> dict[str, Any]:
        """Comparable with DevnetDeployment.parameters()."""
        return {
            "chain_id": chain_id,
            "curve": self.curve,
            "threshold_bips": self.threshold_bips,
            "task_sla": self.task_sla,
            "seed": self.seed,
            "operators": 1,
            "weights": [100],
            "sockets": [self.executor_socket],
        }


@dataclass
class DeployResult:
    deployment: DevnetDeployment
    reused: bool
    files: list[Path] = field(default_factory=list)
    cleared: list[Path] = field(default_factory=list)


def topology_configs(
    deployment: DevnetDeployment, options: DeployOptions
) -> dict[str, dict[str, Any]]:
    """aggregator.yaml and executor.yaml: the Go keys, as `devnet up` writes them, for this
    topology (one executor, its performer at an endpoint or as a process)."""
    data = options.data
    _, grpc_port = split_endpoint(options.executor_socket, "--executor-socket")
    aggregator = aggregator_config(deployment, data.root, options.aggregator_ops_port)
    aggregator["storage"] = {
        "type": "rocksdb",
        "rocksdb": {"dir": str(data.aggregator_db)},
        "snapshots": {"dir": str(data.aggregator_snapshots)},
    }
    aggregator["ops"] = {"host": options.bind_host, "port": options.aggregator_ops_port}

    executor = executor_config(deployment, 0, data.root, grpc_port, options.executor_ops_port)
    executor["grpcHost"] = options.bind_host
    performer = executor["avsPerformers"][0]
    if options.performer_endpoint is not None:  # else the hello performer as a process
        del performer["command"]
        performer["runtime"] = "endpoint"
        performer["endpoint"] = options.performer_endpoint
    executor["performerDir"] = str(data.executor_performers)
    executor["storage"] = {
        "type": "rocksdb",
        "rocksdb": {"dir": str(data.executor_db)},
        "snapshots": {"dir": str(data.executor_snapshots)},
    }
    executor["ops"] = {"host": options.bind_host, "port": options.executor_ops_port}
    return {AGGREGATOR_CONFIG: aggregator, EXECUTOR_CONFIG: executor}


def _write_private(path: Path, text: str) -> None:
    """Atomically, mode 0600 from the start (the file holds private keys)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_topology_configs(deployment: DevnetDeployment, options: DeployOptions) -> list[Path]:
    paths = []
    for name, content in topology_configs(deployment, options).items():
        path = options.directory / name
        _write_private(path, HEADER + yaml.safe_dump(content, sort_keys=False))
        paths.append(path)
    return paths


def is_deployed_by_deploy(deployment: DevnetDeployment) -> bool:
    return deployment.extra.get(MANAGED_BY) == MANAGED_BY_DEPLOY


def deployment_is_live(deployment: DevnetDeployment) -> bool:
    """The chain at the deployment's RPC URL answers and has its TaskMailbox."""
    try:
        code = rpc_call(
            deployment.rpc_url, "eth_getCode", [deployment.contracts["TaskMailbox"], "latest"]
        )
    except (OSError, RuntimeError, ValueError):
        return False
    return isinstance(code, str) and len(code) > 2


def _existing(directory: Path) -> DevnetDeployment | None:
    if not (directory / DEPLOYMENT_FILE).is_file():
        return None
    try:
        return load_deployment(directory)
    except DevnetError:
        return None  # unreadable: a fresh deployment replaces it


def _chain_id(rpc_url: str) -> int:
    try:
        return int(str(rpc_call(rpc_url, "eth_chainId", timeout=10.0)), 16)
    except (OSError, RuntimeError, ValueError) as exc:
        raise DevnetError(
            f"cannot reach the chain at {rpc_url} ({exc})",
            hint="is `ponos devnet chain` running there?",
        ) from None


def clear_data(paths: DataPaths) -> list[Path]:
    """Remove the services' stores: they hold the state of a chain that is gone."""
    cleared = []
    for path in paths.all():
        if path.exists():
            shutil.rmtree(path)
            cleared.append(path)
    return cleared


def deploy_to_chain(options: DeployOptions) -> DeployResult:
    options.validate()
    directory = options.directory
    directory.mkdir(parents=True, exist_ok=True)
    if running_devnet(directory) is not None:
        raise DevnetError(
            f"{directory} holds a devnet started by `ponos devnet up`",
            hint="use another --dir for `ponos devnet deploy`",
        )
    chain_id = _chain_id(options.rpc_url)
    existing = _existing(directory)
    if (
        existing is not None
        and existing.rpc_url == options.rpc_url
        and deployment_is_live(existing)
    ):
        if existing.parameters() != options.parameters(chain_id):
            raise DevnetError(
                f"the chain at {options.rpc_url} already has the deployment in {directory}, "
                "made with other parameters",
                hint="deploy with the same options, or start from a fresh chain "
                "(`docker-compose down -v`) or another --dir",
            )
        files = write_topology_configs(existing, options)
        return DeployResult(existing, reused=True, files=files)

    cleared = clear_data(options.data)
    _, grpc_port = split_endpoint(options.executor_socket, "--executor-socket")
    deployment = deploy_devnet(
        options.rpc_url,
        operators=1,
        curve=options.curve,
        threshold_bips=options.threshold_bips,
        task_sla=options.task_sla,
        sockets=[options.executor_socket],
        seed=options.seed,
        grpc_base_port=grpc_port,
    )
    deployment.extra[MANAGED_BY] = MANAGED_BY_DEPLOY
    if options.block_time > 0:
        # Like a real chain: a block every block_time seconds, so chain time advances.
        rpc_call(options.rpc_url, "evm_setIntervalMining", [options.block_time])
    _write_private(directory / DEPLOYMENT_FILE, deployment.dumps())
    files = write_topology_configs(deployment, options)
    return DeployResult(
        deployment, reused=False, files=[directory / DEPLOYMENT_FILE, *files], cleared=cleared
    )
