"""`ponos devnet chain`: anvil in the foreground, for a container or a terminal.

`ponos devnet up` starts anvil detached on loopback and deploys in one go; in Docker Compose
the chain is a service of its own that other containers reach, and `ponos devnet deploy`
deploys to it. This runs anvil as a child, says once where it answers, passes SIGTERM and
SIGINT on (as PID 1 in a container a process gets no default signal handling) and exits with
anvil's exit code. It listens on loopback unless asked for another address: the node accepts
transactions from its unlocked accounts from anyone who can reach it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
from types import FrameType
from typing import TextIO

from ponos.devnet.anvil import Anvil, rpc_call
from ponos.devnet.errors import DevnetError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8545
CHAIN_ID = 31337
START_TIMEOUT = 30.0
_FORWARDED = (signal.SIGTERM, signal.SIGINT)


def check_host_port(host: str, port: int) -> None:
    if not host.strip():
        raise DevnetError("--host is empty: give an address to listen on, e.g. 127.0.0.1")
    if not 0 < port < 65536:
        raise DevnetError(f"--port {port} is not a TCP port (1-65535)")


def _answers(url: str) -> bool:
    try:
        rpc_call(url, "eth_chainId", timeout=1.0)
    except (OSError, urllib.error.URLError, RuntimeError, ValueError):
        return False
    return True


def run_chain(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    chain_id: int = CHAIN_ID,
    out: TextIO = sys.stdout,
) -> int:
    """Run anvil until it exits or this process is told to stop; returns anvil's exit code."""
    check_host_port(host, port)
    node = Anvil(host=host, port=port, chain_id=chain_id)
    process = subprocess.Popen(node.command(), stdin=subprocess.DEVNULL)

    def forward(signum: int, _frame: FrameType | None) -> None:
        if process.poll() is None:
            process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(node.url):
            if process.poll() is not None:
                raise DevnetError(
                    f"anvil exited with code {process.returncode} while starting on "
                    f"{host}:{port}",
                    hint="is the port in use, or the address not one of this machine's?",
                )
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise DevnetError(f"anvil did not answer on {node.url} within {START_TIMEOUT:.0f}s")
            time.sleep(0.05)
        print(
            f"Devnet chain: anvil pid {process.pid} listening on {host}:{port} "
            f"(chain {chain_id}); stop with SIGTERM or Ctrl-C",
            file=out,
            flush=True,
        )
        code = process.wait()
        print(f"Devnet chain stopped (anvil exit code {code})", file=out, flush=True)
        return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
