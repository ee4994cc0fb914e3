"""gRPC client to one performer: run a task, check its health (both protocol generations)."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ponos.executor.performers.errors import PerformerCallFailed
from ponos.pb import performer_pb2, performer_pb2_grpc

# Performers answer with results up to the executor's own limit; the channel does not cap them.
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    ("grpc.enable_retries", 0),
]


class PerformerClient:
    """Talks to a performer at host:port over plaintext loopback/network gRPC."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._channel = grpc.aio.insecure_channel(endpoint, options=_CHANNEL_OPTIONS)
        self._performer = performer_pb2_grpc.PerformerServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        # Which health protocol this performer speaks: None until learned.
        self._standard_health: bool | None = None

    async def execute(self, task_id: str, payload: bytes, timeout: float) -> tuple[bytes, bytes]:
        """Run a task; returns (task_id echoed by the performer, result)."""
        request = performer_pb2.TaskRequest(task_id=task_id.encode(), payload=payload)
        try:
            response = await self._performer.ExecuteTask(request, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            detail = exc.details() or code.name
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise PerformerCallFailed(
                    f"performer did not answer within {timeout:.1f}s", code_name="DEADLINE_EXCEEDED"
                ) from None
            if code == grpc.StatusCode.UNAVAILABLE:
                raise PerformerCallFailed(f"performer unreachable: {detail}") from None
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                raise PerformerCallFailed(detail, code_name="INVALID_ARGUMENT") from None
            raise PerformerCallFailed(
                f"performer failed the task: {detail}", code_name="INTERNAL"
            ) from None
        return response.task_id, response.result

    async def check_health(self, timeout: float = 1.0) -> bool:
        """grpc.health.v1 first (protocol v1.17+), else PerformerService.HealthCheck (v1.14)."""
        if self._standard_health is not False:
            try:
                reply = await self._health.Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=timeout
                )
                self._standard_health = True
                return reply.status == health_pb2.HealthCheckResponse.SERVING
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                    return False
                self._standard_health = False
        try:
            await self._performer.HealthCheck(performer_pb2.HealthCheckRequest(), timeout=timeout)
            return True  # any answer counts, as in Ponos: the status enum is advisory
        except grpc.aio.AioRpcError:
            return False

    async def close(self) -> None:
        await self._channel.close()
