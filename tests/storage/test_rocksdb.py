"""RocksDB backend: persistence, durability settings and clear errors for real faults
(locked by another process, read-only mount, disk full, corruption, foreign data)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ponos.config.common import RocksDBConfig, StorageConfig
from ponos.storage import AggregatorStore, TaskStatus
from ponos.storage.engine import open_engine
from ponos.storage.errors import (
    DatabaseCorrupt,
    DatabaseLocked,
    DiskFull,
    InvalidRecord,
    NotADatabase,
    NotWritable,
    SchemaMismatch,
    StorageError,
)
from ponos.storage.rocksdb import RocksEngine
from ponos.storage.schema import SCHEMA_KEY
from tests.storage.factories import task, task_id


def _mount_tmpfs(path: Path, options: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here to produce the fault for real: {result.stderr.strip()}"
        )


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


async def test_data_survives_close_and_reopen(tmp_path):
    config = StorageConfig(type="rocksdb", rocksdb=RocksDBConfig(dir=str(tmp_path / "agg")))
    engine = open_engine(config, "aggregator")
    store = AggregatorStore(engine)
    await store.commit_range(1, cursor=10, blocks=[], tasks=[task(1), task(2)])
    await store.transition(task_id(1), TaskStatus.PROCESSING)
    await engine.close()

    engine = open_engine(config, "aggregator")
    store = AggregatorStore(engine)
    try:
        assert store.get_cursor(1) == 10
        assert store.get_task(task_id(1)).status is TaskStatus.PROCESSING
        assert store.count_by_status()[TaskStatus.PENDING] == 1
        assert store.verify() == []
    finally:
        await engine.close()


async def test_new_data_directory_is_created_with_mode_0750(tmp_path):
    target = tmp_path / "a" / "b" / "data"
    engine = RocksEngine.open(target, RocksDBConfig(), "executor")
    await engine.close()
    assert stat.S_IMODE(target.stat().st_mode) == 0o750


async def test_sync_writes_default_on_and_concurrent_writes_share_syncs(tmp_path):
    import asyncio

    engine = RocksEngine.open(tmp_path / "db", RocksDBConfig(), "aggregator")
    try:
        assert engine.sync_writes is True
        await asyncio.gather(*(engine.put(f"task/{i}".encode(), b"v") for i in range(256)))
        stats = engine.stats()
        assert stats["writes_total"] == 256
        assert stats["write_syncs_total"] < 256  # group commit: fewer fsyncs than writes
        assert stats["write_max_group"] > 1
    finally:
        await engine.close()


async def test_unsynced_mode_skips_wal_syncs(tmp_path):
    engine = RocksEngine.open(tmp_path / "db", RocksDBConfig(sync_writes=False), "aggregator")
    try:
        await engine.put(b"task/a", b"1")
        assert engine.stats()["write_syncs_total"] == 0
        assert engine.get(b"task/a") == b"1"
    finally:
        await engine.close()


async def test_a_value_that_is_not_bytes_fails_its_own_request_only(tmp_path):
    import asyncio

    engine = RocksEngine.open(tmp_path / "db", RocksDBConfig(), "aggregator")
    try:
        results = await asyncio.gather(
            engine.put(b"task/a", b"1"),
            engine.write([(b"task/b", b"2"), (b"task/c", "text")]),  # type: ignore[list-item]
            engine.write([(b"task/d", bytearray(b"4"))]),  # type: ignore[list-item]
            return_exceptions=True,
        )
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], InvalidRecord)
        assert "must be bytes" in str(results[1])
        assert list(engine.scan(b"task/")) == [(b"task/a", b"1"), (b"task/d", b"4")]
    finally:
        await engine.close()


async def test_opening_as_the_other_service_is_refused(tmp_path):
    engine = RocksEngine.open(tmp_path / "db", RocksDBConfig(), "aggregator")
    await engine.close()
    with pytest.raises(SchemaMismatch, match="holds aggregator data"):
        RocksEngine.open(tmp_path / "db", RocksDBConfig(), "executor")
    assert not (set(os.listdir(tmp_path / "db")) & {"performer"})


async def test_another_schema_version_is_refused(tmp_path):
    engine = RocksEngine.open(tmp_path / "db", RocksDBConfig(), "aggregator")
    record = json.loads(engine.get(SCHEMA_KEY))
    record["version"] = 99
    await engine.put(SCHEMA_KEY, json.dumps(record).encode())
    await engine.close()
    with pytest.raises(SchemaMismatch, match="schema version 99"):
        RocksEngine.open(tmp_path / "db", RocksDBConfig(), "aggregator")


def test_database_held_by_another_process_is_a_clear_error(tmp_path):
    path = tmp_path / "db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from ponos.storage.rocksdb import RocksEngine
                engine = RocksEngine.open({str(path)!r}, None, "aggregator")
                print("ready", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(DatabaseLocked) as info:
            RocksEngine.open(path, None, "aggregator")
        assert str(path) in str(info.value)
        assert "another process" in str(info.value)
        # read-only access still works while the other process holds it
        reader = RocksEngine.open(path, None, None, read_only=True)
        assert reader.kind == "aggregator"
        reader.close_sync()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_read_only_mount_is_reported_as_not_writable(tmp_path):
    mount = tmp_path / "ro"
    _mount_tmpfs(mount, "size=1m,ro")
    try:
        with pytest.raises(NotWritable) as info:
            RocksEngine.open(mount / "db", None, "aggregator")
        assert str(mount / "db") in str(info.value)
        with pytest.raises(NotWritable, match="read-only file system"):
            RocksEngine.open(mount, None, "aggregator")
    finally:
        _umount(mount)


async def test_disk_full_is_a_clear_error_and_acknowledged_writes_survive(tmp_path):
    mount = tmp_path / "small"
    _mount_tmpfs(mount, "size=4m")
    try:
        (mount / "reserve").write_bytes(b"\0" * 1024 * 1024)
        engine = RocksEngine.open(
            mount / "db", RocksDBConfig(write_buffer_size=256 * 1024), "aggregator"
        )
        acknowledged = []
        with pytest.raises(DiskFull) as info:
            for i in range(100_000):
                key = f"task/{i:06d}".encode()
                await engine.put(key, os.urandom(2000))
                acknowledged.append(key)
        assert "no space left" in str(info.value) and str(mount / "db") in str(info.value)
        assert len(acknowledged) > 100
        await engine.close()
        with pytest.raises(DiskFull):  # still full: reopening says so clearly
            RocksEngine.open(mount / "db", None, "aggregator")
        (mount / "reserve").unlink()  # free space the way an operator would
        reopened = RocksEngine.open(mount / "db", None, "aggregator")
        try:
            missing = [k for k in acknowledged if reopened.get(k) is None]
            assert missing == []
        finally:
            await reopened.close()
    finally:
        _umount(mount)


def test_corrupt_manifest_is_reported_with_the_way_out(tmp_path):
    path = tmp_path / "db"
    engine = RocksEngine.open(path, None, "aggregator")
    engine.close_sync()
    manifest = next(p for p in path.iterdir() if p.name.startswith("MANIFEST-"))
    with open(manifest, "r+b") as fh:
        fh.seek(20)
        fh.write(b"\xff" * 40)
    with pytest.raises(DatabaseCorrupt) as info:
        RocksEngine.open(path, None, "aggregator")
    message = str(info.value)
    assert "corrupt" in message and "ponos db verify" in message and "restore" in message


def test_foreign_directory_is_refused_and_left_untouched(tmp_path):
    badger = tmp_path / "badger"
    badger.mkdir()
    for name in ("MANIFEST", "KEYREGISTRY", "000001.vlog", "000002.sst"):
        (badger / name).write_bytes(b"badger data")
    before = sorted(os.listdir(badger))
    with pytest.raises(NotADatabase, match="not empty"):
        RocksEngine.open(badger, None, "aggregator")
    assert sorted(os.listdir(badger)) == before
    assert (badger / "000002.sst").read_bytes() == b"badger data"


def test_memory_config_opens_the_memory_backend_and_missing_dir_is_an_error():
    engine = open_engine(StorageConfig(type="memory"), "executor")
    assert engine.backend == "memory"
    engine.close_sync()
    with pytest.raises(StorageError, match=r"storage\.rocksdb\.dir"):
        open_engine(StorageConfig(type="rocksdb"), "executor")
