"""A devnet with real executors, for the aggregator's end-to-end tests and benchmarks.

`DevnetCluster` deploys the devnet contracts on a fresh anvil with the executors' sockets on
free loopback ports, writes each executor's config and runs `python -m ponos executor run` as a
subprocess per operator (each with its hello performer; optionally one with the lying
performer of `lying_performer.py`). Executors can be stopped and started again by the tests.
The aggregator runs either in-process (`running_aggregator`) or as a subprocess
(`AggregatorProcess`), on a config from `aggregator_settings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from web3 import Web3

from ponos.aggregator.service import AggregatorService
from ponos.chain.events import TASK_CREATED_TOPIC, decode_task_created
from ponos.config import AggregatorConfig
from ponos.config.loader import load_config
from ponos.devnet.anvil import free_port
from ponos.devnet.client import CreatedTask
from ponos.devnet.configs import aggregator_config, executor_config
from ponos.devnet.local import LocalDevnet, local_devnet

ROOT = Path(__file__).resolve().parents[2]
LYING_PERFORMER = ROOT / "tests" / "support" / "lying_performer.py"


def free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PONOS_")}


def spawn_service(service: str, config: Path, log: Path) -> subprocess.Popen:
    """`ponos SERVICE run --config CONFIG` in its own session, output appended to log."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ponos", service, "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_clean_env(),
            cwd=ROOT,
            start_new_session=True,
        )


@dataclass
class ExecutorProcess:
    index: int
    port: int
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class DevnetCluster:
    net: LocalDevnet
    root: Path
    executors: list[ExecutorProcess] = field(default_factory=list)

    @property
    def rpc_url(self) -> str:
        return self.net.rpc_url

    @property
    def deployment(self):
        return self.net.deployment

    # -- executors -----------------------------------------------------------------------
    def start_executor(self, index: int) -> None:
        executor = self.executors[index]
        if executor.running:
            return
        if executor.starts:
            # Workaround for an executor bug (reported): restarting on a data dir that holds
            # a running performer's state fails in ExecutorService._recover, which passes
            # performer_id= to AvsPerformers.deploy(). A restarted executor starts afresh.
            shutil.rmtree(self.root / "data" / f"executor-{index}", ignore_errors=True)
        executor.starts += 1
        executor.process = spawn_service("executor", executor.config, executor.log)

    def wait_ready(self, index: int, timeout: float = 120.0) -> None:
        executor = self.executors[index]
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(f"127.0.0.1:{executor.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if not executor.running:
                    raise RuntimeError(
                        f"executor {index} exited while starting; log:\n{self.tail(index)}"
                    )
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"executor {index} not serving after {timeout}s:\n{self.tail(index)}")

    def start_all(self) -> None:
        for i in range(len(self.executors)):
            self.start_executor(i)
        for i in range(len(self.executors)):
            self.wait_ready(i)

    def ensure_running(self) -> None:
        down = [e.index for e in self.executors if not e.running]
        for i in down:
            self.start_executor(i)
        for i in down:
            self.wait_ready(i)

    def stop_executor(self, index: int, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        executor = self.executors[index]
        process = executor.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)  # the executor and its performer
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        executor.process = None

    def pause_executor(self, index: int) -> None:
        """SIGSTOP the executor and its performer: a hung operator (calls time out)."""
        process = self.executors[index].process
        assert process is not None
        os.killpg(process.pid, signal.SIGSTOP)

    def resume_executor(self, index: int) -> None:
        process = self.executors[index].process
        if process is not None:
            os.killpg(process.pid, signal.SIGCONT)

    def tail(self, index: int, lines: int = 30) -> str:
        path = self.executors[index].log
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        for executor in self.executors:
            self.stop_executor(executor.index, timeout=10)

    # -- chain helpers -------------------------------------------------------------------
    def head(self) -> int:
        return int(self.net.client.w3.eth.block_number)

    def set_interval_mining(self, seconds: int) -> None:
        """seconds > 0: a block every `seconds` (chain time moves like a real chain);
        0: automine (a block per transaction)."""
        if seconds > 0:
            self.net.anvil.rpc("evm_setIntervalMining", [seconds])
        else:
            self.net.anvil.rpc("evm_setIntervalMining", [0])
            self.net.anvil.rpc("evm_setAutomine", [True])

    def set_task_sla(self, seconds: int) -> None:
        """Change the executor set's task SLA on chain (the deadline of new tasks)."""
        client = self.net.client
        opset = client.executor_operator_set()
        config = list(client.mailbox.functions.getExecutorOperatorSetTaskConfig(opset).call())
        config[1] = seconds
        client.transact(client.mailbox.functions.setExecutorOperatorSetTaskConfig(opset, config))

    def verified_event(self, task_hash: str) -> tuple[bytes, bytes]:
        """(executorCert, result) of the task's TaskVerified event."""
        from eth_abi import decode

        from ponos.chain.events import TASK_VERIFIED_TOPIC

        logs = self.net.client.w3.eth.get_logs(
            {
                "address": Web3.to_checksum_address(self.deployment.contracts["TaskMailbox"]),
                "topics": [TASK_VERIFIED_TOPIC, None, task_hash],
                "fromBlock": 0,
                "toBlock": "latest",
            }
        )
        assert len(logs) == 1, f"{len(logs)} TaskVerified events for {task_hash}"
        _set_id, cert, result = decode(["uint32", "bytes", "bytes"], bytes(logs[0]["data"]))
        return bytes(cert), bytes(result)

    def create_tasks(self, payloads: Sequence[bytes]) -> list[CreatedTask]:
        """Send one createTask per payload without waiting in between, then wait for all
        (fast also with interval mining)."""
        client = self.net.client
        mailbox = client.mailbox
        hashes = []
        for payload in payloads:
            params = (client.avs, client.executor_operator_set(), payload)
            hashes.append(mailbox.functions.createTask(params).transact({"from": client.avs}))
        created = []
        for tx_hash in hashes:
            receipt = client.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=60, poll_latency=0.05
            )
            if receipt["status"] != 1:
                raise RuntimeError(f"createTask reverted: 0x{bytes(tx_hash).hex()}")
            for raw in receipt["logs"]:
                topics = raw.get("topics") or []
                if topics and "0x" + bytes(topics[0]).hex() == TASK_CREATED_TOPIC:
                    event = decode_task_created(raw)
                    created.append(CreatedTask(event.task_hash, event.block_number, event))
        return created


