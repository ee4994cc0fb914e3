"""Engine conformance: the same behaviour from the memory and RocksDB backends."""

from __future__ import annotations

import asyncio

import pytest

from ponos.storage.engine import Batch
from ponos.storage.errors import InvalidRecord, StoreClosed


async def test_put_get_delete_round_trip(make_engine):
    engine = make_engine()
    assert engine.get(b"task/a") is None
    await engine.put(b"task/a", b"1")
    assert engine.get(b"task/a") == b"1"
    await engine.put(b"task/a", b"2")
    assert engine.get(b"task/a") == b"2"
    await engine.delete(b"task/a")
    assert engine.get(b"task/a") is None


async def test_scan_honours_prefix_bounds_order_and_limit(make_engine):
    engine = make_engine()
    batch = Batch()
    for key in [
        b"block/1/a",
        b"block/1/b",
        b"block/1/c",
        b"block/1/d",
        b"block/2/a",
        b"block/10/a",
    ]:
        batch.put(key, key[-1:])
    await engine.write(batch)

    def keys(*args, **kwargs):
        return [k for k, _v in engine.scan(*args, **kwargs)]

    assert keys(b"block/1/") == [b"block/1/a", b"block/1/b", b"block/1/c", b"block/1/d"]
    assert keys(b"block/1/", start=b"block/1/b", end=b"block/1/d") == [b"block/1/b", b"block/1/c"]
    assert keys(b"block/1/", reverse=True) == [
        b"block/1/d",
        b"block/1/c",
        b"block/1/b",
        b"block/1/a",
    ]
    assert keys(b"block/1/", reverse=True, end=b"block/1/c", limit=1) == [b"block/1/b"]
    assert keys(b"block/1/", reverse=True, start=b"block/1/c") == [b"block/1/d", b"block/1/c"]
    assert keys(b"block/1/", limit=2) == [b"block/1/a", b"block/1/b"]
    assert keys(b"block/1/", limit=0) == []
    assert keys(b"block/") == sorted(keys(b"block/"))
    assert len(keys(b"block/")) == 6
    assert keys(b"task/") == []
    assert [v for _k, v in engine.scan(b"block/2/")] == [b"a"]


async def test_batch_is_applied_atomically_across_kinds(make_engine):
    engine = make_engine()
    batch = Batch()
    batch.put(b"task/x", b"record")
    batch.put(b"task_status/pending/x", b"")
    batch.put(b"counter/task/pending", b"1")
    await engine.write(batch)
    assert engine.get(b"task/x") == b"record"
    assert engine.get(b"task_status/pending/x") == b""
    assert engine.get(b"counter/task/pending") == b"1"


async def test_batch_with_an_unknown_kind_is_rejected_whole(make_engine):
    engine = make_engine()
    batch = Batch()
    batch.put(b"task/x", b"1")
    batch.put(b"nosuchkind/x", b"1")
    with pytest.raises(InvalidRecord, match="nosuchkind"):
        await engine.write(batch)
    assert engine.get(b"task/x") is None
    with pytest.raises(InvalidRecord):
        engine.get(b"no-kind-separator")


async def test_transact_sees_its_own_writes_and_applies_them(make_engine):
    engine = make_engine()
    await engine.put(b"counter/n", b"1")

    def increment(txn):
        value = int(txn.get(b"counter/n")) + 1
        txn.put(b"counter/n", str(value).encode())
        assert txn.get(b"counter/n") == str(value).encode()
        txn.delete(b"counter/gone")
        assert txn.get(b"counter/gone") is None
        return value

    assert await engine.transact(increment) == 2
    assert engine.get(b"counter/n") == b"2"


async def test_transact_that_raises_writes_nothing(make_engine):
    engine = make_engine()

    def fail(txn):
        txn.put(b"task/a", b"1")
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await engine.transact(fail)
    assert engine.get(b"task/a") is None


