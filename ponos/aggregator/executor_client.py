"""gRPC channels from the aggregator to executors: one per socket, reused across tasks.

A socket is the string an executor operator registered on chain (`host:port`). TLS is used
when configured (CA, optional client certificate); otherwise plaintext, as Ponos on loopback.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from ponos.config.common import TLSConfig
from ponos.pb import executor_pb2, executor_pb2_grpc

_OPTIONS = [
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.enable_retries", 0),
    # Reconnect quickly to an executor that was down: gRPC's default backoff grows to 120 s,
    # far beyond a task's deadline.
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


def _target(socket: str) -> str:
    """Sockets are registered as host:port, sometimes with a scheme; gRPC wants host:port."""
    for prefix in ("grpc://", "http://", "https://", "dns:///"):
        if socket.startswith(prefix):
            return socket[len(prefix) :].rstrip("/")
    return socket


class ExecutorClients:
    def __init__(self, tls: TLSConfig | None = None) -> None:
        self._tls = tls if tls is not None and tls.enabled else None
        self._credentials: grpc.ChannelCredentials | None = None
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[str, executor_pb2_grpc.ExecutorServiceStub] = {}

    def _creds(self) -> grpc.ChannelCredentials:
        if self._credentials is None:
            assert self._tls is not None
            ca = Path(self._tls.ca_file).read_bytes() if self._tls.ca_file else None
            key = Path(self._tls.key_file).read_bytes() if self._tls.key_file else None
            cert = Path(self._tls.cert_file).read_bytes() if self._tls.cert_file else None
            self._credentials = grpc.ssl_channel_credentials(ca, key, cert)
        return self._credentials

    def stub(self, socket: str) -> executor_pb2_grpc.ExecutorServiceStub:
        target = _target(socket)
        stub = self._stubs.get(target)
        if stub is None:
            if self._tls is not None:
                channel = grpc.aio.secure_channel(target, self._creds(), options=_OPTIONS)
            else:
                channel = grpc.aio.insecure_channel(target, options=_OPTIONS)
            self._channels[target] = channel
            stub = self._stubs[target] = executor_pb2_grpc.ExecutorServiceStub(channel)
        return stub

    async def submit(
        self, socket: str, submission: executor_pb2.TaskSubmission, timeout: float
    ) -> executor_pb2.TaskResult:
        return await self.stub(socket).SubmitTask(submission, timeout=timeout)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        self._stubs.clear()