@contextlib.contextmanager
def devnet_cluster(
    root: Path,
    curve: str = "ecdsa",
    operators: int = 3,
    liar: int | None = None,
    **deploy_args: Any,
) -> Iterator[DevnetCluster]:
    """Deploy a devnet with executor sockets on free ports and start the executors.
    `liar`: the index of the executor that runs the lying performer."""
    root.mkdir(parents=True, exist_ok=True)
    ports = free_ports(operators)
    sockets = [f"127.0.0.1:{p}" for p in ports]
    with local_devnet(operators=operators, curve=curve, sockets=sockets, **deploy_args) as net:
        cluster = DevnetCluster(net, root)
        for i, port in enumerate(ports):
            settings = executor_config(net.deployment, i, root / "data", port, 0)
            if i == liar:
                settings["avsPerformers"][0]["command"] = [sys.executable, str(LYING_PERFORMER)]
            settings["ops"] = {"enabled": False}
            path = root / f"executor-{i}.yaml"
            path.write_text(yaml.safe_dump(settings, sort_keys=False))
            cluster.executors.append(ExecutorProcess(i, port, path, root / f"executor-{i}.log"))
        try:
            cluster.start_all()
            yield cluster
        finally:
            cluster.close()


# -- the aggregator ---------------------------------------------------------------------------
def aggregator_settings(
    cluster: DevnetCluster,
    data_dir: Path,
    *,
    rpc_url: str | None = None,
    start_block: int | None = None,
    poll_interval: float = 0.2,
    **chain_overrides: Any,
) -> dict[str, Any]:
    """An aggregator config (Go keys) for the cluster, with its own data dir and ops off."""
    settings = aggregator_config(cluster.deployment, data_dir.parent, 0)
    settings["storage"] = {"type": "rocksdb", "rocksdb": {"dir": str(data_dir)}}
    chain = settings["chains"][0]
    chain["rpcUrl"] = rpc_url or cluster.rpc_url
    chain["pollIntervalSeconds"] = poll_interval
    if start_block is not None:
        chain["startBlock"] = start_block
    chain.update(chain_overrides)
    settings["shutdownGrace"] = "5s"
    settings["ops"] = {"enabled": False}
    return settings


def write_config(path: Path, settings: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def load_aggregator_config(path: Path) -> AggregatorConfig:
    config, _warnings = load_config(AggregatorConfig, path)
    return config


@contextlib.asynccontextmanager
async def running_aggregator(config: AggregatorConfig) -> AsyncIterator[AggregatorService]:
    service = AggregatorService(config)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


class AggregatorProcess:
    """`python -m ponos aggregator run` as a subprocess, for crash tests."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.process = spawn_service("aggregator", self.config, self.log)
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []


# -- accounting ---------------------------------------------------------------------------
@dataclass
class Accounting:
    """Every created task must be verified on chain exactly once."""

    created: int
    verified: int
    duplicates: int
    lost: int
    missing: list[str]

    def line(self, label: str) -> str:
        return (
            f"{label}: tasks created={self.created} verified={self.verified} "
            f"duplicates={self.duplicates} lost={self.lost}"
        )


def verified_logs(w3: Web3, mailbox: str, from_block: int) -> dict[str, int]:
    """TaskVerified events per task hash on the canonical chain from `from_block`."""
    from ponos.chain.events import TASK_VERIFIED_TOPIC

    logs = w3.eth.get_logs(
        {
            "address": Web3.to_checksum_address(mailbox),
            "topics": [TASK_VERIFIED_TOPIC],
            "fromBlock": from_block,
            "toBlock": "latest",
        }
    )
    counts: dict[str, int] = {}
    for log in logs:
        task_hash = "0x" + bytes(log["topics"][2]).hex()
        counts[task_hash] = counts.get(task_hash, 0) + 1
    return counts


def account(cluster: DevnetCluster, task_hashes: Sequence[str], from_block: int) -> Accounting:
    counts = verified_logs(
        cluster.net.client.w3, cluster.deployment.contracts["TaskMailbox"], from_block
    )
    missing = [t for t in task_hashes if counts.get(t, 0) == 0]
    return Accounting(
        created=len(task_hashes),
        verified=sum(1 for t in task_hashes if counts.get(t, 0) >= 1),
        duplicates=sum(max(0, counts.get(t, 0) - 1) for t in task_hashes),
        lost=len(missing),
        missing=missing,
    )


async def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "") -> None:
    """Poll `predicate()` (sync or async) until true; AssertionError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(interval)
