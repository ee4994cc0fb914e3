"""Test harness for the executor: configs from a real devnet, an aggregator that signs
TaskSubmissions, in-process executors, executor subprocesses and a view of the machine's
performer processes.

The aggregator here is a few lines around `ponos.crypto`: it signs exactly what
`docs/protocol.md` says an aggregator signs, with the devnet aggregator's registered key (or
any other key, to test rejection).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ponos.config.executor import ExecutorConfig
from ponos.config.loader import load_config
from ponos.crypto import messages
from ponos.crypto.bn254 import Bn254PrivateKey
from ponos.crypto.ecdsa import EcdsaPrivateKey
from ponos.crypto.signer import Bn254Signer, EcdsaSigner, verify_bn254, verify_ecdsa
from ponos.devnet.anvil import free_port
from ponos.devnet.configs import executor_config
from ponos.devnet.deploy import OperatorKeys
from ponos.devnet.local import LocalDevnet
from ponos.executor.service import ExecutorService
from ponos.pb import executor_pb2, executor_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
TESTS_DIR = Path(__file__).resolve().parent
# The hello performer without the full CLI (ready in about half the time).
HELLO = [sys.executable, "-m", "ponos.performer"]
RECORDING = [sys.executable, str(TESTS_DIR / "recording_performer.py")]


# -- configs -------------------------------------------------------------------------------


def config_data(
    net: LocalDevnet,
    tmp_path: Path,
    *,
    index: int = 0,
    grpc_port: int = 0,
    command: list[str] | None = None,
    envs: dict[str, str] | None = None,
    health_interval: str = "200ms",
    performers: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Executor `index`'s devnet config (the one `ponos devnet up` writes), with its data in
    tmp_path, the hello performer (or `command`) as a process performer, ops off."""
    data = executor_config(net.deployment, index, tmp_path / "data", grpc_port, 0)
    data["ops"] = {"enabled": False}
    data["logging"] = {"level": "info", "format": "json"}
    if performers is not None:
        data["avsPerformers"] = performers
    else:
        perf = data["avsPerformers"][0]
        perf["command"] = list(command or HELLO)
        perf["healthInterval"] = health_interval
        perf["envs"] = [{"name": k, "value": v} for k, v in (envs or {}).items()]
    for key, value in extra.items():
        data[key] = value
    return data


def write_config(data: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def load(data: dict[str, Any], tmp_path: Path, name: str = "executor.yaml") -> ExecutorConfig:
    """Through the real loader (camelCase keys, durations), as `ponos executor run` does."""
    config, _warnings = load_config(ExecutorConfig, write_config(data, tmp_path / name))
    return config


# -- an aggregator ---------------------------------------------------------------------------


def signer_for(keys: OperatorKeys) -> EcdsaSigner | Bn254Signer:
    if keys.ecdsa is not None:
        return EcdsaSigner(EcdsaPrivateKey.from_hex(keys.ecdsa.private_key))
    assert keys.bls is not None
    return Bn254Signer(Bn254PrivateKey.from_hex(keys.bls.private_key))


def new_task_id() -> str:
    return "0x" + secrets.token_hex(32)


@dataclass
class SigningAggregator:
    """Signs TaskSubmissions the way the aggregator does (docs/protocol.md, version 1)."""

    net: LocalDevnet
    executor_index: int = 0

    @property
    def executor(self) -> OperatorKeys:
        return self.net.deployment.executors[self.executor_index]

    def block(self) -> int:
        return int(self.net.client.w3.eth.block_number)

    def submission(
        self,
        payload: bytes = b"0x04",
        *,
        task_id: str | None = None,
        signer: EcdsaSigner | Bn254Signer | None = None,
        sign_payload: bytes | None = None,
        sign_executor: str | None = None,
        **fields: Any,
    ) -> executor_pb2.TaskSubmission:
        """A correctly signed submission; `fields` override any TaskSubmission field after
        signing, `sign_*` change what is signed (to produce bad signatures)."""
        d = self.net.deployment
        values: dict[str, Any] = {
            "task_id": task_id or new_task_id(),
            "aggregator_address": d.aggregator.address,
            "avs_address": d.avs,
            "payload": payload,
            "operator_set_id": d.executor_operator_set_id,
            "reference_timestamp": d.reference_timestamp,
            "executor_address": self.executor.address,
            "task_block_number": self.block(),
            "version": 1,
        }
        digest = messages.task_submission_digest(
            values["task_id"],
            values["avs_address"],
            sign_executor or values["executor_address"],
            values["operator_set_id"],
            values["reference_timestamp"],
            values["task_block_number"],
            payload if sign_payload is None else sign_payload,
        )
        values["signature"] = (signer or signer_for(d.aggregator)).sign_digest(digest)
        values.update(fields)
        return executor_pb2.TaskSubmission(**values)

    def check_result(self, result: executor_pb2.TaskResult, output: bytes) -> None:
        """The result is signed by this executor's registered key over the certificate
        digest of `output`, exactly as the aggregator verifies it."""
        d = self.net.deployment
        keys = self.executor
        assert result.output == output
        assert result.operator_address == keys.address
        assert result.avs_address == d.avs
        assert result.operator_set_id == d.executor_operator_set_id
        assert result.version == 1
        message_hash = messages.message_hash(output)
        auth = messages.result_auth_digest(
            result.task_id, d.avs, keys.address, d.executor_operator_set_id, result.signature
        )
        if keys.ecdsa is not None:
            verifier = self.net.client.contract("ECDSACertificateVerifier")
            separator = bytes(verifier.functions.domainSeparator().call())
            digest = messages.ecdsa_certificate_digest(
                separator, d.reference_timestamp, message_hash
            )
            verify_ecdsa(digest, result.signature, keys.ecdsa.address)
            verify_ecdsa(auth, result.auth_signature, keys.ecdsa.address)
        else:
            digest = messages.bn254_certificate_digest(d.reference_timestamp, message_hash)
            public = signer_for(keys)
            assert isinstance(public, Bn254Signer)
            verify_bn254(digest, result.signature, public.public_key_g2)
            verify_bn254(auth, result.auth_signature, public.public_key_g2)
        assert result.output_digest == digest


# -- clients ---------------------------------------------------------------------------------


class ExecutorClient:
    """Stubs of both executor services and health, on one channel."""

    # Reconnect quickly: tests poll executors that are (re)starting, and gRPC's default
    # backoff would add seconds after each refused connection.
    OPTIONS = (
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 300),
    )

    def __init__(self, target: str) -> None:
        self.target = target
        self.channel = grpc.aio.insecure_channel(target, options=self.OPTIONS)
        self.executor = executor_pb2_grpc.ExecutorServiceStub(self.channel)
        self.management = executor_pb2_grpc.ExecutorManagementServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    async def serving(self, service: str = "") -> bool:
        try:
            reply = await self.health.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=2
            )
        except grpc.aio.AioRpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    async def health_status(self, service: str = "") -> str:
        """The health service's answer (SERVING, NOT_SERVING, ...); raises if none came."""
        reply = await self.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    async def performers(self, avs: str = "") -> list[executor_pb2.Performer]:
        reply = await self.executor.ListPerformers(
            executor_pb2.ListPerformersRequest(avs_address=avs), timeout=10
        )
        return list(reply.performers)

    async def close(self) -> None:
        await self.channel.close()


