"""Small helpers shared by tests: running the CLI as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m ponos ARGS` and capture its output."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PONOS_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ponos", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd or ROOT,
    )
