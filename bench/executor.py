"""SubmitTask through a real executor process to the hello performer, with durable in-flight
tracking (RocksDB, syncWrites on), side by side with a bare grpc.aio echo round-trip measured
in the same run; and the executor's memory per 10k processed tasks.

make bench BENCH=executor      (.venv/bin/python -m bench.run executor)

The executor path has two hops (aggregator -> executor -> performer), verifies the
aggregator's ECDSA signature, signs the result twice and makes two fsynced writes per task;
the echo has one hop and does nothing. Target: >= 40% of the echo rate.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.report import machine_line, median, percentile, table
from ponos.crypto import messages
from ponos.crypto.ecdsa import EcdsaPrivateKey
from ponos.crypto.signer import EcdsaSigner
from ponos.devnet.anvil import free_port
from ponos.devnet.configs import executor_config
from ponos.devnet.local import LocalDevnet, local_devnet
from ponos.pb import executor_pb2, executor_pb2_grpc
from ponos.runtime import run

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 3
# Tasks per measurement: enough for a few seconds each at the expected rates.
TASKS = {1: 1500, 64: 6000}
MEMORY_BATCHES = 4  # of 10k tasks each, RSS read after each
PERFORMER = [sys.executable, "-m", "ponos.performer"]
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 16 * 1024 * 1024)]


@dataclass
class Run:
    rate: float  # calls per second
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float = 0.0  # CPU of the serving process (echo / executor) per call
    performer_cpu_ms: float = 0.0  # CPU of the performer process per call (executor runs)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


async def _measured(call, requests: list[bytes], concurrency: int, server: int, performer=None):
    """`_drive`, plus the CPU the server (and performer) processes spent per call."""
    before = [_cpu_seconds(server), _cpu_seconds(performer) if performer else 0.0]
    run_ = await _drive(call, requests, concurrency)
    run_.server_cpu_ms = (_cpu_seconds(server) - before[0]) / len(requests) * 1000
    if performer:
        run_.performer_cpu_ms = (_cpu_seconds(performer) - before[1]) / len(requests) * 1000
    return run_


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class Submissions:
    """Pre-signed TaskSubmissions (signing is the aggregator's cost, not measured here)."""

    def __init__(self, net: LocalDevnet) -> None:
        self.net = net
        d = net.deployment
        self.signer = EcdsaSigner(EcdsaPrivateKey.from_hex(d.aggregator.ecdsa.private_key))
        self.block = int(net.client.w3.eth.block_number)

    def make(self, count: int) -> list[bytes]:
        d = self.net.deployment
        executor = d.executors[0].address
        out = []
        for _ in range(count):
            task_id = "0x" + os.urandom(32).hex()
            payload = b"0x" + os.urandom(8).hex().encode()
            digest = messages.task_submission_digest(
                task_id,
                d.avs,
                executor,
                d.executor_operator_set_id,
                d.reference_timestamp,
                self.block,
                payload,
            )
            out.append(
                executor_pb2.TaskSubmission(
                    task_id=task_id,
                    aggregator_address=d.aggregator.address,
                    avs_address=d.avs,
                    payload=payload,
                    signature=self.signer.sign_digest(digest),
                    operator_set_id=d.executor_operator_set_id,
                    reference_timestamp=d.reference_timestamp,
                    executor_address=executor,
                    task_block_number=self.block,
                    version=1,
                ).SerializeToString()
            )
        return out


async def _drive(call, requests: list[bytes], concurrency: int) -> Run:
    """`concurrency` clients, each sending its share of `requests` one after another."""
    latencies: list[float] = []
    queue = iter(requests)

    async def client() -> None:
        for request in queue:
            started = time.perf_counter()
            await call(request, timeout=60)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Run(
        rate=len(requests) / elapsed,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
    )


async def _wait_serving(target: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    options = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 300)]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the executor exited with {proc.returncode}")
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the executor did not become ready")