async def rpc_error(call) -> grpc.aio.AioRpcError:
    """Await a call that must fail; returns its error."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError("the call succeeded but was expected to fail")


@contextlib.asynccontextmanager
async def running_executor(
    config: ExecutorConfig,
) -> AsyncIterator[tuple[ExecutorService, ExecutorClient]]:
    """An in-process ExecutorService and a client to it; stopped afterwards."""
    service = ExecutorService(config)
    try:
        await service.start()
        assert service.server is not None
        client = ExecutorClient(f"127.0.0.1:{service.server.port}")
        try:
            yield service, client
        finally:
            await client.close()
    finally:
        await service.stop()


async def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05) -> None:
    """Poll a (sync or async) predicate until true; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s")
        await asyncio.sleep(interval)


# -- executor subprocesses -------------------------------------------------------------------


class ExecutorProcess:
    """`python -m ponos executor run --config FILE` as a real child process, logging JSON
    lines to a file the test reads."""

    def __init__(self, config_path: Path, port: int, log_path: Path) -> None:
        self.config_path = config_path
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ExecutorProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PONOS_")}
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ponos",
                    "executor",
                    "run",
                    "--config",
                    str(self.config_path),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        return self

    async def wait_serving(self, timeout: float = 60.0) -> None:
        client = ExecutorClient(self.target)
        try:

            async def ready() -> bool:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(
                        f"executor exited with {self.proc.returncode}:\n{self.output()[-3000:]}"
                    )
                return await client.serving()

            await wait_until(ready, timeout=timeout, interval=0.1)
        finally:
            await client.close()

    def output(self) -> str:
        """Everything this run (since the last start) wrote."""
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            return f.read().decode(errors="replace")

    def logs(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.output().splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
        return lines

    def messages(self) -> list[str]:
        return [entry.get("msg", "") for entry in self.logs()]

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def new_executor_process(
    data: dict[str, Any], tmp_path: Path, name: str = "executor"
) -> ExecutorProcess:
    port = free_port()
    data = {**data, "grpcPort": port}
    path = write_config(data, tmp_path / f"{name}.yaml")
    return ExecutorProcess(path, port, tmp_path / f"{name}.log")


# -- performer processes on this machine -------------------------------------------------------


def processes_with_env(name: str, value: str) -> list[int]:
    """Pids of live (non-zombie) processes of this user whose environment has name=value:
    how tests find every performer an executor started, including orphans."""
    wanted = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if wanted in environ and state != "Z":
            found.append(int(entry.name))
    return sorted(found)


def kill_marked(name: str, value: str) -> None:
    """Test teardown: SIGKILL every process with name=value in its environment, so a
    failing test never leaves performers running on the machine."""
    for pid in processes_with_env(name, value):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