async def test_concurrent_read_modify_writes_do_not_lose_updates(make_engine):
    engine = make_engine()
    await engine.put(b"counter/n", b"0")

    def increment(txn):
        txn.put(b"counter/n", str(int(txn.get(b"counter/n")) + 1).encode())

    await asyncio.gather(*(engine.transact(increment) for _ in range(300)))
    assert engine.get(b"counter/n") == b"300"


async def test_concurrent_writers_all_land(make_engine):
    engine = make_engine()
    await asyncio.gather(*(engine.put(f"task/{i:04d}".encode(), b"v") for i in range(500)))
    assert engine.count("task") == 500
    stats = engine.stats()
    assert stats["writes_total"] >= 500
    assert stats["write_groups_total"] <= stats["writes_total"]


async def test_closed_engine_refuses_reads_and_writes_and_close_is_idempotent(make_engine):
    engine = make_engine()
    await engine.put(b"task/a", b"1")
    await engine.close()
    await engine.close()
    assert engine.closed
    with pytest.raises(StoreClosed):
        engine.get(b"task/a")
    with pytest.raises(StoreClosed):
        await engine.put(b"task/a", b"2")
    with pytest.raises(StoreClosed):
        list(engine.scan(b"task/"))


async def test_stats_report_the_documented_fields(make_engine):
    engine = make_engine("executor")
    await engine.put(b"performer/p1", b"{}")
    stats = engine.stats()
    for field in (
        "backend",
        "live_data_size_bytes",
        "total_sst_size_bytes",
        "blob_file_size_bytes",
        "blob_file_count",
        "estimated_keys",
        "kind_keys",
        "gc_runs_total",
        "gc_reclaimed_bytes_total",
        "gc_last_time_seconds",
        "gc_last_duration_seconds",
    ):
        assert field in stats, field
    assert set(stats["kind_keys"]) == set(engine.kinds)
    assert stats["kind_keys"]["performer"] == 1
    result = await engine.gc_once()
    assert result.bytes_before >= 0 and result.duration_s >= 0
    assert engine.stats()["gc_runs_total"] == 1


async def test_executor_and_aggregator_kinds_are_separate(make_engine):
    engine = make_engine("executor")
    with pytest.raises(InvalidRecord, match="task_status"):
        await engine.put(b"task_status/pending/x", b"")


async def test_transact_sees_writes_submitted_before_it(make_engine):
    engine = make_engine()

    def observe(txn):
        return len(list(txn.scan(b"block/"))), txn.get(b"block/1")

    results = await asyncio.gather(
        engine.put(b"block/1", b"a"), engine.put(b"block/2", b"b"), engine.transact(observe)
    )
    assert results[2] == (2, b"a")


async def test_a_failing_request_does_not_affect_the_others_in_its_group(make_engine):
    engine = make_engine()

    def fail(txn):
        txn.put(b"task/bad", b"x")
        raise ValueError("no")

    results = await asyncio.gather(
        engine.put(b"task/a", b"1"),
        engine.transact(fail),
        engine.write([(b"task/b", b"2"), (b"nokind/x", b"3")]),
        engine.put(b"task/c", b"3"),
        return_exceptions=True,
    )
    assert results[0] is None and results[3] is None
    assert isinstance(results[1], ValueError) and isinstance(results[2], InvalidRecord)
    assert [k for k, _v in engine.scan(b"task/")] == [b"task/a", b"task/c"]


async def test_writes_of_one_key_in_flight_together_land_in_submission_order(make_engine):
    engine = make_engine()
    await asyncio.gather(*(engine.put(b"counter/k", str(i).encode()) for i in range(200)))
    assert engine.get(b"counter/k") == b"199"
    await asyncio.gather(engine.put(b"counter/gone", b"1"), engine.delete(b"counter/gone"))
    assert engine.get(b"counter/gone") is None
    await asyncio.gather(engine.delete(b"counter/back"), engine.put(b"counter/back", b"2"))
    assert engine.get(b"counter/back") == b"2"
    assert engine.stats()["write_ops_total"] >= 204
