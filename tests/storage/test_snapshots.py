"""Online snapshots: checkpoint under concurrent writes, verify, manifest, retention,
one-at-a-time creation, restore into a directory, memory backend refusal."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from ponos.config.common import RocksDBConfig, SnapshotsConfig
from ponos.storage import AggregatorStore, ExecutorStore, TaskStatus
from ponos.storage.errors import (
    RestoreRefused,
    SnapshotError,
    SnapshotInProgress,
    SnapshotsUnsupported,
)
from ponos.storage.memory import MemoryEngine
from ponos.storage.rocksdb import RocksEngine
from ponos.storage.snapshots import (
    SnapshotManager,
    SnapshotManifest,
    manifest_path,
    restore_snapshot,
    select_expired,
)
from tests.storage.factories import block, performer, task, task_id


async def _until(predicate, attempts: int = 3000) -> None:
    for _ in range(attempts):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


def _manifest_on_disk(manifest: SnapshotManifest) -> dict:
    assert Path(manifest.path).is_dir()
    return json.loads(manifest_path(manifest.path).read_text())


@pytest.fixture
async def agg_engine(tmp_path):
    engine = RocksEngine.open(tmp_path / "data", RocksDBConfig(), "aggregator")
    yield engine
    await engine.close()


async def test_checkpoint_under_concurrent_writes_restores_and_verifies(agg_engine, tmp_path):
    store = AggregatorStore(agg_engine)
    manager = SnapshotManager(agg_engine, SnapshotsConfig(dir=str(tmp_path / "snaps")))
    stop = asyncio.Event()
    committed: list[int] = []

    async def writer(chain: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            await store.commit_range(
                chain,
                cursor=n,
                blocks=[block(chain, n)],
                tasks=[task(f"{chain}-{n}", chain_id=chain, block_number=n)],
            )
            if n % 3 == 0:
                await store.transition(task_id(f"{chain}-{n}"), TaskStatus.PROCESSING)
            committed.append(chain)

    writers = [asyncio.create_task(writer(c)) for c in (1, 2, 3, 4)]
    await _until(lambda: len(committed) >= 200)
    manifest = await manager.create()
    after_snapshot = len(committed)
    await _until(lambda: len(committed) >= after_snapshot + 100)
    stop.set()
    await asyncio.gather(*writers)

    assert manifest.verified, manifest.error
    assert _manifest_on_disk(manifest) == manifest.to_dict()
    assert manifest.counts["task"] >= 200
    assert manifest.sequence > 0 and manifest.sizes["total_bytes"] > 0
    assert manifest.kind == "aggregator"
    assert oct(os.stat(manifest.path).st_mode & 0o777) == "0o750"
    live_tasks = agg_engine.count("task")
    assert live_tasks > manifest.counts["task"]  # writes went on during and after it

    target = tmp_path / "restored"
    report = restore_snapshot(manifest.path, str(target))
    assert report["counts"]["task"] == manifest.counts["task"]
    restored = RocksEngine.open(target, RocksDBConfig(), "aggregator")
    try:
        restored_store = AggregatorStore(restored)
        assert restored_store.verify() == []  # a consistent prefix: indexes and counters agree
        assert restored.count("task") == manifest.counts["task"]
        assert sum(restored_store.count_by_status().values()) == manifest.counts["task"]
        await restored_store.transition(
            restored_store.list_tasks(TaskStatus.PENDING, limit=1)[0].task_id, "processing"
        )
    finally:
        await restored.close()


async def test_second_create_waits_or_reports_in_progress(agg_engine, tmp_path):
    manager = SnapshotManager(agg_engine, SnapshotsConfig(dir=str(tmp_path / "snaps")))
    await agg_engine.put(b"task/a", b"1")
    first = asyncio.create_task(manager.create())
    await asyncio.sleep(0)
    assert manager.in_progress
    with pytest.raises(SnapshotInProgress):
        await manager.create(wait=False)
    second = await manager.create()
    one = await first
    assert one.id != second.id and one.verified and second.verified
    assert [m.id for m in manager.list()] == [second.id, one.id]


async def test_retention_keeps_the_newest_by_count(agg_engine, tmp_path):
    manager = SnapshotManager(agg_engine, SnapshotsConfig(dir=str(tmp_path / "snaps"), retention=2))
    ids = []
    for i in range(3):
        await agg_engine.put(f"task/{i}".encode(), b"v")
        ids.append((await manager.create()).id)
    assert [m.id for m in manager.list()] == [ids[2], ids[1]]
    assert not (tmp_path / "snaps" / ids[0]).exists()
    assert not manifest_path(tmp_path / "snaps" / ids[0]).exists()


def _manifest(ident: str, created: float, verified: bool = True) -> SnapshotManifest:
    return SnapshotManifest(
        id=ident,
        path=ident,
        kind="executor",
        created_at="",
        created_at_unix=created,
        sequence=1,
        sizes={},
        counts={},
        verified=verified,
    )


def test_retention_by_age_never_removes_the_newest_verified_snapshot():
    manifests = [_manifest("a", 100), _manifest("b", 200), _manifest("c", 300, verified=False)]
    expired = select_expired(manifests, retention=10, max_age=50, now=1000)
    assert {m.id for m in expired} == {"a", "c"}
    expired = select_expired(manifests, retention=1, max_age=0, now=1000)
    assert {m.id for m in expired} == {"a"}


async def test_restore_refuses_a_non_empty_target_without_force(tmp_path):
    engine = RocksEngine.open(tmp_path / "data", RocksDBConfig(), "executor")
    store = ExecutorStore(engine)
    await store.save_performer(performer(1))
    manifest = await SnapshotManager(engine, SnapshotsConfig(dir=str(tmp_path / "snaps"))).create()
    await store.save_performer(performer(2))
    await engine.close()

    with pytest.raises(RestoreRefused, match="--force"):
        restore_snapshot(manifest.path, str(tmp_path / "data"))
    restore_snapshot(manifest.path, str(tmp_path / "data"), force=True)
    engine = RocksEngine.open(tmp_path / "data", RocksDBConfig(), "executor")
    try:
        assert [p.performer_id for p in ExecutorStore(engine).list_performers()] == ["performer-1"]
    finally:
        await engine.close()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".data")]


def test_restore_refuses_something_that_is_not_a_snapshot(tmp_path):
    (tmp_path / "junk").mkdir()
    with pytest.raises(SnapshotError, match="not a snapshot"):
        restore_snapshot(str(tmp_path / "junk"), str(tmp_path / "target"))
    assert not (tmp_path / "target").exists()


async def test_memory_backend_has_no_snapshots():
    manager = SnapshotManager(MemoryEngine("aggregator"), SnapshotsConfig())
    with pytest.raises(SnapshotsUnsupported, match="rocksdb"):
        await manager.create()


async def test_schedule_creates_snapshots_and_zero_interval_is_off(agg_engine, tmp_path):
    off = SnapshotManager(agg_engine, SnapshotsConfig(dir=str(tmp_path / "off"), interval=0))
    await asyncio.wait_for(off.run_schedule(), 1)  # returns at once
    manager = SnapshotManager(agg_engine, SnapshotsConfig(dir=str(tmp_path / "on"), interval=0.05))
    runner = asyncio.create_task(manager.run_schedule())
    for _ in range(200):
        if len(manager.list()) >= 2:
            break
        await asyncio.sleep(0.05)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert len(manager.list()) >= 2
    assert all(m.verified for m in manager.list())
