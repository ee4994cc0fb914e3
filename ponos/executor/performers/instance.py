"""One performer instance: a runtime plus its gRPC client, health state and in-flight tasks.

Health is checked for the instance's whole life (the Go original stopped after a deploy):
resource health from the runtime (process/container alive, endpoint reachable), application
health from the performer's gRPC health service. A performer in service that dies, or fails
three application checks in a row, is restarted with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ponos import log
from ponos.executor.performers.base import PerformerRuntime
from ponos.executor.performers.client import PerformerClient
from ponos.executor.performers.errors import DeploymentFailed, DeploymentTimeout
from ponos.executor.performers.slots import SlotStatus, check_transition
from ponos.executor.performers.spec import PerformerSpec

logger = log.get_logger(__name__)

MAX_APP_FAILURES = 3
RESTART_BACKOFF_START = 1.0
RESTART_BACKOFF_MAX = 30.0
STARTUP_POLL = 0.1
ADOPT_PROBES = 3
ADOPT_PROBE_INTERVAL = 0.5


def new_performer_id(avs_address: str) -> str:
    return f"performer-{avs_address.lower()}-{uuid.uuid4()}"


@dataclass(frozen=True)
class PerformerInfo:
    """A snapshot of an instance, for ListPerformers and for the store."""

    performer_id: str
    avs_address: str
    status: str
    runtime: str
    endpoint: str
    resource_id: str
    resource_healthy: bool
    application_healthy: bool
    last_health_check: float | None
    created_at: float
    deployment_id: str
    restarts: int
    spec: PerformerSpec


ChangeCallback = Callable[["PerformerInstance"], Awaitable[None]]


class PerformerInstance:
    def __init__(
        self,
        runtime: PerformerRuntime,
        *,
        deployment_id: str = "",
        on_change: ChangeCallback | None = None,
        created_at: float | None = None,
    ) -> None:
        self.runtime = runtime
        self.spec = runtime.spec
        self.performer_id = runtime.performer_id
        self.deployment_id = deployment_id
        self.status = SlotStatus.STAGED
        self.created_at = created_at or time.time()
        self.resource_healthy = False
        self.application_healthy = False
        self.last_health_check: float | None = None
        self.restarts = 0
        self.client: PerformerClient | None = None
        self._on_change = on_change
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._healthy = asyncio.Event()
        self._monitor_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._app_failures = 0
        self._probes = 0  # health checks done (wait_healthy reads the monitor's verdict)
        self._started_at = time.monotonic()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self.runtime.start()
        self._connect()
        self._start_monitor()

    async def adopt(self, resource_id: str, endpoint: str) -> bool:
        """Re-attach to a running performer; True once it answers a health check (a few
        tries: one slow answer is not a dead performer)."""
        if not await self.runtime.adopt(resource_id, endpoint):
            return False
        self._connect()
        for attempt in range(ADOPT_PROBES):
            if await self._probe():
                self._start_monitor()
                return True
            if not self.resource_healthy:
                break
            if attempt + 1 < ADOPT_PROBES:
                await asyncio.sleep(ADOPT_PROBE_INTERVAL)
        await self._close_client()
        return False

    async def wait_healthy(self, timeout: float) -> None:
        """Until the first successful application check; fails fast if the resource dies."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._healthy.is_set():
            # The monitor probes every STARTUP_POLL during start-up; its verdict is read
            # here rather than probing a second time concurrently (a runtime then sees two
            # checks race, and one may report the exit before the other has described it).
            if self.runtime.kind != "endpoint" and self._probes and not self.resource_healthy:
                raise DeploymentFailed(
                    f"performer {self.performer_id} stopped during startup "
                    f"({self.runtime.describe_failure()})"
                )
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise DeploymentTimeout(
                    f"performer {self.performer_id} did not become healthy within {timeout:.0f}s"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._healthy.wait(), min(STARTUP_POLL * 5, remaining))

    async def set_status(self, status: SlotStatus) -> None:
        self.status = check_transition(self.status, status)
        await self._notify()

    async def drain(self, timeout: float) -> bool:
        """Wait for in-flight tasks to finish; False if some were still running at timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def stop(self) -> None:
        self._stopping = True
        if self._monitor_task is not None:
            self._monitor_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor_task
            self._monitor_task = None
        await self._close_client()
        await self.runtime.stop()

    # -- tasks -----------------------------------------------------------------------------

    async def run_task(self, task_id: str, payload: bytes, timeout: float) -> tuple[bytes, bytes]:
        if self.client is None:
            raise DeploymentFailed(f"performer {self.performer_id} has no connection")
        self._inflight += 1
        self._idle.clear()
        try:
            return await self.client.execute(task_id, payload, timeout)
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

    @property
    def inflight(self) -> int:
        return self._inflight

    # -- health ----------------------------------------------------------------------------

    def info(self) -> PerformerInfo:
        return PerformerInfo(
            performer_id=self.performer_id,
            avs_address=self.spec.avs_address,
            status=self.status.value,
            runtime=self.runtime.kind,
            endpoint=self.runtime.endpoint or "",
            resource_id=self.runtime.resource_id,
            resource_healthy=self.resource_healthy,
            application_healthy=self.application_healthy,
            last_health_check=self.last_health_check,
            created_at=self.created_at,
            deployment_id=self.deployment_id,
            restarts=self.restarts,
            spec=self.spec,
        )

    def _connect(self) -> None:
        if self.runtime.endpoint:
            self.client = PerformerClient(self.runtime.endpoint)

    async def _close_client(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    def _start_monitor(self) -> None:
        self._stopping = False
        self._started_at = time.monotonic()
        self._monitor_task = asyncio.create_task(
            self._monitor(), name=f"health:{self.performer_id}"
        )

    async def _probe(self) -> bool:
        """One health check; updates the fields and reports changes."""
        before = (self.resource_healthy, self.application_healthy)
        alive = await self.runtime.is_alive()
        healthy = alive and self.client is not None and await self.client.check_health()
        self._probes += 1
        self.resource_healthy = alive
        self.application_healthy = healthy
        self.last_health_check = time.time()
        if healthy:
            self._healthy.set()
        if before != (alive, healthy):
            logger.info(
                "Performer health changed",
                performer_id=self.performer_id,
                resource_healthy=alive,
                application_healthy=healthy,
            )
            await self._notify()
        return healthy

    async def _monitor(self) -> None:
        backoff = RESTART_BACKOFF_START
        healthy_since: float | None = None
        while not self._stopping:
            try:
                healthy = await self._probe()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in one probe must not end monitoring for good
                logger.exception("Performer health check failed", performer_id=self.performer_id)
                healthy = False
            now = time.monotonic()
            if healthy:
                self._app_failures = 0
                healthy_since = healthy_since or now
                if now - healthy_since > 60:
                    backoff = RESTART_BACKOFF_START
            elif self._healthy.is_set() or now - self._started_at > self.spec.startup_timeout:
                # Failures count once the performer has served since its (re)start, or once its
                # startup time is over: a performer still booting is not "unhealthy".
                healthy_since = None
                self._app_failures += 1
            restartable = (
                self.status in (SlotStatus.IN_SERVICE,) and self.runtime.kind != "endpoint"
            )
            if restartable and (
                not self.resource_healthy or self._app_failures >= MAX_APP_FAILURES
            ):
                await self._restart(backoff)
                backoff = min(backoff * 2, RESTART_BACKOFF_MAX)
                continue
            interval = self.spec.health_interval if self._healthy.is_set() else STARTUP_POLL
            await asyncio.sleep(interval)

    async def _restart(self, delay: float) -> None:
        reason = "resource down" if not self.resource_healthy else "application unhealthy"
        logger.warning(
            "Restarting performer",
            performer_id=self.performer_id,
            reason=reason,
            delay_s=delay,
            detail=self.runtime.describe_failure(),
        )
        await asyncio.sleep(delay)
        await self._close_client()
        try:
            await self.runtime.restart()
        except Exception as exc:
            logger.error("Performer restart failed", performer_id=self.performer_id, error=str(exc))
            return
        self.restarts += 1
        self._app_failures = 0
        self._healthy.clear()
        self._started_at = time.monotonic()
        self._connect()
        await self._notify()

    async def _notify(self) -> None:
        if self._on_change is not None:
            try:
                await self._on_change(self)
            except Exception:
                logger.exception("Failed to record performer state", performer_id=self.performer_id)
