"""Storage benchmarks (issue 3): typed-store overhead, group commit, restart time,
online checkpoint vs stop-and-tar.

    make bench BENCH=storage      # or: .venv/bin/python -m bench.run storage
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from rocksdict import Options, Rdict, WriteOptions

from bench.report import machine_line, median, percentile, table
from ponos import runtime
from ponos.config.common import RocksDBConfig, SnapshotsConfig
from ponos.storage import AggregatorStore, SnapshotManager, TaskStatus
from ponos.storage.rocksdb import RocksEngine
from tests.storage.factories import task

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = b"\x5a" * 200


def _raw_db(path: Path) -> Rdict:
    opts = Options(raw_mode=True)
    opts.create_if_missing(True)
    return Rdict(str(path), opts)


def _tasks(prefix: str, n: int, payload: bytes = PAYLOAD, chain: int = 1) -> list:
    return [
        dataclasses.replace(
            task(f"{prefix}-{i}", chain_id=chain, block_number=i // 100), payload=payload
        )
        for i in range(n)
    ]


# (a) raw rocksdict put vs typed save_task, unsynced ------------------------------------------
async def bench_typed_overhead(tmp: Path) -> list[list[object]]:
    n_raw, n_seq, n_conc = 20_000, 5_000, 20_000
    db = _raw_db(tmp / "raw")
    records = _tasks("raw", n_raw)
    from ponos.storage.records import TASK_CODEC

    values = [(f"task/{t.task_id}".encode(), TASK_CODEC.encode(t)) for t in records]
    started = time.perf_counter()
    for key, value in values:
        db.put(key, value)
    raw_rate = n_raw / (time.perf_counter() - started)
    db.close()

    engine = RocksEngine.open(tmp / "typed", RocksDBConfig(sync_writes=False), "aggregator")
    store = AggregatorStore(engine)
    seq = _tasks("seq", n_seq)
    started = time.perf_counter()
    for record in seq:
        await store.save_task(record)
    seq_rate = n_seq / (time.perf_counter() - started)
    conc = _tasks("conc", n_conc)
    started = time.perf_counter()
    for i in range(0, n_conc, 256):
        await asyncio.gather(*(store.save_task(r) for r in conc[i : i + 256]))
    conc_rate = n_conc / (time.perf_counter() - started)
    await engine.close()
    return [
        ["raw rocksdict put (JSON pre-encoded, 1 key)", f"{raw_rate:,.0f}", "1.00"],
        [
            "save_task, sequential awaits (3 keys + counter)",
            f"{seq_rate:,.0f}",
            f"{raw_rate / seq_rate:.1f}× slower",
        ],
        ["save_task, 256 concurrent", f"{conc_rate:,.0f}", f"{raw_rate / conc_rate:.1f}× slower"],
    ]


# (b) durable transitions with group commit vs one fsync per put -----------------------------
@dataclasses.dataclass
class GroupCommitResult:
    rows: list[list[object]]
    ratio: float  # group commit at 256 writers / one fsync per put (medians)
    fsync_us: float  # median time of one synced put
    transition_us: float  # median wall time per transition at 256 writers
    cpu_us: float  # median process CPU per transition at 256 writers (all threads)


async def bench_group_commit(tmp: Path) -> GroupCommitResult:
    """Baseline and group commit are measured alternately, rep by rep, so that the shared
    machine's varying fsync latency hits both sides alike."""
    db = _raw_db(tmp / "fsync")
    wo = WriteOptions()
    wo.sync = True
    engine = RocksEngine.open(tmp / "group", RocksDBConfig(), "aggregator")
    store = AggregatorStore(engine)
    configs = ((1, 300), (16, 40), (256, 8))
    baseline_rates: list[float] = []
    rates: dict[int, list[float]] = {w: [] for w, _ in configs}
    per_sync: dict[int, list[float]] = {w: [] for w, _ in configs}
    cpu_256: list[float] = []
    for rep in range(5):
        n = 500
        started = time.perf_counter()
        for i in range(n):
            db.put(f"task/{rep}-{i}".encode(), PAYLOAD, wo)
        baseline_rates.append(n / (time.perf_counter() - started))
        for writers, per_writer in configs:
            records = _tasks(f"gc-{writers}-{rep}", writers * per_writer)
            for i in range(0, len(records), 1000):
                await store.commit_range(1, cursor=1, blocks=[], tasks=records[i : i + 1000])
            ids = [r.task_id for r in records]

            async def worker(chunk: list[str]) -> None:
                for tid in chunk:
                    await store.transition(tid, TaskStatus.PROCESSING)

            before = engine.stats()
            cpu_started = time.process_time()
            started = time.perf_counter()
            await asyncio.gather(*(worker(ids[w::writers]) for w in range(writers)))
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            after = engine.stats()
            rates[writers].append(len(ids) / elapsed)
            syncs = after["write_syncs_total"] - before["write_syncs_total"]
            requests = after["writes_total"] - before["writes_total"]
            per_sync[writers].append(requests / max(1, syncs))
            if writers == 256:
                cpu_256.append(cpu / len(ids))
    db.close()
    await engine.close()
    baseline = median(baseline_rates)
    rows: list[list[object]] = [
        ["one fsync per put (raw rocksdict, sync=True)", 1, f"{baseline:,.0f}", "1.0", "1"]
    ]
    for writers, _ in configs:
        rate = median(rates[writers])
        rows.append(
            [
                "durable transition (group commit)",
                writers,
                f"{rate:,.0f}",
                f"{rate / baseline:.1f}",
                f"{median(per_sync[writers]):.1f}",
            ]
        )
    return GroupCommitResult(
        rows=rows,
        ratio=median(rates[256]) / baseline,
        fsync_us=1e6 / baseline,
        transition_us=1e6 / median(rates[256]),
        cpu_us=median(cpu_256) * 1e6,
    )


