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


def test_the_go_readme_executor_example_fails_naming_each_missing_prerequisite(tmp_path):
    """The Ponos README's executor config, as written: its BLS keystore is a placeholder, so
    that is named first; with a real keystore the next prerequisite, the Docker engine its
    docker performer needs, is named. One line each, no traceback."""
    from tests.config.test_loader import EXECUTOR_README

    config = tmp_path / "executor.yaml"
    config.write_text(EXECUTOR_README)
    env = {"EXECUTOR_LOG_LEVEL": "debug", "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    flags = ("--grpc-port", "0", "--ops-port", "0")
    as_written = run_cli("executor", "run", "--config", str(config), *flags, env=env)
    assert as_written.returncode == 1
    assert "signingKeys.bls.keystore is not an EIP-2335 keystore" in as_written.stderr

    (tmp_path / "pw").write_text("pw-secret\n")
    generated = run_cli(
        "keys",
        "generate",
        "--curve",
        "bn254",
        "--out",
        str(tmp_path / "keys"),
        "--password-file",
        str(tmp_path / "pw"),
    )
    assert generated.returncode == 0, generated.stderr
    keystore = next((tmp_path / "keys").glob("bn254-*.json"))
    config.write_text(EXECUTOR_README.replace('keystore: "{}"', f'keystoreFile: "{keystore}"'))
    with_keys = run_cli("executor", "run", "--config", str(config), *flags, env=env)
    assert with_keys.returncode == 1
    assert "the configured performer of AVS" in with_keys.stderr
    assert "no Docker engine reachable" in with_keys.stderr and "no-docker.sock" in with_keys.stderr
    for result in (as_written, with_keys):
        assert "Traceback" not in result.stderr + result.stdout
        assert "pw-secret" not in result.stderr + result.stdout
        assert len(result.stderr.strip().splitlines()) == 1
