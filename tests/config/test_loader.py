"""Config loading: the Go original's files load as written, overrides apply in order,
bad input gets one clear error naming the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ponos.config import AggregatorConfig, ExecutorConfig, load_config
from ponos.errors import ConfigError

A1 = "0x" + "11" * 20
A2 = "0x" + "22" * 20
A3 = "0x" + "33" * 20
A4 = "0x" + "44" * 20
KEY = "0x" + "ab" * 32

# The Ponos README's examples (../shared/reference/ponos-config-examples.md) with the
# placeholders filled in, comments and all.
AGGREGATOR_README = f"""
debug: false
l1ChainId: 31337
operator:
  address: "{A1}"
  operatorPrivateKey:
    privateKey: "{KEY}"  # or use remoteSigner
  signingKeys:
    bls:
      keystore: "{{}}"  # or keystoreFile
      password: "pw-secret"
chains:
  - name: "L1"
    version: "1.0"
    chainId: 31337
    rpcUrl: "http://localhost:8545"
    pollIntervalSeconds: 5
  - name: "L2"
    version: "1.0"
    chainId: 31338
    rpcUrl: "http://localhost:8546"
    pollIntervalSeconds: 5
avss:
  - address: "{A2}"
    chainIds: [31337, 31338]
    avsRegistrarAddress: "{A3}"
storage:
  type: "memory"  # Options: "memory" or "badger"
  badger:
    dir: "/var/lib/ponos/aggregator/badger"
    # valueLogFileSize: 1073741824
overrideContracts:
  taskMailbox:
    contract: "{A4}"
    chainIds: [31337]
"""

EXECUTOR_README = f"""
debug: false
grpcPort: 9090
performerNetworkName: "hourglass-network"
operator:
  address: "{A1}"
  operatorPrivateKey:
    privateKey: "{KEY}"
  signingKeys:
    bls:
      keystore: "{{}}"
      password: "pw-secret"
l1Chain:
  rpcUrl: "http://localhost:8545"
  chainId: 31337
avsPerformers:
  - image:
      repository: "my-avs-performer"
      tag: "latest"
    processType: "docker"      # the Go code actually requires "server" here
    avsAddress: "{A2}"
    avsRegistrarAddress: "{A3}"
    envs:
      - name: "AVS_CONFIG"
        value: "production"
      - name: "LOG_LEVEL"
        valueFromEnv: "EXECUTOR_LOG_LEVEL"
storage:
  type: "memory"  # Options: "memory" or "badger"
  badger:
    dir: "/var/lib/ponos/executor/badger"
overrideContracts:
  taskMailbox:
    contract: "{A4}"
    chainIds: [31337]
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("PONOS_"):
            monkeypatch.delenv(key)


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_go_readme_aggregator_config_loads_as_written(tmp_path):
    config, warnings = load_config(AggregatorConfig, write(tmp_path, AGGREGATOR_README))
    assert config.l1_chain_id == 31337
    assert [c.chain_id for c in config.chains] == [31337, 31338]
    assert config.chains[1].poll_interval_seconds == 5
    assert config.avss[0].address == A2 and config.avss[0].chain_ids == [31337, 31338]
    assert config.storage.type == "memory"
    assert config.contract_address("TaskMailbox", 31337) == A4
    assert config.contract_address("TaskMailbox", 31338) is None
    assert config.operator.operator_private_key.private_key.get_secret_value() == KEY
    assert warnings == []


def test_go_readme_executor_config_loads_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("EXECUTOR_LOG_LEVEL", "debug")
    config, _ = load_config(ExecutorConfig, write(tmp_path, EXECUTOR_README))
    assert config.grpc_port == 9090
    performer = config.avs_performers[0]
    assert performer.runtime == "docker"
    assert performer.image.repository == "my-avs-performer"
    assert [e.resolve() for e in performer.envs] == ["production", "debug"]
    assert config.performer_for(A2.upper().replace("0X", "0x")) is performer


def test_same_config_loads_from_json(tmp_path):
    import json

    import yaml

    data = yaml.safe_load(AGGREGATOR_README)
    path = tmp_path / "aggregator.json"
    path.write_text(json.dumps(data))
    config, _ = load_config(AggregatorConfig, path)
    assert config.chains[0].rpc_url == "http://localhost:8545"


def test_badger_storage_is_an_alias_of_rocksdb_with_a_warning(tmp_path):
    text = AGGREGATOR_README.replace('type: "memory"', 'type: "badger"')
    config, warnings = load_config(AggregatorConfig, write(tmp_path, text))
    assert config.storage.type == "rocksdb"
    assert config.storage.rocksdb.dir == "/var/lib/ponos/aggregator/badger"
    assert any("alias" in w and "badger" in w for w in warnings)


