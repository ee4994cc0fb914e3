"""Performers of every AVS: blue/green deploys, task routing, drain, removal.

Per AVS there is at most one performer in service and one staged. A deploy stages a new
instance, waits until it is healthy, promotes it, and drains the previous one in the
background (its in-flight tasks finish; new tasks already go to the new one). A concurrent
deploy for the same AVS is refused rather than queued: the caller learns immediately.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ponos import log
from ponos.executor.performers.base import PerformerRuntime, RuntimeContext
from ponos.executor.performers.endpoint import EndpointRuntime
from ponos.executor.performers.errors import (
    DeploymentInProgress,
    NoCurrentPerformer,
    PerformerNotFound,
    RuntimeUnavailable,
)
from ponos.executor.performers.instance import PerformerInfo, PerformerInstance, new_performer_id
from ponos.executor.performers.process import ProcessRuntime
from ponos.executor.performers.slots import SlotStatus
from ponos.executor.performers.spec import PerformerSpec

logger = log.get_logger(__name__)

InfoCallback = Callable[[PerformerInfo], Awaitable[None]]
RemovedCallback = Callable[[str], Awaitable[None]]


@dataclass
class PerformerEvents:
    """How the manager reports changes (the executor persists them)."""

    changed: InfoCallback | None = None
    removed: RemovedCallback | None = None


def default_runtime_factory(
    context: RuntimeContext,
) -> Callable[[PerformerSpec, str], PerformerRuntime]:
    def make(spec: PerformerSpec, performer_id: str) -> PerformerRuntime:
        if spec.runtime == "process":
            return ProcessRuntime(spec, performer_id, context)
        if spec.runtime == "endpoint":
            return EndpointRuntime(spec, performer_id, context)
        if spec.runtime == "docker":
            try:
                from ponos.executor.performers.docker import DockerRuntime
            except ImportError as exc:
                raise RuntimeUnavailable(f"the docker runtime is not available: {exc}") from None
            return DockerRuntime(spec, performer_id, context)
        raise RuntimeUnavailable(f"unknown performer runtime {spec.runtime!r}")

    return make


class AvsPerformers:
    """The slots of one AVS."""

    def __init__(
        self,
        avs_address: str,
        make_runtime: Callable[[PerformerSpec, str], PerformerRuntime],
        events: PerformerEvents,
        drain_timeout: float,
    ) -> None:
        self.avs_address = avs_address
        self._make_runtime = make_runtime
        self._events = events
        self._drain_timeout = drain_timeout
        self.current: PerformerInstance | None = None
        self.staged: PerformerInstance | None = None
        self.draining: set[PerformerInstance] = set()
        self._deploy_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()

    def _instance(
        self,
        spec: PerformerSpec,
        deployment_id: str,
        performer_id: str | None = None,
        created_at: float | None = None,
    ) -> PerformerInstance:
        performer_id = performer_id or new_performer_id(self.avs_address)
        return PerformerInstance(
            self._make_runtime(spec, performer_id),
            deployment_id=deployment_id,
            on_change=self._changed,
            created_at=created_at,
        )

    async def _changed(self, instance: PerformerInstance) -> None:
        if self._events.changed is not None:
            await self._events.changed(instance.info())

    async def deploy(
        self,
        spec: PerformerSpec,
        deployment_id: str,
        timeout: float,
        *,
        performer_id: str | None = None,
        created_at: float | None = None,
    ) -> PerformerInstance:
        """Stage a new instance, wait until healthy, promote it; the previous one drains.
        `performer_id`/`created_at` keep a restored performer's identity."""
        if self._deploy_lock.locked():
            raise DeploymentInProgress(
                f"a deployment is already in progress for AVS {self.avs_address}"
            )
        async with self._deploy_lock:
            staged = self._instance(spec, deployment_id, performer_id, created_at)
            self.staged = staged
            await self._changed(staged)
            try:
                await staged.start()
                await staged.wait_healthy(timeout)
            except BaseException:
                self.staged = None
                await self._discard(staged)
                raise
            await self._promote(staged)
            return staged

    async def adopt(
        self,
        spec: PerformerSpec,
        performer_id: str,
        resource_id: str,
        endpoint: str,
        deployment_id: str,
        created_at: float | None,
    ) -> PerformerInstance | None:
        """Re-attach to a performer a previous executor process left running."""
        async with self._deploy_lock:
            instance = self._instance(spec, deployment_id, performer_id, created_at)
            if not await instance.adopt(resource_id, endpoint):
                # Alive but not answering counts as dead: stop it before a replacement
                # starts, so it cannot linger as an orphan.
                await instance.stop()
                return None
            await self._promote(instance)
            return instance

    async def _promote(self, instance: PerformerInstance) -> None:
        old = self.current
        if self.staged is instance:
            self.staged = None
        await instance.set_status(SlotStatus.IN_SERVICE)
        self.current = instance
        logger.info(
            "Performer in service",
            avs=self.avs_address,
            performer_id=instance.performer_id,
            endpoint=instance.runtime.endpoint,
        )
        if old is not None:
            await old.set_status(SlotStatus.DRAINING)
            self.draining.add(old)
            task = asyncio.create_task(self._drain_and_remove(old))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _drain_and_remove(self, instance: PerformerInstance) -> None:
        drained = await instance.drain(self._drain_timeout)
        logger.info(
            "Drained performer",
            performer_id=instance.performer_id,
            complete=drained,
            still_running=instance.inflight,
        )
        self.draining.discard(instance)
        await self._discard(instance)

    async def _discard(self, instance: PerformerInstance) -> None:
        with contextlib.suppress(Exception):
            await instance.stop()
        if instance.status != SlotStatus.REMOVED:
            instance.status = SlotStatus.REMOVED
        if self._events.removed is not None:
            await self._events.removed(instance.performer_id)

    async def run_task(self, task_id: str, payload: bytes, timeout: float) -> tuple[bytes, bytes]:
        current = self.current
        if current is None:
            raise NoCurrentPerformer(f"no performer in service for AVS {self.avs_address}")
        return await current.run_task(task_id, payload, timeout)

    def find(self, performer_id: str) -> PerformerInstance | None:
        for instance in self.instances():
            if instance.performer_id == performer_id:
                return instance
        return None

    def instances(self) -> list[PerformerInstance]:
        found = [i for i in (self.current, self.staged) if i is not None]
        return found + sorted(self.draining, key=lambda i: i.created_at)

    async def remove(self, performer_id: str) -> None:
        instance = self.find(performer_id)
        if instance is None:
            raise PerformerNotFound(f"performer with ID {performer_id} not found")
        if instance is self.current:
            self.current = None
        if instance is self.staged:
            self.staged = None
        self.draining.discard(instance)
        await self._discard(instance)

    async def shutdown(self, drain_timeout: float) -> None:
        if self.current is not None:
            await self.current.drain(drain_timeout)
        for task in list(self._background):
            task.cancel()
        for instance in self.instances():
            await instance.stop()
        self.current = self.staged = None
        self.draining.clear()


