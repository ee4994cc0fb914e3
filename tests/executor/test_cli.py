"""`ponos executor run` failing to start says why in one line, never with a traceback, and
leaves nothing running behind."""

from __future__ import annotations

import socket
import sys
import uuid

from tests.executor.harness import config_data, processes_with_env, write_config
from tests.helpers import run_cli


def test_a_port_in_use_is_a_one_line_error(devnet, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = write_config(config_data(devnet, tmp_path, grpc_port=port), tmp_path / "e.yaml")
        result = run_cli("executor", "run", "--config", str(path))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "grpcPort" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_configured_performer_that_cannot_start_is_a_one_line_error(devnet, tmp_path):
    mark = uuid.uuid4().hex
    data = config_data(
        devnet,
        tmp_path,
        command=[sys.executable, "-c", "import sys; sys.exit(7)"],
        envs={"MARK": mark},
    )
    path = write_config(data, tmp_path / "e.yaml")
    result = run_cli("executor", "run", "--config", str(path), timeout=120)
    assert result.returncode == 1
    assert "the configured performer of AVS" in result.stderr
    assert "exited with code 7" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert processes_with_env("MARK", mark) == []
    # The store was closed cleanly: a second start opens it (and fails the same way).
    again = run_cli("executor", "run", "--config", str(path), timeout=120)
    assert again.returncode == 1 and "exited with code 7" in again.stderr