def test_defaults_need_no_editing(tmp_path):
    text = AGGREGATOR_README.replace('type: "memory"', "").replace(
        'badger:\n    dir: "/var/lib/ponos/aggregator/badger"', ""
    )
    config, _ = load_config(AggregatorConfig, write(tmp_path, text))
    assert config.storage.type == "rocksdb"
    assert config.storage.rocksdb.dir == "data/aggregator"
    assert config.storage.rocksdb.sync_writes is True
    assert config.storage.rocksdb.gc_interval == 300
    assert config.ops.port == 8080 and config.ops.host == "127.0.0.1"
    assert config.logging.format == "json"


def test_environment_overrides_file_and_flags_override_environment(tmp_path, monkeypatch):
    path = write(tmp_path, EXECUTOR_README)
    monkeypatch.setenv("PONOS_GRPC_PORT", "9191")
    monkeypatch.setenv("PONOS_STORAGE__ROCKSDB__SYNC_WRITES", "false")
    monkeypatch.setenv("PONOS_STORAGE__ROCKSDB__GCINTERVAL", "1m")
    config, _ = load_config(ExecutorConfig, path)
    assert config.grpc_port == 9191
    assert config.storage.rocksdb.sync_writes is False
    assert config.storage.rocksdb.gc_interval == 60
    config, _ = load_config(ExecutorConfig, path, {"grpc_port": 7000})
    assert config.grpc_port == 7000


@pytest.mark.parametrize(
    ("mutation", "key"),
    [
        (("grpcPort: 9090", "grpcPort: nine"), "grpcPort"),
        (('type: "memory"', 'type: "mysql"'), "storage.type"),
        ((f'  address: "{A1}"\n', ""), "operator.address"),
        ((f'  address: "{A1}"', f'  address: "{A1}\\n"'), "operator.address"),
        (("chainId: 31337\navsPerformers", "chainId: [1]\navsPerformers"), "l1Chain.chainId"),
        (('tag: "latest"', 'tag: "latest"\n    deploymentMode: "kubernetes"'), "avsPerformers[0]"),
    ],
)
def test_bad_executor_config_names_the_key(tmp_path, mutation, key):
    old, new = mutation
    assert old in EXECUTOR_README
    with pytest.raises(ConfigError) as info:
        load_config(ExecutorConfig, write(tmp_path, EXECUTOR_README.replace(old, new, 1)))
    assert key in str(info.value)
    assert info.value.exit_code == 2


def test_error_lists_every_problem_and_hides_secret_values(tmp_path):
    text = EXECUTOR_README.replace(f'privateKey: "{KEY}"', "privateKey: [1, 2]").replace(
        "grpcPort: 9090", "grpcPort: -1"
    )
    with pytest.raises(ConfigError) as info:
        load_config(ExecutorConfig, write(tmp_path, text))
    message = str(info.value)
    assert "grpcPort" in message and "operator.operatorPrivateKey.privateKey" in message
    assert "pw-secret" not in message and KEY not in message


def test_unknown_keys_are_warned_not_fatal(tmp_path):
    config, warnings = load_config(
        AggregatorConfig, write(tmp_path, AGGREGATOR_README + "\nfrobnicate: 1\n")
    )
    assert config.l1_chain_id == 31337
    assert warnings == ["Ignoring unknown config key frobnicate"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("chains: [\n", "invalid YAML at line"),
        ("- just\n- a list\n", "top level must be a mapping"),
    ],
)
def test_unparseable_file_is_a_config_error(tmp_path, content, reason):
    with pytest.raises(ConfigError) as info:
        load_config(AggregatorConfig, write(tmp_path, content))
    assert reason in str(info.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(AggregatorConfig, tmp_path / "nope.yaml")


def test_cross_checks_name_the_keys(tmp_path):
    text = AGGREGATOR_README.replace("chainIds: [31337, 31338]", "chainIds: [31337, 5]")
    with pytest.raises(ConfigError, match=r"avss\[0\]\.chainIds: chain 5 is not configured"):
        load_config(AggregatorConfig, write(tmp_path, text))
    text = AGGREGATOR_README.replace("l1ChainId: 31337", "l1ChainId: 1")
    with pytest.raises(ConfigError, match="l1ChainId 1 is not one of"):
        load_config(AggregatorConfig, write(tmp_path, text))


def test_durations_accept_go_style_strings(tmp_path):
    text = AGGREGATOR_README.replace(
        'type: "memory"', 'type: "memory"\n  snapshots:\n    interval: 24h\n    maxAge: 1h30m'
    )
    config, _ = load_config(AggregatorConfig, write(tmp_path, text))
    assert config.storage.snapshots.interval == 86400
    assert config.storage.snapshots.max_age == 5400


def test_a_file_source_answers_per_field_as_it_does_whole():
    from ponos.config.loader import _StaticSource

    source = _StaticSource(ExecutorConfig, {"grpcPort": 7001})
    field = ExecutorConfig.model_fields["grpc_port"]
    assert source() == {"grpc_port": 7001}
    assert source.get_field_value(field, "grpc_port") == (7001, "grpc_port", False)
