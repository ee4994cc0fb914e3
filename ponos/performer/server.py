"""A performer gRPC server around an AVS author's worker (see the package docstring)."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
from typing import Protocol, runtime_checkable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from ponos import log
from ponos.pb import performer_pb2, performer_pb2_grpc
from ponos.runtime import run

DEFAULT_PORT = 8080
SERVICE_NAME = performer_pb2.DESCRIPTOR.services_by_name["PerformerService"].full_name
logger = log.get_logger(__name__)


class TaskError(Exception):
    """Raised by a worker for a task it refuses or cannot handle; the message goes back to
    the executor as the gRPC error detail."""


@runtime_checkable
class Worker(Protocol):
    """What an AVS implements. Both methods may also be `async def`."""

    def validate(self, task_id: str, payload: bytes) -> None: ...

    def handle(self, task_id: str, payload: bytes) -> bytes: ...


async def _call(fn, *args):
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class _PerformerServicer(performer_pb2_grpc.PerformerServiceServicer):
    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    async def HealthCheck(self, request, context):
        return performer_pb2.HealthCheckResponse(status=performer_pb2.READY_FOR_TASK)

    async def StartSync(self, request, context):
        return performer_pb2.StartSyncResponse()

    async def ExecuteTask(self, request, context):
        task_id = request.task_id.decode("utf-8", errors="replace")
        try:
            await _call(self._worker.validate, task_id, request.payload)
        except TaskError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"task is invalid: {exc}")
        try:
            result = await _call(self._worker.handle, task_id, request.payload)
        except TaskError as exc:
            await context.abort(grpc.StatusCode.INTERNAL, f"Failed to handle task: {exc}")
        if not isinstance(result, bytes | bytearray):
            await context.abort(grpc.StatusCode.INTERNAL, "worker returned a non-bytes result")
        return performer_pb2.TaskResponse(task_id=request.task_id, result=bytes(result))


class PerformerServer:
    """Serves a worker on host:port with PerformerService, grpc.health.v1 and reflection."""

    def __init__(self, worker: Worker, port: int = DEFAULT_PORT, host: str = "0.0.0.0") -> None:
        self.worker = worker
        self.host = host
        self.port = port
        self._server: grpc.aio.Server | None = None
        self._health = health_aio.HealthServicer()

    async def start(self) -> int:
        server = grpc.aio.server()
        performer_pb2_grpc.add_PerformerServiceServicer_to_server(
            _PerformerServicer(self.worker), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME),
            server,
        )  # fmt: skip
        try:
            bound = server.add_insecure_port(f"{self.host}:{self.port}")
        except RuntimeError:  # grpcio >= 1.60 raises instead of returning 0
            bound = 0
        if bound == 0:
            raise OSError(f"cannot listen on {self.host}:{self.port} (port in use?)")
        self.port = bound
        await server.start()
        for name in ("", SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._server = server
        logger.info("Performer listening", host=self.host, port=self.port)
        return bound

    async def stop(self, grace: float = 5.0) -> None:
        if self._server is not None:
            await self._health.enter_graceful_shutdown()
            await self._server.stop(grace)
            self._server = None

    async def serve_until_signalled(self) -> None:
        await self.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        logger.info("Performer stopping")
        await self.stop()


def port_from_env(default: int = DEFAULT_PORT) -> int:
    """PERFORMER_PORT (set by the ponos executor), then PORT (Go test containers), else 8080."""
    for name in ("PERFORMER_PORT", "PORT"):
        value = os.environ.get(name)
        if value:
            try:
                port = int(value)
            except ValueError:
                raise ValueError(f"{name}={value!r} is not a port number") from None
            if not 0 <= port <= 65535:
                raise ValueError(f"{name}={value} is out of range")
            return port
    return default


def serve(worker: Worker, port: int | None = None, host: str = "0.0.0.0") -> None:
    """Run a performer until SIGTERM/SIGINT (blocking; uses uvloop)."""
    server = PerformerServer(worker, port=port_from_env() if port is None else port, host=host)
    run(server.serve_until_signalled())
