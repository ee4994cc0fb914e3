"""A local anvil node (installed from npm into node_modules) as a managed subprocess.

Used by the devnet command, the test fixtures and the benchmarks. anvil listens on loopback
unless a caller asks for another address (`ponos devnet chain --host`, in a container);
`Anvil.start()` returns once the node answers JSON-RPC.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from ponos.errors import PrerequisiteError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def find_anvil() -> Path:
    """The anvil binary: $PONOS_ANVIL_BIN, the project's node_modules, then PATH."""
    explicit = os.environ.get("PONOS_ANVIL_BIN")
    if explicit:
        path = Path(explicit)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise PrerequisiteError(f"PONOS_ANVIL_BIN={explicit} is not an executable file")
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    system = platform.system().lower()
    for base in (PROJECT_ROOT, Path.cwd()):
        candidate = base / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
        if candidate.is_file():
            return candidate
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise PrerequisiteError(
        "anvil not found: run `make bootstrap` (installs @foundry-rs/anvil into node_modules) "
        "or set PONOS_ANVIL_BIN"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def rpc_call(url: str, method: str, params: list | None = None, timeout: float = 5.0) -> object:
    """One synchronous JSON-RPC call (for start-up probes and tools, not for services)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


# Wildcard listen addresses: the node is reached on loopback from this machine.
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


class Anvil:
    """An anvil process (on 127.0.0.1 by default). Use as a context manager or call
    start()/stop()."""

    def __init__(
        self,
        port: int = 0,
        chain_id: int = 31337,
        block_time: float | None = None,
        accounts: int = 10,
        state_file: Path | None = None,
        log_file: Path | None = None,
        extra_args: list[str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self.chain_id = chain_id
        self.block_time = block_time
        self.accounts = accounts
        self.state_file = state_file
        self.log_file = log_file
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where this machine reaches the node (loopback when it listens on every address)."""
        host = _WILDCARD_HOSTS.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            str(find_anvil()),
            "--host", self.host,
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.accounts),
            "--silent",
        ]
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        if self.state_file:
            cmd += ["--state", str(self.state_file)]
        return cmd + self.extra_args

    def start(self, timeout: float = 15.0) -> Anvil:
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrerequisiteError(
                    f"anvil exited with code {self.process.returncode} while starting "
                    f"(port {self.port} may be in use)"
                )
            try:
                rpc_call(self.url, "eth_chainId", timeout=1.0)
                return self
            except (OSError, urllib.error.URLError, RuntimeError):
                time.sleep(0.02)
        self.stop()
        raise PrerequisiteError(f"anvil did not answer on {self.url} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def rpc(self, method: str, params: list | None = None) -> object:
        return rpc_call(self.url, method, params)

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
