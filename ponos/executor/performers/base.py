"""The runtime interface: how one performer instance is started, found again and stopped.

Each way of running a performer (a local process, a Docker container, an externally managed
endpoint) is one module beside this one, like httpx's transports. Runtimes know nothing about
slots, health policy or tasks; `instance.py` and `manager.py` build those on top.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from ponos.executor.performers.spec import PerformerSpec


@dataclass
class RuntimeContext:
    """What runtimes need from the executor: where to put logs and artifacts, and the
    executor's environment (for `valueFromEnv`)."""

    log_dir: Path
    artifact_dir: Path
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    docker_host: str | None = None


class PerformerRuntime(ABC):
    """One running performer: a process, a container or an external endpoint."""

    kind: str = ""

    def __init__(self, spec: PerformerSpec, performer_id: str, context: RuntimeContext) -> None:
        self.spec = spec
        self.performer_id = performer_id
        self.context = context
        self.endpoint: str | None = None  # host:port of the performer's gRPC server
        self.resource_id: str = ""  # pid / container id, "" when there is none

    @abstractmethod
    async def start(self) -> None:
        """Launch the performer; sets endpoint and resource_id. Raises DeploymentFailed."""

    @abstractmethod
    async def adopt(self, resource_id: str, endpoint: str) -> bool:
        """Re-attach to a performer left running by a previous executor process."""

    @abstractmethod
    async def is_alive(self) -> bool:
        """Resource-level health: the process or container is running / endpoint reachable."""

    @abstractmethod
    async def stop(self, timeout: float = 10.0) -> None:
        """Stop and clean up; idempotent."""

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def describe_failure(self) -> str:
        """A hint for operators when the performer dies (e.g. where its log is)."""
        return ""
