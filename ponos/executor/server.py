"""The executor's gRPC surface: ExecutorService (m7 name, all four RPCs) and
ExecutorManagementService (newer name), plus grpc.health.v1 and server reflection.

Handlers only translate: request → the component that does the work → response, and every
known error → its status code with a message naming the problem. Anything unexpected is
logged with its traceback and answered INTERNAL without internals.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from ponos import log
from ponos.executor.auth import ManagementAuth
from ponos.executor.errors import InvalidArgument, RpcError
from ponos.executor.performers import errors as perf_errors
from ponos.executor.performers.instance import PerformerInfo
from ponos.pb import executor_pb2, executor_pb2_grpc

logger = log.get_logger(__name__)

SERVICES = executor_pb2.DESCRIPTOR.services_by_name
EXECUTOR_SERVICE = SERVICES["ExecutorService"].full_name
MANAGEMENT_SERVICE = SERVICES["ExecutorManagementService"].full_name
GO_ZERO_TIME = "0001-01-01T00:00:00Z"

_PERFORMER_CODES: dict[type[Exception], grpc.StatusCode] = {
    perf_errors.DeploymentInProgress: grpc.StatusCode.ALREADY_EXISTS,
    perf_errors.DeploymentTimeout: grpc.StatusCode.DEADLINE_EXCEEDED,
    perf_errors.DeploymentFailed: grpc.StatusCode.FAILED_PRECONDITION,
    perf_errors.ArtifactRejected: grpc.StatusCode.INVALID_ARGUMENT,
    perf_errors.PerformerNotFound: grpc.StatusCode.NOT_FOUND,
    perf_errors.NoCurrentPerformer: grpc.StatusCode.UNAVAILABLE,
    perf_errors.RuntimeUnavailable: grpc.StatusCode.FAILED_PRECONDITION,
}


def status_for(exc: Exception) -> grpc.StatusCode | None:
    if isinstance(exc, RpcError):
        return exc.code
    if isinstance(exc, perf_errors.PerformerCallFailed):
        return getattr(grpc.StatusCode, exc.code_name, grpc.StatusCode.UNAVAILABLE)
    for kind, code in _PERFORMER_CODES.items():
        if isinstance(exc, kind):
            return code
    return None


def rpc_handler(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Map known errors to status codes; never leak a traceback to the caller."""

    @functools.wraps(method)
    async def wrapper(self, request, context):
        try:
            return await method(self, request, context)
        except Exception as exc:
            code = status_for(exc)
            if code is None:
                logger.exception("Unexpected error in RPC handler", rpc=method.__name__)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error (see executor logs)")
            await context.abort(code, str(exc))

    return wrapper


def rfc3339(timestamp: float | None) -> str:
    if timestamp is None:
        return GO_ZERO_TIME
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def performer_message(info: PerformerInfo) -> executor_pb2.Performer:
    return executor_pb2.Performer(
        performer_id=info.performer_id,
        avs_address=info.avs_address,
        status=info.status,
        artifact_registry=info.spec.artifact_registry,
        artifact_digest=info.spec.artifact_digest,
        resource_healthy=info.resource_healthy,
        application_healthy=info.application_healthy,
        last_health_check=rfc3339(info.last_health_check),
        container_id=info.resource_id,
        artifact_tag=info.spec.artifact_tag,
    )


class ExecutorBackend(Protocol):
    """What the handlers need from the executor service."""

    auth: ManagementAuth

    async def submit_task(self, request, context) -> executor_pb2.TaskResult: ...

    async def deploy_artifact(self, request, context) -> tuple[str, str]: ...

    def list_performers(self, avs_address: str | None) -> list[PerformerInfo]: ...

    async def remove_performer(self, performer_id: str) -> None: ...


class _Handlers:
    def __init__(self, backend: ExecutorBackend) -> None:
        self.backend = backend

    @rpc_handler
    async def SubmitTask(self, request, context):
        return await self.backend.submit_task(request, context)

    @rpc_handler
    async def DeployArtifact(self, request, context):
        self.backend.auth.check(context.peer(), request.auth if request.HasField("auth") else None)
        deployment_id, _performer_id = await self.backend.deploy_artifact(request, context)
        return executor_pb2.DeployArtifactResponse(
            success=True, message="Deployment completed successfully", deployment_id=deployment_id
        )

    @rpc_handler
    async def ListPerformers(self, request, context):
        avs = request.avs_address.strip() or None
        infos = self.backend.list_performers(avs)
        return executor_pb2.ListPerformersResponse(performers=[performer_message(i) for i in infos])

    @rpc_handler
    async def RemovePerformer(self, request, context):
        if not request.performer_id:
            raise InvalidArgument("performer_id is required")
        self.backend.auth.check(context.peer(), request.auth if request.HasField("auth") else None)
        await self.backend.remove_performer(request.performer_id)
        return executor_pb2.RemovePerformerResponse(
            success=True, message=f"Performer {request.performer_id} removed successfully"
        )

    @rpc_handler
    async def GetChallengeToken(self, request, context):
        if not self.backend.auth.enabled:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "authentication is not enabled")
        if not request.operator_address:
            raise InvalidArgument("operator_address is required")
        token, expires = self.backend.auth.issue_token(request.operator_address)
        return executor_pb2.GetChallengeTokenResponse(challenge_token=token, expires_at=expires)


class ExecutorServicer(_Handlers, executor_pb2_grpc.ExecutorServiceServicer):
    pass


class ManagementServicer(_Handlers, executor_pb2_grpc.ExecutorManagementServiceServicer):
    pass


class ExecutorGrpcServer:
    """grpc.aio server with both services, health and reflection."""

    def __init__(
        self,
        backend: ExecutorBackend,
        host: str,
        port: int,
        credentials: grpc.ServerCredentials | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.health = health_aio.HealthServicer()
        self._credentials = credentials
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", 16 * 1024 * 1024),
                ("grpc.max_send_message_length", 16 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
            ]
        )
        executor_pb2_grpc.add_ExecutorServiceServicer_to_server(
            ExecutorServicer(backend), self._server
        )
        executor_pb2_grpc.add_ExecutorManagementServiceServicer_to_server(
            ManagementServicer(backend), self._server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        reflection.enable_server_reflection(
            (
                EXECUTOR_SERVICE,
                MANAGEMENT_SERVICE,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            self._server,
        )

    async def start(self) -> int:
        address = f"{self.host}:{self.port}"
        if self._credentials is not None:
            bound = self._server.add_secure_port(address, self._credentials)
        else:
            bound = self._server.add_insecure_port(address)
        if bound == 0:
            raise OSError(f"cannot listen on {address} (port in use or address not available)")
        self.port = bound
        await self._server.start()
        await self.set_serving(True)
        return bound

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", EXECUTOR_SERVICE, MANAGEMENT_SERVICE):
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self._server.stop(grace)
