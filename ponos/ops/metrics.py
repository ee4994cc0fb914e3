"""Every metric the services export, in one place (Prometheus naming: `ponos_` prefix, base
units, `_total` counters; no task ids or addresses as labels).

Event metrics (counters, histograms) are updated through the services' hooks; state metrics
(heads, lags, storage sizes, performer health) are read from the live service at scrape time
by a collector, so they are never stale and cost nothing between scrapes.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ponos import __version__

# The `_created` series double every counter's output and no dashboard uses them.
disable_created_metrics()

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class SnapshotStats:
    def __init__(self) -> None:
        self.taken = 0
        self.failed = 0
        self.last_success: float | None = None


class ServiceMetrics:
    """The registry of one service process, plus the event metrics both services share."""

    def __init__(self, service_name: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.service = service_name
        info = Info("ponos_build", "Build information", registry=self.registry)
        info.info(
            {"version": __version__, "python": platform.python_version(), "service": service_name}
        )
        self.started = Gauge(
            "ponos_start_time_seconds", "Unix time the service started", registry=self.registry
        )
        self.started.set(time.time())
        self.snapshots = SnapshotStats()

    def add_collector(self, collector: Collector) -> None:
        self.registry.register(collector)


class AggregatorMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("aggregator")
        r = self.registry
        self.tasks = Counter(
            "ponos_tasks", "Tasks that reached a final state, by outcome", ["outcome"], registry=r
        )
        self.task_latency = Histogram(
            "ponos_task_duration_seconds",
            "From the task's storage (TaskCreated seen) to its final state",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rpc_requests = Counter(
            "ponos_rpc_requests", "JSON-RPC requests", ["chain_id", "method"], registry=r
        )
        self.rpc_errors = Counter(
            "ponos_rpc_errors", "JSON-RPC requests that failed", ["chain_id", "method"], registry=r
        )
        self.rpc_latency = Histogram(
            "ponos_rpc_request_duration_seconds",
            "JSON-RPC request latency",
            ["chain_id", "method"],
            buckets=RPC_BUCKETS,
            registry=r,
        )

    def on_outcome(self, status: str, latency: float) -> None:
        self.tasks.labels(status).inc()
        self.task_latency.labels(status).observe(max(latency, 0.0))

    def on_rpc_call(self, chain_id: int, method: str, seconds: float, ok: bool) -> None:
        labels = (str(chain_id), method)
        self.rpc_requests.labels(*labels).inc()
        self.rpc_latency.labels(*labels).observe(seconds)
        if not ok:
            self.rpc_errors.labels(*labels).inc()


class ExecutorMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("executor")
        r = self.registry
        self.tasks = Counter(
            "ponos_executor_tasks",
            "SubmitTask outcomes (completed, failed, replayed)",
            ["outcome"],
            registry=r,
        )
        self.task_latency = Histogram(
            "ponos_executor_task_duration_seconds",
            "SubmitTask time including the performer",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # The labelled children per outcome: `labels()` takes a lock and validates its
        # arguments, and `observe` is called once per task on the executor's event loop.
        self._by_outcome: dict[str, tuple[Any, Any]] = {}

    def observe(self, outcome: str, seconds: float) -> None:
        children = self._by_outcome.get(outcome)
        if children is None:
            children = (self.tasks.labels(outcome), self.task_latency.labels(outcome))
            self._by_outcome[outcome] = children
        children[0].inc()
        children[1].observe(max(seconds, 0.0))


def _gauge(
    name: str, doc: str, value: float | None, labels: dict[str, str] | None = None
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels or {}))
    if value is not None:
        family.add_metric(list((labels or {}).values()), value)
    return family


def storage_metrics(engine: Any, snapshots: SnapshotStats) -> Iterable[Any]:
    """Storage sizes, GC and snapshot metrics from the engine's stats."""
    stats: dict[str, Any] = {}
    if engine is not None and not engine.closed:
        stats = engine.stats()
    yield _gauge("ponos_storage_open", "1 while the store is open", 1.0 if stats else 0.0)
    for key, name, doc in (
        ("live_data_size_bytes", "ponos_storage_live_data_bytes", "Estimated live data size"),
        ("total_sst_size_bytes", "ponos_storage_sst_bytes", "Total size of SST files"),
        (
            "blob_file_size_bytes",
            "ponos_storage_blob_bytes",
            "Total size of blob (value log) files",
        ),
        ("blob_file_count", "ponos_storage_blob_files", "Number of blob files"),
        ("estimated_keys", "ponos_storage_keys", "Estimated number of keys"),
    ):
        yield _gauge(name, doc, float(stats.get(key, 0) or 0))
    runs = CounterMetricFamily("ponos_storage_gc_runs", "Value-log GC passes")
    runs.add_metric([], float(stats.get("gc_runs_total", 0) or 0))
    yield runs
    reclaimed = CounterMetricFamily(
        "ponos_storage_gc_reclaimed_bytes", "Bytes reclaimed by value-log GC"
    )
    reclaimed.add_metric([], float(stats.get("gc_reclaimed_bytes_total", 0) or 0))
    yield reclaimed
    taken = CounterMetricFamily(
        "ponos_snapshots", "Snapshots attempted, by result", labels=["result"]
    )
    taken.add_metric(["ok"], float(snapshots.taken))
    taken.add_metric(["failed"], float(snapshots.failed))
    yield taken
    yield _gauge(
        "ponos_snapshot_last_success_timestamp_seconds",
        "Unix time of the last verified snapshot (0 = none yet)",
        float(snapshots.last_success or 0),
    )


class LiveCollector(Collector):
    """Adapts a function producing metric families into a prometheus collector."""

    def __init__(self, produce: Callable[[], Iterable[Any]]) -> None:
        self._produce = produce

    def collect(self) -> Iterable[Any]:
        yield from self._produce()

    def describe(self) -> Iterable[Any]:
        return []
