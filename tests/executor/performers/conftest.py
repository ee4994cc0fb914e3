"""Fixtures for performer tests: runtime context and specs of real performer processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ponos.executor.performers.base import RuntimeContext
from ponos.executor.performers.spec import EnvVar, PerformerSpec

AVS = "0x" + "a1" * 20
# The hello performer without the full CLI (`ponos performer hello` is the same server; the
# grpcurl test runs that one); it is ready in about half the time.
HELLO = (sys.executable, "-m", "ponos.performer")
LEGACY = (sys.executable, str(Path(__file__).with_name("legacy_performer.py")))


@pytest.fixture
def context(tmp_path) -> RuntimeContext:
    return RuntimeContext(log_dir=tmp_path / "logs", artifact_dir=tmp_path / "artifacts")


def hello_spec(
    delay_ms: int = 0, interval: float = 0.2, command=HELLO, env=(), **kw
) -> PerformerSpec:
    if delay_ms:
        env = (*env, EnvVar("TASK_DELAY_MS", str(delay_ms)))
    return PerformerSpec(
        avs_address=AVS,
        runtime="process",
        command=tuple(command),
        artifact_registry=" ".join(command),
        env=env,
        health_interval=interval,
        **kw,
    )
