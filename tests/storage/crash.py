"""Crash test (blackbox, after RocksDB's db_crashtest): a worker process applies random
task/block/performer/processed-task mutations through the typed stores, logging each
operation before it starts and again once the store acknowledged it; the harness SIGKILLs
it at a random moment, reopens both databases and checks that every acknowledged operation
is present, that an unacknowledged one is either fully there or fully absent, and that the
stores' indexes and counters are consistent.

    python -m tests.storage.crash --cycles 500      # `make crash-test`
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ponos.storage import AggregatorStore, ExecutorStore, TaskStatus
from ponos.storage.records import PROCESSED_CODEC
from ponos.storage.rocksdb import RocksEngine
from ponos.storage.status import TASK_TRANSITIONS
from tests.storage import factories

ROOT = Path(__file__).resolve().parents[2]
CHAINS = (1, 2, 3, 4)
KEEP_BLOCKS = 8
MAX_TASKS_PER_CHAIN = 40
PERFORMER_POOL = 12


# -- the model: what each operation does to the state of its stream ------------------------
def empty_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        f"chain{c}": {"cursor": None, "blocks": [], "tasks": {}} for c in CHAINS
    }
    state["performers"] = {}
    state["processed"] = {}
    return state


def stream_of(op: dict[str, Any]) -> str:
    if "chain" in op:
        return f"chain{op['chain']}"
    return "performers" if op["t"].startswith("perf") else "processed"


def apply_op(stream_state: Any, op: dict[str, Any]) -> Any:
    s = copy.deepcopy(stream_state)
    t = op["t"]
    if t == "commit":
        s["cursor"] = op["cursor"]
        blocks = set(s["blocks"]) | set(op["blocks"])
        for task in op["tasks"]:
            s["tasks"].setdefault(
                task["id"], {"status": "pending", "block": task["block"], "attempts": 0}
            )
        horizon = op["cursor"] - KEEP_BLOCKS
        s["blocks"] = sorted(b for b in blocks if b >= horizon)
    elif t == "rollback":
        a = op["ancestor"]
        s["cursor"] = a
        s["blocks"] = [b for b in s["blocks"] if b <= a]
        s["tasks"] = {k: v for k, v in s["tasks"].items() if v["block"] <= a}
    elif t == "transition":
        s["tasks"][op["task"]]["status"] = op["to"]
    elif t == "attempts":
        s["tasks"][op["task"]]["attempts"] = op["value"]
    elif t == "delete":
        del s["tasks"][op["task"]]
    elif t == "perf_save":
        s[op["id"]] = op["status"]
    elif t == "perf_del":
        del s[op["id"]]
    elif t == "complete":
        s[op["task"]] = op["expires"]
    elif t == "prune":
        limit = int(op["now"] * 1000)
        s = {k: v for k, v in s.items() if int(v * 1000) > limit}
    else:
        raise ValueError(f"unknown op {t}")
    return s


def read_state(agg: AggregatorStore, exe: ExecutorStore) -> dict[str, Any]:
    state = empty_state()
    for c in CHAINS:
        state[f"chain{c}"]["cursor"] = agg.get_cursor(c)
        state[f"chain{c}"]["blocks"] = [b.number for b in agg.list_blocks(c, 0, 10**15)]
    for task in agg.list_tasks():
        state[f"chain{task.chain_id}"]["tasks"][task.task_id] = {
            "status": task.status.value,
            "block": task.block_number,
            "attempts": task.attempts,
        }
    state["performers"] = {p.performer_id: p.status for p in exe.list_performers()}
    state["processed"] = {
        PROCESSED_CODEC.decode(k, v).task_id: PROCESSED_CODEC.decode(k, v).expires_at
        for k, v in exe.engine.scan(b"processed/")
    }
    return state


def open_stores(agg_dir: Path, exe_dir: Path) -> tuple[AggregatorStore, ExecutorStore]:
    agg = AggregatorStore(RocksEngine.open(agg_dir, None, "aggregator"))
    try:
        exe = ExecutorStore(RocksEngine.open(exe_dir, None, "executor"))
    except BaseException:
        agg.engine.close_sync()
        raise
    return agg, exe


# -- the worker (child process) ------------------------------------------------------------
class Worker:
    def __init__(self, agg: AggregatorStore, exe: ExecutorStore, log_fd: int, seed: int) -> None:
        self.agg, self.exe = agg, exe
        self.log_fd = log_fd
        self.rng = random.Random(seed)
        self.seed = seed
        self.state = read_state(agg, exe)
        self.next_id = 0

    def log(self, record: dict[str, Any]) -> None:
        os.write(self.log_fd, (json.dumps(record) + "\n").encode())

    async def run_op(self, op: dict[str, Any], call) -> None:
        self.next_id += 1
        op_id = self.next_id
        self.log({"ev": "begin", "id": op_id, "op": op})
        await call()
        self.log({"ev": "ack", "id": op_id})
        stream = stream_of(op)
        self.state[stream] = apply_op(self.state[stream], op)

    async def chain_loop(self, chain: int) -> None:
        rng = self.rng
        counter = 0
        while True:
            s = self.state[f"chain{chain}"]
            cursor = s["cursor"] or 0
            live = [(k, v) for k, v in s["tasks"].items()]
            roll = rng.random()
            if roll < 0.45 or not live:
                new_cursor = cursor + rng.randint(1, 3)
                numbers = list(range(cursor + 1, new_cursor + 1))
                tasks = []
                for _ in range(rng.randint(0, 3)):
                    counter += 1
                    tasks.append(
                        {
                            "id": factories.task_id(f"{self.seed}-{chain}-{counter}"),
                            "n": f"{self.seed}-{chain}-{counter}",
                            "block": rng.choice(numbers),
                        }
                    )
                op = {
                    "t": "commit",
                    "chain": chain,
                    "cursor": new_cursor,
                    "blocks": numbers,
                    "tasks": [{"id": t["id"], "block": t["block"]} for t in tasks],
                }
                records = [
                    factories.task(t["n"], chain_id=chain, block_number=t["block"]) for t in tasks
                ]
                await self.run_op(
                    op,
                    lambda op=op, records=records: self.agg.commit_range(
                        chain,
                        cursor=op["cursor"],
                        blocks=[factories.block(chain, n) for n in op["blocks"]],
                        tasks=records,
                        keep_blocks=KEEP_BLOCKS,
                    ),
                )
            elif roll < 0.52 and cursor > 3:
                ancestor = cursor - rng.randint(1, 3)
                op = {"t": "rollback", "chain": chain, "ancestor": ancestor}
                await self.run_op(op, lambda a=ancestor: self.agg.rollback_to(chain, a))
            elif roll < 0.62 or len(live) > MAX_TASKS_PER_CHAIN:
                terminal = [k for k, v in live if not TASK_TRANSITIONS[TaskStatus(v["status"])]]
                victim = rng.choice(terminal or [k for k, _ in live])
                op = {"t": "delete", "chain": chain, "task": victim}
                await self.run_op(op, lambda v=victim: self.agg.delete_task(v))
            elif roll < 0.70:
                task_id, info = rng.choice(live)
                op = {
                    "t": "attempts",
                    "chain": chain,
                    "task": task_id,
                    "value": info["attempts"] + 1,
                }
                await self.run_op(
                    op, lambda t=task_id, v=op["value"]: self.agg.update_task(t, attempts=v)
                )
            else:
                movable = [(k, v) for k, v in live if TASK_TRANSITIONS[TaskStatus(v["status"])]]
                if not movable:
                    await asyncio.sleep(0)
                    continue
                task_id, info = rng.choice(movable)
                target = rng.choice(sorted(TASK_TRANSITIONS[TaskStatus(info["status"])])).value
                op = {"t": "transition", "chain": chain, "task": task_id, "to": target}
                await self.run_op(op, lambda t=task_id, to=target: self.agg.transition(t, to))

    async def performer_loop(self) -> None:
        rng = self.rng
        while True:
            existing = sorted(self.state["performers"])
            if existing and rng.random() < 0.3:
                victim = rng.choice(existing)
                op = {"t": "perf_del", "id": victim}
                await self.run_op(op, lambda v=victim: self.exe.delete_performer(v))
            else:
                n = rng.randrange(PERFORMER_POOL)
                status = rng.choice(["running", "stopped", "unhealthy"]) + f"-{rng.randrange(1000)}"
                record = dataclasses.replace(factories.performer(n), status=status)
                op = {"t": "perf_save", "id": record.performer_id, "status": status}
                await self.run_op(op, lambda r=record: self.exe.save_performer(r))

    async def processed_loop(self) -> None:
        rng = self.rng
        n = 0
        while True:
            if rng.random() < 0.15:
                now = 1000.0 + rng.random() * 1000
                op = {"t": "prune", "now": now}
                await self.run_op(op, lambda x=now: self.exe.prune_processed(x, limit=None))
            else:
                n += 1
                expires = round(1000.0 + rng.random() * 1000, 3)
                record = factories.processed(f"{self.seed}-p-{n}", expires_at=expires)
                op = {"t": "complete", "task": record.task_id, "expires": expires}
                await self.run_op(op, lambda r=record: self.exe.complete_task(r))

    async def run(self) -> None:
        print("ready", flush=True)
        await asyncio.gather(
            *(self.chain_loop(c) for c in CHAINS), self.performer_loop(), self.processed_loop()
        )


def worker_main(args: argparse.Namespace) -> int:
    from ponos import runtime

    agg, exe = open_stores(Path(args.agg), Path(args.exe))
    fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    worker = Worker(agg, exe, fd, args.seed)
    if args.loop == "uvloop":
        runtime.run(worker.run())
    else:
        asyncio.run(worker.run())
    return 0


# -- the harness ---------------------------------------------------------------------------
@dataclasses.dataclass
class CrashReport:
    cycles: int = 0
    acknowledged_ops: int = 0
    unacknowledged_ops: int = 0
    lost_acknowledged_ops: int = 0
    failed_opens: int = 0
    inconsistencies: int = 0
    kills_before_ready: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        return (
            f"crash test: {self.cycles} SIGKILL cycles, {self.acknowledged_ops} acknowledged "
            f"operations checked ({self.unacknowledged_ops} in flight at a kill), "
            f"{self.lost_acknowledged_ops} lost, {self.failed_opens} failed opens, "
            f"{self.inconsistencies} inconsistent stores, "
            f"{self.kills_before_ready} kills during start-up"
        )


def _parse_log(path: Path) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """Per stream: ops in begin order with an `acked` flag; plus counts."""
    streams: dict[str, list[dict]] = {}
    by_id: dict[int, dict] = {}
    if not path.exists():
        return streams, {"acked": 0, "pending": 0}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn last line: the worker was killed while writing it
        if record["ev"] == "begin":
            entry = {"op": record["op"], "acked": False}
            by_id[record["id"]] = entry
            streams.setdefault(stream_of(record["op"]), []).append(entry)
        elif record["ev"] == "ack" and record["id"] in by_id:
            by_id[record["id"]]["acked"] = True
    acked = sum(e["acked"] for e in by_id.values())
    return streams, {"acked": acked, "pending": len(by_id) - acked}


def check_cycle(
    before: dict, after: dict, streams: dict[str, list[dict]], report: CrashReport
) -> None:
    for name in before:
        entries = streams.get(name, [])
        acked = sum(e["acked"] for e in entries)
        states = [before[name]]
        for entry in entries:
            states.append(apply_op(states[-1], entry["op"]))
        matches = [j for j, s in enumerate(states) if s == after[name]]
        if not matches:
            report.lost_acknowledged_ops += acked
            report.problems.append(
                f"{name}: state matches no prefix of its {len(entries)} operations"
            )
            continue
        best = max(matches)
        if best < acked:
            report.lost_acknowledged_ops += acked - best
            report.problems.append(
                f"{name}: only {best} of {acked} acknowledged operations present"
            )
        elif best > acked + 1:
            report.problems.append(
                f"{name}: state is ahead of the log by {best - acked} operations"
            )
            report.inconsistencies += 1


def run_crash_test(
    cycles: int, workdir: Path, *, seed: int = 1, progress: bool = False
) -> CrashReport:
    rng = random.Random(seed)
    agg_dir, exe_dir = workdir / "aggregator", workdir / "executor"
    report = CrashReport()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    baseline = empty_state()
    for cycle in range(cycles):
        log_path = workdir / f"ops-{cycle}.jsonl"
        loop = rng.choice(["asyncio", "uvloop"])
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.storage.crash",
                "worker",
                "--agg",
                str(agg_dir),
                "--exe",
                str(exe_dir),
                "--log",
                str(log_path),
                "--seed",
                str(seed * 100_000 + cycle),
                "--loop",
                loop,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        if rng.random() < 0.2:
            time.sleep(rng.uniform(0.0, 0.6))  # may land during import or open
        else:
            line = proc.stdout.readline()
            if line.strip() != b"ready":
                proc.kill()
                _out, err = proc.communicate()
                report.failed_opens += 1
                report.problems.append(
                    f"cycle {cycle}: worker did not start: {err.decode()[-500:]}"
                )
                continue
            time.sleep(rng.uniform(0.0, 1.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        else:
            _out, err = proc.communicate()
            report.problems.append(f"cycle {cycle}: worker exited early: {err.decode()[-500:]}")
        proc.communicate()
        report.cycles += 1
        streams, counts = _parse_log(log_path)
        if counts["acked"] == 0 and counts["pending"] == 0:
            report.kills_before_ready += 1
        report.acknowledged_ops += counts["acked"]
        report.unacknowledged_ops += counts["pending"]
        try:
            agg, exe = open_stores(agg_dir, exe_dir)
        except Exception as exc:  # the store must always open after a crash
            report.failed_opens += 1
            report.problems.append(f"cycle {cycle}: reopen failed: {exc}")
            break
        try:
            after = read_state(agg, exe)
            problems = agg.verify() + exe.verify()
            if problems:
                report.inconsistencies += 1
                report.problems.extend(f"cycle {cycle}: {p}" for p in problems[:5])
            check_cycle(baseline, after, streams, report)
            baseline = after
        finally:
            agg.engine.close_sync()
            exe.engine.close_sync()
        log_path.unlink(missing_ok=True)
        if progress and (cycle + 1) % 25 == 0:
            print(
                f"  {cycle + 1}/{cycles} cycles, {report.acknowledged_ops} acknowledged ops, "
                f"{report.lost_acknowledged_ops} lost, {report.failed_opens} failed opens",
                flush=True,
            )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.storage.crash")
    sub = parser.add_subparsers(dest="mode")
    worker = sub.add_parser("worker")
    worker.add_argument("--agg", required=True)
    worker.add_argument("--exe", required=True)
    worker.add_argument("--log", required=True)
    worker.add_argument("--seed", type=int, required=True)
    worker.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args(argv)
    if args.mode == "worker":
        return worker_main(args)
    with tempfile.TemporaryDirectory(prefix="ponos-crash-") as tmp:
        print(f"crash test: {args.cycles} cycles, seed {args.seed}", flush=True)
        started = time.monotonic()
        report = run_crash_test(args.cycles, Path(tmp), seed=args.seed, progress=True)
    print(report.summary() + f" in {time.monotonic() - started:.0f}s")
    for problem in report.problems[:20]:
        print("  problem:", problem)
    ok = (
        report.lost_acknowledged_ops == 0
        and report.failed_opens == 0
        and report.inconsistencies == 0
    )
    return 0 if ok and report.acknowledged_ops > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
