"""Value-log GC: overwritten and deleted large values are reclaimed from blob files."""

from __future__ import annotations

import asyncio
import io
import json
import os

from ponos import log
from ponos.config.common import RocksDBConfig
from ponos.storage.engine import Batch
from ponos.storage.rocksdb import RocksEngine

VALUE_SIZE = 8192  # above the default minBlobSize (4096): stored in blob files


def _blob_bytes_on_disk(path) -> int:
    total = 0
    for entry in os.scandir(path):
        if entry.name.endswith(".blob"):
            try:
                total += entry.stat().st_size
            except FileNotFoundError:  # an obsolete file RocksDB just deleted
                pass
    return total


async def _write_round(engine, keys: range, tag: bytes) -> None:
    for start in range(keys.start, keys.stop, 200):
        batch = Batch()
        for i in range(start, min(start + 200, keys.stop)):
            batch.put(f"task/{i:06d}".encode(), tag + os.urandom(VALUE_SIZE - len(tag)))
        await engine.write(batch)


async def test_gc_pass_reclaims_blob_space_after_overwrites_and_deletes(tmp_path):
    out = io.StringIO()
    log.configure("info", "json", stream=out)
    config = RocksDBConfig(blob_file_size=1024 * 1024, write_buffer_size=1024 * 1024)
    engine = RocksEngine.open(tmp_path / "db", config, "aggregator")
    # Background compactions also relocate blobs, at moments that depend on the machine's load;
    # with them off, the pass under test is the only thing that reclaims space.
    for family in engine._families.values():
        family.set_options({"disable_auto_compactions": "true"})
    try:
        for round_tag in (b"r1", b"r2", b"r3"):
            await _write_round(engine, range(1500), round_tag)
        deletes = Batch()
        for i in range(0, 1500, 2):
            deletes.delete(f"task/{i:06d}".encode())
        await engine.write(deletes)
        live = 750 * VALUE_SIZE
        before_disk = _blob_bytes_on_disk(engine.path)

        result = await engine.gc_once()

        after_disk = _blob_bytes_on_disk(engine.path)
        print(f"blob bytes on disk {before_disk} -> {after_disk}; live values {live}")
        assert before_disk > 3 * live  # three rounds written, flushed to blob files
        assert after_disk < before_disk / 2
        assert after_disk <= 2 * live, "garbage blobs were not reclaimed"
        assert result.reclaimed_bytes > 0 and not result.skipped
        assert result.bytes_after < result.bytes_before
        assert engine.stats()["gc_reclaimed_bytes_total"] == result.reclaimed_bytes
        assert engine.get(b"task/000001")[:2] == b"r3"
        assert engine.get(b"task/000002") is None

        idle = await engine.gc_once()
        assert idle.skipped and idle.reclaimed_bytes == 0
        assert engine.stats()["gc_runs_total"] == 2
    finally:
        await engine.close()
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    gc_lines = [line for line in lines if line["msg"] == "value log GC"]
    assert len(gc_lines) == 2
    assert gc_lines[0]["bytes_before"] == result.bytes_before
    assert gc_lines[0]["bytes_after"] == result.bytes_after
    assert "duration_s" in gc_lines[0]


async def test_gc_stats_survive_a_restart(tmp_path):
    engine = RocksEngine.open(tmp_path / "db", RocksDBConfig(), "executor")
    await engine.put(b"performer/p", b"x" * 10_000)
    await engine.gc_once()
    await engine.close()
    reopened = RocksEngine.open(tmp_path / "db", RocksDBConfig(), "executor")
    try:
        assert reopened.stats()["gc_runs_total"] == 1
        assert reopened.stats()["gc_last_time_seconds"] is not None
    finally:
        await reopened.close()


async def test_background_gc_runs_on_its_interval(tmp_path):
    engine = RocksEngine.open(tmp_path / "db", RocksDBConfig(gc_interval=0.05), "aggregator")
    try:
        engine.start_background()
        await engine.put(b"task/a", b"1")
        for _ in range(100):
            if engine.gc_runs >= 2:
                break
            await asyncio.sleep(0.05)
        assert engine.gc_runs >= 2
    finally:
        await engine.close()
    assert engine.closed
