"""Bad configuration through the real CLI: exit code 2, the key named, no traceback,
and secrets never printed."""

from __future__ import annotations

import pytest

from tests.config.test_loader import AGGREGATOR_README, EXECUTOR_README, KEY
from tests.helpers import run_cli


@pytest.mark.parametrize(
    ("service", "base", "old", "new", "key"),
    [
        ("executor", EXECUTOR_README, "grpcPort: 9090", "grpcPort: [9090]", "grpcPort"),
        ("executor", EXECUTOR_README, 'type: "memory"', 'type: "leveldb"', "storage.type"),
        (
            "aggregator",
            AGGREGATOR_README,
            '  address: "0x' + "11" * 20 + '"\n',
            "",
            "operator.address",
        ),
        (
            "aggregator",
            AGGREGATOR_README,
            "pollIntervalSeconds: 5",
            "pollIntervalSeconds: soon",
            "chains[0].pollIntervalSeconds",
        ),
    ],
)
def test_bad_config_exits_2_naming_the_key(tmp_path, service, base, old, new, key):
    assert old in base
    path = tmp_path / "config.yaml"
    path.write_text(base.replace(old, new, 1))
    result = run_cli(service, "run", "--config", str(path))
    assert result.returncode == 2, result.stderr
    assert key in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_set_option_exits_2(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(EXECUTOR_README)
    result = run_cli("executor", "run", "--config", str(path), "--set", "novalue")
    assert result.returncode == 2
    assert "KEY=VALUE" in result.stderr


def test_bad_environment_variable_exits_2_naming_the_key(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(EXECUTOR_README)
    result = run_cli("executor", "run", "--config", str(path), env={"PONOS_GRPC_PORT": "x"})
    assert result.returncode == 2
    assert "grpcPort" in result.stderr


@pytest.mark.parametrize("service", ["aggregator", "executor"])
def test_secrets_are_never_logged_or_printed(tmp_path, service):
    """Debug logging on, secrets in file and environment: none of them may appear."""
    base = AGGREGATOR_README if service == "aggregator" else EXECUTOR_README
    path = tmp_path / "config.yaml"
    path.write_text(base + "\nunknownSecretishKey: 1\n")
    env_secret = "env-admin-token-value"
    result = run_cli(
        service,
        "run",
        "--config",
        str(path),
        "--debug",
        "--set",
        "storage.type=memory",
        env={"PONOS_OPS__ADMIN_TOKEN": env_secret},
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert "unknownSecretishKey" in output  # proves logging ran at all
    for secret in (KEY, KEY[2:], "pw-secret", env_secret):
        assert secret not in output
