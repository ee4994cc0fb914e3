"""The ops HTTP server: metrics, health, and the admin snapshot endpoint with its auth and
concurrency rules, over real HTTP against a real RocksDB store."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest

from ponos.config.common import SnapshotsConfig, StorageConfig
from ponos.devnet.anvil import free_port
from ponos.ops.health import Check, decide
from ponos.ops.http import OpsServer
from ponos.ops.metrics import ExecutorMetrics
from ponos.ops.snapshots import OpsSnapshots
from ponos.storage import ExecutorStore, open_engine
from ponos.storage.records import PerformerState
from ponos.storage.snapshots import SnapshotManager

TOKEN = "s3cret-admin-token"


def non_loopback_address() -> str | None:
    """This machine's address on a non-loopback interface, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture
async def store_engine(tmp_path):
    config = StorageConfig(
        type="rocksdb",
        rocksdb={"dir": str(tmp_path / "db")},
        snapshots={"dir": str(tmp_path / "snaps")},
    )
    engine = open_engine(config, "executor")
    store = ExecutorStore(engine)
    for i in range(50):
        await store.save_performer(
            PerformerState(performer_id=f"p-{i}", avs_address="0x" + "11" * 20)
        )
    yield engine, config
    await engine.close()


async def serve(engine, config, token=None, host="127.0.0.1", ready=True):
    metrics = ExecutorMetrics()
    snapshots = OpsSnapshots(SnapshotManager(engine, config.snapshots), metrics.snapshots)

    async def health():
        return decide(
            [Check("storage", not engine.closed, essential=True)], started=ready, stopping=False
        )

    server = OpsServer(
        service="executor",
        host=host,
        port=free_port(),
        metrics=metrics,
        health=health,
        snapshots=snapshots,
        admin_token=token,
    )
    await server.start()
    return server, metrics


async def test_metrics_and_health_endpoints(store_engine):
    engine, config = store_engine
    server, metrics = await serve(engine, config)
    base = f"http://127.0.0.1:{server.port}"
    try:
        metrics.observe("completed", 0.2)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/metrics") as r:
                text = await r.text()
                assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
            assert "ponos_build_info{python=" in text
            assert 'ponos_executor_tasks_total{outcome="completed"} 1.0' in text
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200
            async with http.get(f"{base}/readyz") as r:
                assert r.status == 200 and (await r.json())["ready"] is True
            async with http.get(f"{base}/eigen/node/health") as r:
                assert r.status == 200
            async with http.get(f"{base}/eigen/node") as r:
                assert (await r.json())["node_name"] == "ponos-executor"
    finally:
        await server.stop()


async def test_starting_service_reports_206_and_not_ready(store_engine):
    engine, config = store_engine
    server, _ = await serve(engine, config, ready=False)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{server.port}/eigen/node/health") as r:
                assert r.status == 206
            async with http.get(f"http://127.0.0.1:{server.port}/readyz") as r:
                assert r.status == 503
    finally:
        await server.stop()


async def test_snapshot_endpoint_creates_lists_and_refuses_concurrent_requests(store_engine):
    engine, config = store_engine
    server, metrics = await serve(engine, config)
    url = f"http://127.0.0.1:{server.port}/admin/snapshots"
    try:
        async with aiohttp.ClientSession() as http:

            async def post():
                async with http.post(url) as r:
                    return r.status, await r.json()

            results = await asyncio.gather(post(), post())
            statuses = sorted(status for status, _ in results)
            assert statuses == [201, 409]
            created = next(body for status, body in results if status == 201)
            assert created["verified"] is True
            assert created["counts"]["performer"] == 50
            assert created["path"].startswith(config.snapshots.dir)
            async with http.get(url) as r:
                listed = (await r.json())["snapshots"]
            assert [s["id"] for s in listed] == [created["id"]]
        assert metrics.snapshots.taken == 1 and metrics.snapshots.last_success is not None
    finally:
        await server.stop()


async def test_admin_token_required_when_configured(store_engine):
    engine, config = store_engine
    server, _ = await serve(engine, config, token=TOKEN)
    url = f"http://127.0.0.1:{server.port}/admin/snapshots"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as r:
                assert r.status == 401 and await r.text() == ""
            async with http.post(url, headers={"Authorization": "Bearer wrong"}) as r:
                assert r.status == 403 and await r.text() == ""
            async with http.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                assert r.status == 200
    finally:
        await server.stop()


async def test_without_a_token_only_loopback_clients_may_administer(store_engine):
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to call from")
    engine, config = store_engine
    server, _ = await serve(engine, config, host="0.0.0.0")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://{address}:{server.port}/admin/snapshots") as r:
                assert r.status == 403
            async with http.get(f"http://{address}:{server.port}/metrics") as r:
                assert r.status == 200  # metrics stay public
            async with http.get(f"http://127.0.0.1:{server.port}/admin/snapshots") as r:
                assert r.status == 200
    finally:
        await server.stop()


async def test_memory_storage_has_no_snapshots():
    metrics = ExecutorMetrics()

    async def health():
        return decide([], started=True, stopping=False)

    server = OpsServer(
        service="executor",
        host="127.0.0.1",
        port=free_port(),
        metrics=metrics,
        health=health,
        snapshots=None,
        admin_token=None,
    )
    await server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/admin/snapshots"
        async with aiohttp.ClientSession() as http, http.post(url) as r:
            assert r.status == 501
            assert "rocksdb" in (await r.json())["error"]
    finally:
        await server.stop()


def test_snapshot_config_defaults_keep_a_week():
    config = SnapshotsConfig()
    assert (config.interval, config.retention, config.max_age) == (0.0, 7, 7 * 86400)
