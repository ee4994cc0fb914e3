"""Ops for each service: its live metrics, its health checks, and running it with the ops
server and signal handling (SIGTERM/SIGINT stop gracefully; SIGUSR1, which the operations
guide's logrotate hook sends, is acknowledged: logs go to stdout, nothing to reopen)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ponos import log
from ponos.chain.rpc import JsonRpcClient, RetryPolicy
from ponos.ops.health import Check, Verdict, decide
from ponos.ops.http import OpsServer
from ponos.ops.metrics import (
    AggregatorMetrics,
    ExecutorMetrics,
    LiveCollector,
    ServiceMetrics,
    storage_metrics,
)
from ponos.ops.snapshots import OpsSnapshots
from ponos.storage.snapshots import SnapshotManager

logger = log.get_logger(__name__)

RPC_PROBE_TIMEOUT = 2.0
RPC_PROBE_TTL = 1.0


class RpcProbe:
    """Is the node answering? One eth_blockNumber, no retries, cached for a second."""

    def __init__(self, client: JsonRpcClient) -> None:
        self.client = client
        self._at = 0.0
        self._ok = False
        self._detail = ""

    async def check(self) -> tuple[bool, str]:
        if time.monotonic() - self._at < RPC_PROBE_TTL:
            return self._ok, self._detail
        try:
            head = await asyncio.wait_for(
                self.client.request("eth_blockNumber", retries=False), RPC_PROBE_TIMEOUT
            )
            self._ok, self._detail = True, f"head {int(head, 16)}"
        except Exception as exc:  # any failure means "not reachable"; the detail says why
            self._ok, self._detail = False, str(exc) or type(exc).__name__
        self._at = time.monotonic()
        return self._ok, self._detail


class ServiceOps:
    """Common wiring: metrics registry, snapshot endpoint/schedule, the HTTP server."""

    def __init__(self, service: Any, metrics: ServiceMetrics, name: str) -> None:
        self.service = service
        self.metrics = metrics
        self.name = name
        self.stopping = False
        self.server: OpsServer | None = None
        self.snapshots: OpsSnapshots | None = None
        self._tasks: list[asyncio.Task[None]] = []
        metrics.add_collector(LiveCollector(self._collect_common))

    def _collect_common(self) -> Iterable[Any]:
        yield from storage_metrics(getattr(self.service, "engine", None), self.metrics.snapshots)
        ready = GaugeMetricFamily("ponos_ready", "1 when the service is ready to serve")
        ready.add_metric(
            [], 1.0 if getattr(self.service, "ready", False) and not self.stopping else 0.0
        )
        yield ready

    async def health(self) -> Verdict:
        checks = await self.checks()
        return decide(
            checks, started=bool(getattr(self.service, "ready", False)), stopping=self.stopping
        )

    async def checks(self) -> list[Check]:
        engine = getattr(self.service, "engine", None)
        is_open = engine is not None and not engine.closed
        return [Check("storage", is_open, "open" if is_open else "closed", essential=True)]

    async def start_server(self) -> None:
        """Before the service starts, so probes see "starting" during recovery."""
        ops = self.service.config.ops
        if ops.enabled and ops.port:
            token = ops.admin_token.get_secret_value() if ops.admin_token else None
            self.server = OpsServer(
                service=self.name,
                host=ops.host,
                port=ops.port,
                metrics=self.metrics,
                health=self.health,
                snapshots=self.snapshots,
                admin_token=token,
            )
            await self.server.start()

    def attach_storage(self) -> None:
        """Once the store is open: the snapshot endpoint and the built-in schedule."""
        config = self.service.config
        engine = self.service.engine
        if engine is None or engine.backend != "rocksdb":
            return
        self.snapshots = OpsSnapshots(
            SnapshotManager(engine, config.storage.snapshots), self.metrics.snapshots
        )
        if self.server is not None:
            self.server.snapshots = self.snapshots
        interval = config.storage.snapshots.interval
        if interval > 0:
            self._tasks.append(
                asyncio.create_task(self.snapshots.run_schedule(interval), name="snapshots")
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self.server is not None:
            await self.server.stop()


class AggregatorOps(ServiceOps):
    def __init__(self, service: Any) -> None:
        metrics = AggregatorMetrics()
        super().__init__(service, metrics, "aggregator")
        service.on_outcome = metrics.on_outcome
        service.on_rpc_call = metrics.on_rpc_call
        metrics.add_collector(LiveCollector(self._collect))
        self._probes: dict[int, RpcProbe] = {}

    def _collect(self) -> Iterable[Any]:
        head = GaugeMetricFamily(
            "ponos_chain_head_block", "Latest block number the node reported", labels=["chain_id"]
        )
        cursor = GaugeMetricFamily(
            "ponos_chain_last_processed_block", "Last block fully processed", labels=["chain_id"]
        )
        lag = GaugeMetricFamily(
            "ponos_chain_lag_blocks", "Head minus last processed block", labels=["chain_id"]
        )
        errors = GaugeMetricFamily(
            "ponos_chain_poll_consecutive_errors",
            "Poll rounds failed in a row",
            labels=["chain_id"],
        )
        reorgs = CounterMetricFamily(
            "ponos_chain_reorgs", "Block reorganizations handled", labels=["chain_id"]
        )
        for chain_id, poller in sorted(getattr(self.service, "pollers", {}).items()):
            status, label = poller.status, [str(chain_id)]
            if status.head is not None:
                head.add_metric(label, status.head)
            if status.cursor is not None:
                cursor.add_metric(label, status.cursor)
            if status.lag is not None:
                lag.add_metric(label, status.lag)
            errors.add_metric(label, status.consecutive_errors)
            reorgs.add_metric(label, status.reorgs)
        yield from (head, cursor, lag, errors, reorgs)
        store = getattr(self.service, "store", None)
        stored = GaugeMetricFamily(
            "ponos_stored_tasks", "Tasks in storage by status", labels=["status"]
        )
        if store is not None and not store.engine.closed:
            for status, count in store.count_by_status().items():
                stored.add_metric([getattr(status, "value", str(status))], count)
        yield stored
        pipeline = getattr(self.service, "pipeline", None)
        yield GaugeMetricFamily(
            "ponos_tasks_in_flight",
            "Tasks being processed now",
            value=pipeline.in_flight if pipeline is not None else 0,
        )

    async def checks(self) -> list[Check]:
        checks = await super().checks()
        config = self.service.config
        for chain in config.chains:
            rpc = getattr(self.service, "rpcs", {}).get(chain.chain_id)
            if rpc is None:
                continue
            probe = self._probes.setdefault(chain.chain_id, RpcProbe(rpc))
            ok, detail = await probe.check()
            checks.append(Check(f"rpc:{chain.chain_id}", ok, detail))
            poller = getattr(self.service, "pollers", {}).get(chain.chain_id)
            if poller is not None and poller.status.lag is not None:
                lag = poller.status.lag
                limit = config.ops.ready_max_lag_blocks
                checks.append(
                    Check(
                        f"lag:{chain.chain_id}",
                        lag <= limit,
                        f"{lag} blocks behind (limit {limit})",
                    )
                )
        if (
            checks
            and all(not c.ok for c in checks if c.name.startswith("rpc:"))
            and any(c.name.startswith("rpc:") for c in checks)
        ):
            checks.append(Check("rpc", False, "no chain RPC is reachable", essential=True))
        return checks


class ExecutorOps(ServiceOps):
    def __init__(self, service: Any) -> None:
        metrics = ExecutorMetrics()
        super().__init__(service, metrics, "executor")
        self._metrics = metrics
        service.observe = metrics.observe  # TaskRunner reports each task's outcome
        metrics.add_collector(LiveCollector(self._collect))
        self._probe = RpcProbe(
            JsonRpcClient(
                service.config.l1_chain.rpc_url,
                timeout=RPC_PROBE_TIMEOUT,
                retry=RetryPolicy(attempts=1),
            )
        )

    def _collect(self) -> Iterable[Any]:
        performers = GaugeMetricFamily(
            "ponos_performers",
            "Live performers by slot status and health",
            labels=["status", "health"],
        )
        counts: Counter[tuple[str, str]] = Counter()
        manager = getattr(self.service, "performers", None)
        for info in manager.list() if manager is not None else []:
            health = (
                "healthy" if info.resource_healthy and info.application_healthy else "unhealthy"
            )
            counts[(info.status, health)] += 1
        for (status, health), count in sorted(counts.items()):
            performers.add_metric([status, health], count)
        yield performers
        tasks = getattr(self.service, "tasks", None)
        running = tasks.running if tasks is not None else 0
        yield GaugeMetricFamily(
            "ponos_executor_tasks_in_flight", "Tasks being executed now", value=running
        )

    async def checks(self) -> list[Check]:
        checks = await super().checks()
        ok, detail = await self._probe.check()
        checks.append(Check("rpc", ok, detail))
        manager = getattr(self.service, "performers", None)
        infos = manager.list() if manager is not None else []
        for avs in sorted(getattr(self.service, "configured", {})):
            serving = [i for i in infos if i.avs_address == avs and i.status == "InService"]
            healthy = any(i.application_healthy and i.resource_healthy for i in serving)
            checks.append(
                Check(
                    f"performer:{avs}",
                    healthy,
                    "healthy" if healthy else "no healthy performer in service",
                )
            )
        return checks


async def _start_unless_stopped(service: Any, stop: asyncio.Event) -> bool:
    """service.start(), abandoned if a stop is requested first (a performer can take a
    minute to come up; SIGTERM should not wait for it). True if the service started."""
    starting = asyncio.ensure_future(service.start())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if starting.done():
        starting.result()  # start-up errors end the process here
        return True
    logger.info("Stop requested during start-up")
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    return False


async def run_with_ops(service: Any, ops: ServiceOps) -> None:
    """Start the service and its ops server; stop both cleanly on SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def request_stop(name: str) -> None:
        logger.info("Received signal, shutting down", signal=name)
        ops.stopping = True  # readiness goes off at once, before the drain
        stop.set()

    loop.add_signal_handler(signal.SIGTERM, request_stop, "SIGTERM")
    loop.add_signal_handler(signal.SIGINT, request_stop, "SIGINT")
    loop.add_signal_handler(
        signal.SIGUSR1,
        lambda: logger.info("SIGUSR1 received: logs go to stdout, there is no log file to reopen"),
    )
    try:
        await ops.start_server()
        if not await _start_unless_stopped(service, stop):
            return
        ops.attach_storage()
        await stop.wait()
    finally:
        ops.stopping = True
        await service.stop()
        await ops.stop()