# (c) restart-to-ready with 100k tasks ---------------------------------------------------------
def _ready_time(path: Path) -> float:
    started = time.perf_counter()
    engine = RocksEngine.open(path, None, "aggregator")
    store = AggregatorStore(engine)
    store.get_cursor(1)
    store.count_by_status()
    store.list_tasks(TaskStatus.PENDING, limit=100)
    elapsed = time.perf_counter() - started
    engine.close_sync()
    return elapsed


async def _fill(path: Path, n: int, payload: bytes = PAYLOAD, sync: bool = False) -> None:
    engine = RocksEngine.open(path, RocksDBConfig(sync_writes=sync), "aggregator")
    store = AggregatorStore(engine)
    for start in range(0, n, 1000):
        batch = _tasks(f"fill-{start}", min(1000, n - start), payload)
        await store.commit_range(1, cursor=start // 1000 + 1, blocks=[], tasks=batch)
    await engine.close()


async def bench_restart(tmp: Path) -> list[list[object]]:
    clean = tmp / "clean"
    await _fill(clean, 100_000)
    clean_times = [_ready_time(clean) for _ in range(3)]
    crashed = tmp / "crashed"
    await asyncio.to_thread(_fill_and_kill, crashed)
    copies = []
    for i in range(3):
        copy = tmp / f"crashed-{i}"
        shutil.copytree(crashed, copy)
        copies.append(copy)
    crash_times = [_ready_time(c) for c in copies]  # first open replays the WAL
    return [
        ["after a clean shutdown (memtables flushed)", f"{median(clean_times) * 1000:.0f} ms"],
        ["after SIGKILL (WAL replay of 100k tasks)", f"{median(crash_times) * 1000:.0f} ms"],
    ]


def _fill_and_kill(crashed: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.path.insert(0, {str(ROOT)!r})
        from bench.storage import _fill_no_close
        asyncio.run(_fill_no_close({str(crashed)!r}, 100_000))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout.readline().strip() == b"filled"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


async def _fill_no_close(path: str, n: int) -> None:
    engine = RocksEngine.open(path, RocksDBConfig(sync_writes=False), "aggregator")
    store = AggregatorStore(engine)
    for start in range(0, n, 1000):
        batch = _tasks(f"fill-{start}", min(1000, n - start))
        await store.commit_range(1, cursor=start // 1000 + 1, blocks=[], tasks=batch)
    print("filled", flush=True)
    await asyncio.sleep(3600)


# (d) online checkpoint of >= 1 GB vs stop + tar czf ------------------------------------------
async def bench_checkpoint(tmp: Path) -> tuple[list[list[object]], list[list[object]], int]:
    data = tmp / "big"
    payload = os.urandom(2048)
    n = 0
    size = 0
    while size < 2**30:  # at least 1 GiB on disk after a clean close
        engine = RocksEngine.open(data, RocksDBConfig(sync_writes=False), "aggregator")
        store = AggregatorStore(engine)
        for _ in range(50):
            batch = _tasks(f"big-{n}", 1000, payload, chain=2)
            await store.commit_range(2, cursor=n // 1000 + 1, blocks=[], tasks=batch)
            n += 1000
        await engine.close()
        size = sum(e.stat().st_size for e in os.scandir(data) if e.is_file())

    engine = RocksEngine.open(data, RocksDBConfig(), "aggregator")
    store = AggregatorStore(engine)
    manager = SnapshotManager(
        engine, SnapshotsConfig(dir=str(tmp / "snaps"), retention=100, max_age=0)
    )
    # Enough pending tasks for 4 writers pacing at ~2 ms for the whole window (the
    # checkpoint's verify can take 15 s); a writer that still runs out just stops.
    work = _tasks("lat", 40_000)
    for i in range(0, len(work), 1000):
        await store.commit_range(1, cursor=1, blocks=[], tasks=work[i : i + 1000])
    ids = iter([t.task_id for t in work])
    latencies: list[tuple[float, float]] = []
    stop = asyncio.Event()

    async def writer() -> None:
        while not stop.is_set():
            tid = next(ids, None)
            if tid is None:
                return
            t0 = time.perf_counter()
            await store.transition(tid, TaskStatus.PROCESSING)
            latencies.append((t0, time.perf_counter() - t0))
            await asyncio.sleep(0.002)

    writers = [asyncio.create_task(writer()) for _ in range(4)]
    await asyncio.sleep(2.0)
    cp_start = time.perf_counter()
    manifest = await manager.create()
    cp_end = time.perf_counter()
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*writers)
    during = [lat for t0, lat in latencies if cp_start <= t0 <= cp_end]
    before = [lat for t0, lat in latencies if t0 < cp_start]
    checkpoint_s = cp_end - cp_start

    started = time.perf_counter()
    await engine.close()
    await asyncio.to_thread(
        subprocess.run,
        ["tar", "czf", str(tmp / "backup.tar.gz"), "-C", str(tmp), "big"],
        check=True,
    )
    reopened = RocksEngine.open(data, RocksDBConfig(), "aggregator")
    tar_s = time.perf_counter() - started
    await reopened.close()
    rows = [
        [
            "online snapshot: checkpoint + verify in a child process + manifest",
            f"{checkpoint_s:.2f} s",
            "no",
            "1.0",
        ],
        [
            "  of which the checkpoint itself (flush + hard links)",
            f"{manifest.checkpoint_duration_s:.2f} s",
            "no",
            f"{tar_s / max(manifest.checkpoint_duration_s, 1e-6):.0f}× faster than tar",
        ],
        [
            "stop, `tar czf`, restart (operations guide)",
            f"{tar_s:.2f} s",
            "yes",
            f"{tar_s / checkpoint_s:.0f}× slower",
        ],
    ]
    lat_rows = [
        [
            "without a checkpoint",
            len(before),
            f"{median(before) * 1000:.2f}",
            f"{percentile(before, 99) * 1000:.2f}",
        ],
        [
            "during the checkpoint",
            len(during),
            f"{median(during) * 1000:.2f}" if during else "-",
            f"{percentile(during, 99) * 1000:.2f}" if during else "-",
        ],
    ]
    assert manifest.verified, manifest.error
    return rows, lat_rows, size


def main(argv: list[str]) -> str:
    with tempfile.TemporaryDirectory(
        prefix="ponos-bench-", dir=os.environ.get("BENCH_TMP")
    ) as tmp_name:
        tmp = Path(tmp_name)

        async def run_all():
            a = await bench_typed_overhead(tmp / "a")
            b = await bench_group_commit(tmp / "b")
            c = await bench_restart(tmp / "c")
            d, lat, size = await bench_checkpoint(tmp / "d")
            return a, b, c, d, lat, size

        for sub in "abcd":
            (tmp / sub).mkdir()
        a, b, c, d, lat, size = runtime.run(run_all())
    return "\n\n".join(
        [
            "## Storage (issue 3)",
            "Command: `make bench BENCH=storage` (`.venv/bin/python -m bench.run storage`).  \n"
            f"Machine: {machine_line()}. Event loop: uvloop.",
            "### (a) Raw rocksdict put vs the typed store's save_task, unsynced (ops/s)",
            table(["operation", "ops/s", "vs raw"], a),
            "save_task writes the record, two index entries and a counter in one atomic batch "
            "through the writer thread; sequential awaits pay one thread hand-off each.",
            "### (b) Durable task-state transitions (syncWrites on) vs one fsync per put",
            table(
                [
                    "operation",
                    "concurrent writers",
                    "ops/s (median of 5)",
                    "vs fsync per put",
                    "requests per WAL sync",
                ],
                b.rows,
            ),
            _group_commit_notes(b),
            "### (c) Restart to ready with 100k stored tasks (median of 3)",
            table(["state at start", "open + first reads"], c),
            f"### (d) Backup of a {size / 2**30:.2f} GiB store",
            table(["method", "time", "service stopped", "ratio"], d),
            "Durable transition latency of 4 concurrent writers (ms):",
            table(["window", "samples", "median", "p99"], lat),
        ]
    )


def _group_commit_notes(b: GroupCommitResult) -> str:
    return (
        f"Group commit at 256 writers: **{b.ratio:.1f}×** one fsync per put. One synced put "
        f"took {b.fsync_us:.0f} µs in this run; a durable transition at 256 writers took "
        f"{b.transition_us:.0f} µs of wall time and {b.cpu_us:.0f} µs of process CPU (event "
        "loop, writer thread and RocksDB's background threads together). The groups are "
        "large, so WAL syncs do not limit 256 writers: the CPU per transition does (read "
        "and decode the record, validate the transition, encode it, move the status index "
        "entry, bump two counters, RocksDB's memtable inserts; all of it on one GIL shared "
        "by the event loop and the writer thread, so the second core only helps with what "
        "RocksDB does without the GIL). The ratio is the fsync time over that cost and "
        "moves with this VM's fsync latency, which ranges from ~0.2 to ~2 ms with its "
        "neighbours' load: at this run's cost per transition, a 0.2 ms fsync gives "
        f"{200 / b.transition_us:.1f}× and a 1 ms one {1000 / b.transition_us:.0f}×. One "
        "writer cannot gain from grouping: each of its transitions waits for its own WAL "
        "sync, two thread hand-offs and its CPU, so it is slower than one bare put of a "
        "small value."
    )
