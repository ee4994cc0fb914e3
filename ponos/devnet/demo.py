"""`ponos demo`: the whole system on one machine, step by step.

Starts the devnet (anvil + contracts), three executors with hello performers and the
aggregator as separate processes, creates a handful of tasks and shows each verified on chain
with its result, lists the performers with grpcurl, takes a snapshot through the admin
endpoint, prints where the metrics are, and keeps everything running until Ctrl-C (or stops
at once with --no-hold). Everything it starts, it stops.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ponos.chain.types import TaskStatus
from ponos.devnet.errors import DevnetError
from ponos.devnet.manager import UpOptions, client_for, devnet_down, devnet_up

READY_TIMEOUT = 90.0
LIST_PERFORMERS = "eigenlayer.hourglass.v1.ExecutorService/ListPerformers"
TASK_TIMEOUT = 120.0


@dataclass
class DemoOptions:
    directory: Path = Path("devnet")
    tasks: int = 5
    curve: str = "ecdsa"
    hold: bool = True
    port: int = 8545
    grpc_base_port: int = 9090
    ops_base_port: int = 8080


class Demo:
    def __init__(self, options: DemoOptions, out=sys.stdout) -> None:
        self.options = options
        self.out = out
        self.step_number = 0
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.log_dir = options.directory / "logs"

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def step(self, text: str) -> None:
        self.step_number += 1
        self.say(f"[{self.step_number}] {text}")

    # -- processes -----------------------------------------------------------------------

    def start_service(self, name: str, args: list[str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        process = subprocess.Popen(
            [sys.executable, "-m", "ponos", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes.append((name, process))

    def wait_ready(self, name: str, port: int) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        process = dict(self.processes)[name]
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DevnetError(
                    f"{name} exited with code {process.returncode}; see {self.log_dir / name}.log"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise DevnetError(
            f"{name} was not ready within {READY_TIMEOUT:.0f}s; see {self.log_dir / name}.log"
        )

    def stop_services(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in reversed(self.processes):
            try:
                code = process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            self.say(f"    stopped {name} (exit code {code})")
        self.processes.clear()

    # -- the demo --------------------------------------------------------------------------

    def run(self) -> int:
        options = self.options
        try:
            self.step(
                f"Starting the devnet (anvil on 127.0.0.1:{options.port}, contracts, "
                f"3 executor operators, {options.curve})"
            )
            result = devnet_up(
                UpOptions(directory=options.directory, port=options.port, curve=options.curve)
            )
            deployment = result.deployment
            self.say(
                f"    TaskMailbox {deployment.contracts['TaskMailbox']}, AVS {deployment.avs}"
                + (" (reused the running devnet)" if result.reused else "")
            )
            for i, executor in enumerate(deployment.executors):
                self.step(
                    f"Starting executor {i} (operator {executor.address}, gRPC {executor.socket})"
                )
                self.start_service(
                    f"executor-{i}",
                    ["executor", "run", "--config", str(options.directory / f"executor-{i}.yaml")],
                )
            self.step("Starting the aggregator")
            self.start_service(
                "aggregator",
                ["aggregator", "run", "--config", str(options.directory / "aggregator.yaml")],
            )
            ops_ports = self.ops_ports()
            for name, port in ops_ports.items():
                self.wait_ready(name, port)
            self.say("    all services ready")
            self.create_and_follow_tasks()
            self.show_performers(deployment.executors[0].socket)
            self.take_snapshot(ops_ports["aggregator"])
            self.step("Metrics and health")
            for name, port in ops_ports.items():
                self.say(
                    f"    {name:<11} http://127.0.0.1:{port}/metrics   http://127.0.0.1:{port}/readyz"
                )
            self.say(f"    logs in {self.log_dir}/")
            if options.hold:
                self.hold()
            return 0
        finally:
            self.step("Stopping everything")
            self.stop_services()
            if devnet_down(options.directory) is not None:
                self.say("    stopped anvil")

    def ops_ports(self) -> dict[str, int]:
        from ponos.config import AggregatorConfig, ExecutorConfig, load_config

        ports = {}
        for name, _process in self.processes:
            cls = AggregatorConfig if name == "aggregator" else ExecutorConfig
            config, _ = load_config(cls, self.options.directory / f"{name}.yaml")
            ports[name] = config.ops.port
        return ports

    def create_and_follow_tasks(self) -> None:
        count = self.options.tasks
        client = client_for(self.options.directory)
        self.step(f"Creating {count} tasks (payload n → the hello performer squares it)")
        created = []
        for n in range(2, 2 + count):
            task = client.create_task(bytes([n]))
            created.append((n, task.task_hash))
            self.say(f"    task {task.task_hash} payload 0x{n:02x}")
        self.step("Waiting for every task to be verified on chain")
        deadline = time.monotonic() + TASK_TIMEOUT
        done: dict[str, bytes] = {}
        while len(done) < count and time.monotonic() < deadline:
            for n, task_hash in created:
                if task_hash in done:
                    continue
                status = client.task_status(task_hash)
                if status == TaskStatus.VERIFIED:
                    done[task_hash] = client.task_result(task_hash) or b""
                    result = done[task_hash].hex()
                    self.say(
                        f"\r    VERIFIED {task_hash} payload 0x{n:02x} → result 0x{result}    "
                    )
                elif status == TaskStatus.EXPIRED:
                    raise DevnetError(
                        f"task {task_hash} expired; see {self.log_dir}/aggregator.log"
                    )
            self.progress(len(done), count)
            if len(done) < count:
                time.sleep(0.5)
        self.clear_progress()
        self.say(f"    [{'#' * 30}] {count}/{count} verified")
        if len(done) < count:
            raise DevnetError(
                f"only {len(done)} of {count} tasks verified within {TASK_TIMEOUT:.0f}s"
            )

    def progress(self, done: int, total: int) -> None:
        """A redrawn bar on a terminal; a line per change when the output is a file."""
        width = 30
        filled = int(width * done / total)
        bar = f"    [{'#' * filled}{'.' * (width - filled)}] {done}/{total} verified"
        if self.out.isatty():
            self.out.write("\r" + bar)
            self.out.flush()
        elif done != getattr(self, "_last_progress", None) and done < total:
            self.say(bar)
        self._last_progress = done

    def clear_progress(self) -> None:
        if self.out.isatty():
            self.out.write("\r\x1b[K")

    def show_performers(self, socket: str) -> None:
        command = [
            "grpcurl",
            "-plaintext",
            socket.replace("127.0.0.1", "localhost"),
            "eigenlayer.hourglass.v1.ExecutorService/ListPerformers",
        ]
        self.step("$ " + " ".join(command))
        binary = shutil.which("grpcurl") or str(Path(sys.executable).with_name("grpcurl"))
        if not Path(binary).exists():
            self.say("    grpcurl is not installed here (it comes with `make bootstrap`)")
            return
        reply = subprocess.run([binary, *command[1:]], capture_output=True, text=True, timeout=30)
        for line in (reply.stdout or reply.stderr).splitlines():
            self.say("    " + line)

    def take_snapshot(self, port: int) -> None:
        self.step(
            f"Taking an online snapshot of the aggregator's store: POST http://127.0.0.1:{port}/admin/snapshots"
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/admin/snapshots?wait=true", method="POST"
        )
        token = os.environ.get("PONOS_OPS__ADMIN_TOKEN")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=120) as reply:
            manifest = json.loads(reply.read())
        size = manifest["sizes"].get("total_bytes", 0)
        tasks = manifest["counts"].get("task", 0)
        verified = manifest["verified"]
        self.say(f"    snapshot {manifest['id']}: verified={verified}, {size} bytes, {tasks} tasks")
        self.say(f"    at {manifest['path']}")

    def hold(self) -> None:
        self.say("\nEverything is running. Try:")
        self.say("    grpcurl -plaintext localhost:9090 " + LIST_PERFORMERS)
        self.say(f"    ponos devnet task --dir {self.options.directory} --payload 0x09")
        self.say("Press Ctrl-C to stop.")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(1.0):
            for name, process in self.processes:
                if process.poll() is not None:
                    self.say(f"{name} exited with code {process.returncode}; stopping")
                    return