class PerformerManager:
    """Every AVS's performers."""

    def __init__(
        self,
        context: RuntimeContext,
        events: PerformerEvents | None = None,
        drain_timeout: float = 300.0,
        make_runtime: Callable[[PerformerSpec, str], PerformerRuntime] | None = None,
    ) -> None:
        self.context = context
        self.events = events or PerformerEvents()
        self.drain_timeout = drain_timeout
        self._make_runtime = make_runtime or default_runtime_factory(context)
        self._avs: dict[str, AvsPerformers] = {}

    def make_runtime(self, spec: PerformerSpec, performer_id: str) -> PerformerRuntime:
        """A runtime object for `spec` (not started), e.g. to adopt and stop a stale one."""
        return self._make_runtime(spec, performer_id)

    def avs(self, avs_address: str) -> AvsPerformers:
        key = avs_address.lower()
        if key not in self._avs:
            self._avs[key] = AvsPerformers(key, self._make_runtime, self.events, self.drain_timeout)
        return self._avs[key]

    def known(self, avs_address: str) -> bool:
        return avs_address.lower() in self._avs

    async def deploy(
        self, spec: PerformerSpec, deployment_id: str, timeout: float
    ) -> PerformerInstance:
        return await self.avs(spec.avs_address).deploy(spec, deployment_id, timeout)

    async def run_task(
        self, avs_address: str, task_id: str, payload: bytes, timeout: float
    ) -> tuple[bytes, bytes]:
        slots = self._avs.get(avs_address.lower())
        if slots is None:
            raise NoCurrentPerformer(f"no performer configured for AVS {avs_address}")
        return await slots.run_task(task_id, payload, timeout)

    def list(self, avs_address: str | None = None) -> list[PerformerInfo]:
        wanted = avs_address.lower() if avs_address else None
        return [
            instance.info()
            for key, slots in sorted(self._avs.items())
            if wanted is None or key == wanted
            for instance in slots.instances()
        ]

    async def remove(self, performer_id: str) -> None:
        for slots in self._avs.values():
            if slots.find(performer_id) is not None:
                await slots.remove(performer_id)
                return
        raise PerformerNotFound(f"performer with ID {performer_id} not found")

    async def shutdown(self, drain_timeout: float = 10.0) -> None:
        await asyncio.gather(*(s.shutdown(drain_timeout) for s in self._avs.values()))
