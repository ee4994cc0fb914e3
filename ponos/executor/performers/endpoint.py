"""Endpoint performers: run by someone else (a compose service, a Kubernetes Service).

The executor only routes tasks and health-checks them; it never starts or stops them.
Resource health means "the address accepts TCP connections".
"""

from __future__ import annotations

import asyncio
import contextlib

from ponos.executor.performers.base import PerformerRuntime
from ponos.executor.performers.errors import DeploymentFailed


def split_host_port(endpoint: str) -> tuple[str, int]:
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise DeploymentFailed(f"endpoint {endpoint!r} is not host:port")
    return host.strip("[]"), int(port)


class EndpointRuntime(PerformerRuntime):
    kind = "endpoint"

    async def start(self) -> None:
        if not self.spec.endpoint:
            raise DeploymentFailed("endpoint performer has no endpoint")
        split_host_port(self.spec.endpoint)
        self.endpoint = self.spec.endpoint

    async def adopt(self, resource_id: str, endpoint: str) -> bool:
        self.endpoint = self.spec.endpoint
        return True

    async def is_alive(self) -> bool:
        if not self.endpoint:
            return False
        host, port = split_host_port(self.endpoint)
        try:
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def stop(self, timeout: float = 10.0) -> None:
        """Nothing to stop: the performer's lifecycle belongs to whoever runs it."""

    async def restart(self) -> None:
        """Not ours to restart; health checks keep reporting until it comes back."""
