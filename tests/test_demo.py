"""`make demo` runs to completion: devnet, executors, aggregator, tasks verified, performers
listed with grpcurl, snapshot taken, everything stopped again."""

from __future__ import annotations

import random
import socket
import subprocess

import pytest

from tests.helpers import ROOT


def _free_block(size: int) -> int:
    """A base port with `size` free consecutive ports after it."""
    for _ in range(50):
        base = random.randrange(20000, 60000)
        try:
            sockets = []
            for port in range(base, base + size):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                sockets.append(s)
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return base
    raise RuntimeError("no free port block")


@pytest.mark.slow
def test_make_demo_runs_to_completion(tmp_path):
    base = _free_block(10)
    args = (
        f"--no-hold --tasks 3 --dir {tmp_path / 'devnet'} --port {base} "
        f"--grpc-base-port {base + 1} --ops-base-port {base + 4}"
    )
    result = subprocess.run(
        ["make", "-s", "demo", f"DEMO_ARGS={args}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "3/3 verified" in out
    assert out.count("VERIFIED 0x") == 3 and "→ result 0x04" in out  # payload 0x02 squared
    assert '"status": "InService"' in out  # grpcurl ListPerformers
    assert "verified=True" in out  # the snapshot
    assert out.count("(exit code 0)") == 4 and "stopped anvil" in out