def _start_executor(net: LocalDevnet, tmp: Path) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    config = executor_config(net.deployment, 0, tmp / "data", port, 0)
    config["avsPerformers"][0]["command"] = PERFORMER
    config["ops"] = {"enabled": False}
    path = tmp / "executor.yaml"
    path.write_text(yaml.safe_dump(config))
    log = open(tmp / "executor.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "ponos", "executor", "run", "--config", str(path)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    return proc, port, Path(config["storage"]["rocksdb"]["dir"])


def _start_echo() -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench._echo_server", str(port)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "echo server ready"
    return proc, port


async def _bench(net: LocalDevnet, tmp: Path) -> str:
    submissions = Submissions(net)
    executor, executor_port, data_dir = _start_executor(net, tmp)
    echo, echo_port = _start_echo()
    runs: dict[tuple[str, int], list[Run]] = {}
    try:
        await _wait_serving(f"127.0.0.1:{executor_port}", executor)
        rss_start = _rss_kib(executor.pid)
        async with (
            grpc.aio.insecure_channel(
                f"127.0.0.1:{executor_port}", options=_CHANNEL_OPTIONS
            ) as executor_channel,
            grpc.aio.insecure_channel(f"127.0.0.1:{echo_port}") as echo_channel,
        ):
            submit_stub = executor_pb2_grpc.ExecutorServiceStub(executor_channel)
            submit_raw = executor_channel.unary_unary(
                "/eigenlayer.hourglass.v1.ExecutorService/SubmitTask"
            )
            echo_call = echo_channel.unary_unary("/bench.Echo/Echo")
            # Warm up both (connections, caches of chain reads, the performer's channel).
            warm = submissions.make(50)
            for request in warm:
                await submit_stub.SubmitTask(
                    executor_pb2.TaskSubmission.FromString(request), timeout=60
                )
            await _drive(echo_call, warm, 4)
            [performer] = _children(executor.pid)
            for _ in range(REPEATS):
                for concurrency, count in TASKS.items():
                    requests = submissions.make(count)
                    runs.setdefault(("echo", concurrency), []).append(
                        await _measured(echo_call, requests, concurrency, echo.pid)
                    )
                    runs.setdefault(("executor", concurrency), []).append(
                        await _measured(submit_raw, requests, concurrency, executor.pid, performer)
                    )
            processed = sum(TASKS.values()) * REPEATS + len(warm)
            memory = [(processed, _rss_kib(executor.pid), _dir_bytes(data_dir))]
            for _ in range(MEMORY_BATCHES):
                await _drive(submit_raw, submissions.make(10_000), 64)
                processed += 10_000
                memory.append((processed, _rss_kib(executor.pid), _dir_bytes(data_dir)))
    finally:
        for proc in (executor, echo):
            proc.terminate()
            proc.wait(timeout=60)
    return _report(runs, rss_start, memory)


def _report(runs, rss_start: int, memory: list[tuple[int, int, int]]) -> str:
    headers = [
        "path",
        "concurrent clients",
        "calls/s",
        "p50 ms",
        "p99 ms",
        "vs echo",
        "server CPU ms/call",
        "performer CPU ms/call",
    ]
    rows = []
    ratios = {}
    for concurrency in TASKS:
        echo = runs[("echo", concurrency)]
        ours = runs[("executor", concurrency)]
        echo_rate = median([r.rate for r in echo])
        our_rate = median([r.rate for r in ours])
        ratios[concurrency] = our_rate / echo_rate
        for name, data, rate in (("grpc.aio echo (1 hop)", echo, echo_rate),
                                 ("SubmitTask (2 hops, durable)", ours, our_rate)):  # fmt: skip
            rows.append(
                [
                    name,
                    concurrency,
                    f"{rate:,.0f}",
                    f"{median([r.p50_ms for r in data]):.2f}",
                    f"{median([r.p99_ms for r in data]):.2f}",
                    "1.00" if data is echo else f"{rate / echo_rate:.2f}",
                    f"{median([r.server_cpu_ms for r in data]):.2f}",
                    "" if data is echo else f"{median([r.performer_cpu_ms for r in data]):.2f}",
                ]
            )
    load = "load average {:.1f} / {:.1f} / {:.1f} (1/5/15 min) at the end".format(*os.getloadavg())
    verdict = ", ".join(
        f"{c} client{'s' if c > 1 else ''}: **{r:.0%}** of echo" for c, r in ratios.items()
    )
    memory_rows = [["0 (after start-up)", f"{rss_start / 1024:.0f}", "", ""]]
    previous = rss_start
    for count, rss, disk in memory:
        memory_rows.append(
            [
                f"{count:,}",
                f"{rss / 1024:.0f}",
                f"{(rss - previous) / 1024:+.0f}",
                f"{disk / 2**20:.0f}",
            ]
        )
        previous = rss
    growth = (memory[-1][1] - memory[0][1]) / 1024 / MEMORY_BATCHES
    disk_growth = (memory[-1][2] - memory[0][2]) / 2**20 / MEMORY_BATCHES
    memory_table = table(
        ["tasks processed", "executor RSS (MiB)", "change", "data dir (MiB)"], memory_rows
    )
    return f"""## Executor (issue 6)

Command: `make bench BENCH=executor` (`.venv/bin/python -m bench.run executor`).
Machine: {machine_line()}. Event loop: uvloop in every process.

SubmitTask from a load generator to a real `ponos executor run` process (devnet config, ECDSA,
RocksDB with syncWrites on) whose performer is the hello performer (`python -m ponos.performer`),
against a bare grpc.aio echo server in its own process answering the same request bytes, in
the same run, alternating, {REPEATS} repetitions ({TASKS[1]:,} calls with 1 client,
{TASKS[64]:,} with 64; medians). Per task the executor verifies the aggregator's signature,
calls the performer (second hop), signs the result and its auth digest, and makes two fsynced
writes (in-flight record, then processed record + expiry index in one batch). Task ids are all
new: no replays.

{table(headers, rows)}

Target >= 40% of the echo rate: {verdict}. **Not met.** The last two columns say why: the
executor process is CPU-bound (one Python process, so one core) at several times the echo
server's CPU per call. Its second hop alone, the gRPC client call to the performer, costs
about as much as a whole echo call; the rest is per-task work the echo does not do: ECDSA
recovery of the aggregator's signature and two ECDSA signatures (~0.25 ms), nine keccak-256
hashes through eth_utils and pycryptodome (ctypes, ~15 µs each), two storage writes through
the group-commit writer thread, gRPC and asyncio bookkeeping. With one client each write also
pays its own fsync (nothing to group it with), which shows in the CPU per call, and the path
is latency-bound: two hops plus the fsync of the processed record, which must be durable
before the answer. What tuning removed (found with py-spy): the crypto thread-pool hand-offs
for ECDSA (inline is cheaper than the hand-off under GIL contention), the in-flight record's
fsync on the latency path (it now overlaps the performer call), and a log line per task.
Machine {load}; other work on these 2 shared cores moves every figure.

Memory per 10k processed tasks: **{growth:.1f} MiB** of RSS on average over the last
{MEMORY_BATCHES} batches of 10k (and {disk_growth:.1f} MiB of data directory before
compaction). Processed tasks live in RocksDB, not in Python objects: the RSS follows the
memtable, which grows until RocksDB flushes it (the drop in the table), so it stays bounded.

{memory_table}
"""


def main(argv: list[str]) -> str:
    with local_devnet(operators=1, curve="ecdsa") as net, tempfile.TemporaryDirectory() as tmp:
        return run(_bench(net, Path(tmp)))


if __name__ == "__main__":
    print(main(sys.argv[1:]))
