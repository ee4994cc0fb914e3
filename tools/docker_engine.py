"""A project-local Docker engine and offline-built images, for tests and demos.

Developer machines and CI here have the Docker CLI at most, no engine, and no image registry
within reach. As root with apt, this fetches Debian's docker.io, containerd and runc with
`apt-get download`, unpacks them into .tools/docker/ (nothing is installed system-wide) and runs
dockerd with its data, state and socket under .tools/, with no iptables rules on the host, no
IP forwarding and no NAT: containers reach nothing beyond this machine; the default bridge
stays, and ports published on 127.0.0.1 (through Docker's userland proxy) reach the host only.
(iptables is unpacked too, for the rules the embedded DNS server needs inside containers on
user-defined networks, e.g. Docker Compose's.)
Images are built without a single pull:

- `ponos-base:bookworm`: Debian bookworm minbase with python3 (3.11, the project's Python),
  made by debootstrap (itself fetched with `apt-get download`) from the mirror the machine's apt
  sources name, then `docker import`-ed;
- `ponos:dev`: the project's Dockerfile on that base, dependencies installed from `wheelhouse/`
  (wheels downloaded on the host with pip), built with networking off;
- `ponos-hello:dev`: the same image serving the example performer (`ponos performer hello`);
- `ponos-sleeper:busybox`: 2 MB (Debian's static busybox), containers that only sleep, for tests.

Every step is cached: a second `start` reuses the unpacked engine and the running daemon, and
`images` rebuilds only what changed (Docker's layer cache does the rest).

    python tools/docker_engine.py start | stop | status | env | images

The test suite imports this module to get an engine (tests/executor/performers/test_docker.py).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import io
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"
DEBS = TOOLS / "debs"
WHEELHOUSE = ROOT / "wheelhouse"

ENGINE_PACKAGES = ("docker.io", "containerd", "runc")
# iptables, for use INSIDE containers only: the embedded DNS server of user-defined networks
# (Docker Compose's default network, service names) needs two NAT rules in each container's
# network namespace. The daemon still runs with --iptables=false: no rule on the host.
IPTABLES_PACKAGES = (
    "iptables", "libxtables12", "libip4tc2", "libip6tc2", "libnftnl11",
    "libnetfilter-conntrack3", "libnfnetlink0", "libmnl0",
)  # fmt: skip
SUITE = "bookworm"  # its python3 is 3.11, the Python the project targets
PYTHON_VERSION = "3.11"

BASE_IMAGE = f"ponos-base:{SUITE}"
PROJECT_IMAGE = "ponos:dev"
HELLO_IMAGE = "ponos-hello:dev"
SLEEPER_IMAGE = "ponos-sleeper:busybox"
# Imported images carry a hash of how they were made: a changed recipe rebuilds them.
RECIPE_LABEL = "ponos.recipe"
BASE_INCLUDE = ("python3", "python3-venv")
BASE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)
# PID 1 ignores signals it has no handler for: the trap makes `docker stop` immediate.
SLEEPER_CMD = '["/bin/sh", "-c", "trap \'exit 0\' TERM; sleep 1000000 & wait"]'

# Unix socket paths are limited to 108 bytes; containerd puts its sockets ~40 bytes below the
# exec root, so a deep checkout falls back to a short per-checkout directory under /run.
_MAX_EXEC_ROOT = 60
_MAX_SOCKET = 100

Log = Callable[[str], None]


def _say(message: str) -> None:
    print(f"docker_engine: {message}", file=sys.stderr, flush=True)


def _silent(message: str) -> None:
    """A Log that drops progress messages."""


class EngineUnavailable(Exception):
    """This machine cannot run the project-local engine or build its images; says why."""


# -- Debian packages ----------------------------------------------------------------------------


def _require_root_and_apt() -> None:
    if sys.platform != "linux":
        raise EngineUnavailable(f"the project-local Docker engine needs Linux, not {sys.platform}")
    if os.geteuid() != 0:
        raise EngineUnavailable(
            f"the project-local Docker engine needs root (running as uid {os.geteuid()})"
        )
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise EngineUnavailable(
                f"{tool} not found: the project-local engine needs Debian's apt"
            )


def _run(args: list[str], *, cwd: Path | None = None, timeout: float = 600) -> str:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise EngineUnavailable(f"`{' '.join(args)}` failed (exit {done.returncode}): {tail}")
    return done.stdout


def apt_download(packages: Iterable[str], dest: Path = DEBS) -> list[Path]:
    """The .deb of each package (the candidate version), downloaded once into dest."""
    _require_root_and_apt()
    dest.mkdir(parents=True, exist_ok=True)
    wanted = list(packages)
    missing = [p for p in wanted if not list(dest.glob(f"{p}_*.deb"))]
    if missing:
        # Downloading as root into a root-owned folder: apt's _apt sandbox user could not write.
        command = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *missing]
        try:
            _run(command, cwd=dest)
        except EngineUnavailable:
            # A fresh machine may have no package lists yet.
            _run(["apt-get", "update", "-q"])
            _run(command, cwd=dest)
    found = []
    for name in wanted:
        debs = sorted(dest.glob(f"{name}_*.deb"))
        if not debs:
            raise EngineUnavailable(f"apt-get download {name} produced no .deb in {dest}")
        found.append(debs[-1])
    return found


def extract_debs(debs: list[Path], dest: Path) -> Path:
    """Unpack the packages into dest (like `dpkg -x`), once per set of .deb files."""
    stamp = dest / ".extracted"
    signature = "\n".join(sorted(d.name for d in debs))
    if stamp.is_file() and stamp.read_text() == signature:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for deb in debs:
        _run(["dpkg-deb", "-x", str(deb), str(dest)])
    stamp.write_text(signature)
    return dest


# -- the engine ---------------------------------------------------------------------------------


def ping(docker_host: str, timeout: float = 2.0) -> bool:
    """True when a Docker engine answers /_ping at docker_host (unix:// or tcp://)."""
    try:
        if docker_host.startswith("unix://"):
            conn: http.client.HTTPConnection = _UnixHTTPConnection(
                docker_host[len("unix://") :], timeout
            )
        elif docker_host.startswith(("tcp://", "http://")):
            hostport = docker_host.split("://", 1)[1].rstrip("/")
            conn = http.client.HTTPConnection(hostport, timeout=timeout)
        else:
            return False
        try:
            conn.request("GET", "/_ping")
            return conn.getresponse().status == 200
        finally:
            conn.close()
    except OSError:
        return False


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _process_alive(pid: int) -> bool:
    """False once pid has exited; reaps it when this process started it (e.g. a test run)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


@dataclass(frozen=True)
class LocalEngine:
    """dockerd from Debian's packages, everything under `home` (default .tools/docker)."""

    home: Path = TOOLS / "docker"

    @property
    def packages(self) -> Path:
        return self.home / "root"

    @property
    def data_root(self) -> Path:
        return self.home / "data"

    @property
    def _short_dir(self) -> Path:
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:10]
        return Path("/run") / f"ponos-docker-{digest}"

    @property
    def exec_root(self) -> Path:
        exec_root = self.home / "run"
        return exec_root if len(str(exec_root)) <= _MAX_EXEC_ROOT else self._short_dir / "run"

    @property
    def socket_path(self) -> Path:
        sock = self.home / "docker.sock"
        return sock if len(str(sock)) <= _MAX_SOCKET else self._short_dir / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pidfile(self) -> Path:
        return self.home / "dockerd.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "dockerd.log"

    def is_running(self) -> bool:
        return ping(self.docker_host)

    def _binaries_path(self) -> str:
        dirs = [self.packages / "usr" / "sbin", self.packages / "usr" / "bin"]
        return os.pathsep.join([*map(str, dirs), os.environ.get("PATH", "/usr/bin:/bin")])

    def _environment(self) -> dict[str, str]:
        """dockerd's environment: the unpacked binaries first, and the unpacked iptables's
        libraries and extensions (Debian's multiarch library folder)."""
        env = {**os.environ, "PATH": self._binaries_path()}
        env.pop("DOCKER_HOST", None)
        libs = sorted((self.packages / "usr" / "lib").glob("*-linux-gnu*"))
        if libs:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(
                [str(libs[0]), *filter(None, [os.environ.get("LD_LIBRARY_PATH")])]
            )
            env["XTABLES_LIBDIR"] = str(libs[0] / "xtables")
        return env

    def install(self, log: Log = _say) -> Path:
        """Download and unpack docker.io, containerd, runc and iptables (cached)."""
        debs = apt_download(ENGINE_PACKAGES + IPTABLES_PACKAGES)
        if not (self.packages / ".extracted").is_file():
            log(f"unpacking {', '.join(d.name for d in debs)} into {self.packages}")
        root = extract_debs(debs, self.packages)
        # Debian's postinst picks the iptables backend with update-alternatives; nftables is
        # its default (and needs no legacy ip_tables module).
        sbin = root / "usr" / "sbin"
        for name in ("iptables", "ip6tables"):
            if not (sbin / name).exists():
                (sbin / name).symlink_to("xtables-nft-multi")
        return root

    def start(self, timeout: float = 60.0, log: Log = _say) -> bool:
        """Start dockerd unless it already answers; True when this call started it."""
        if self.is_running():
            if self._iptables_unpacked() or self._our_pid() is None:
                return False
            # Ours, but started before iptables was part of the engine: containers on
            # user-defined networks would get no DNS. Restarted once, left running as found.
            log("restarting dockerd: it was started without iptables (compose networks)")
            self.stop(log=log)
            self.start(timeout=timeout, log=log)
            return False
        self.install(log)
        self._stop_stale()
        for directory in (self.data_root, self.exec_root, self.socket_path.parent):
            directory.mkdir(parents=True, exist_ok=True)
        config = self.home / "daemon.json"
        config.write_text("{}\n")  # never read the machine's /etc/docker/daemon.json
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        command = [
            str(self.packages / "usr" / "sbin" / "dockerd"),
            "--config-file", str(config),
            "--data-root", str(self.data_root),
            "--exec-root", str(self.exec_root),
            "--pidfile", str(self.pidfile),
            "-H", self.docker_host,
            # No iptables rules, no forwarding, no NAT: nothing leaves this machine. The
            # default bridge stays, so performers can publish ports as on any engine.
            "--iptables=false", "--ip-forward=false", "--ip-masq=false",
        ]  # fmt: skip
        env = self._environment()
        log(f"starting dockerd on {self.docker_host} (log: {self.log_file})")
        with open(self.log_file, "ab") as out:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # outlives the test run or make target that started it
            )
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if process.poll() is not None:
                raise EngineUnavailable(
                    f"dockerd exited with code {process.returncode}: {self._log_tail()}"
                )
            if time.monotonic() > deadline:
                process.terminate()
                raise EngineUnavailable(
                    f"dockerd did not answer within {timeout:.0f}s: {self._log_tail()}"
                )
            time.sleep(0.1)
        return True

    def _iptables_unpacked(self) -> bool:
        return (self.packages / "usr" / "sbin" / "iptables").exists()

    def _log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _our_pid(self) -> int | None:
        """The pid in the pidfile, if it is still a dockerd using our data root."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        if cmdline and cmdline[0].endswith(b"dockerd") and str(self.data_root).encode() in cmdline:
            return pid
        return None

    def _stop_stale(self) -> None:
        """A dockerd of ours that does not answer (half started, wedged) is stopped first."""
        if self._our_pid() is not None:
            self.stop()

    def stop(self, timeout: float = 30.0, log: Log = _say) -> bool:
        """Stop our dockerd (it stops its containers and containerd); True if one was running."""
        pid = self._our_pid()
        if pid is None:
            return False
        log(f"stopping dockerd (pid {pid})")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _process_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        # dockerd can leave network namespaces bind-mounted under its exec root; unmount
        # them, or the checkout cannot be deleted ("Device or resource busy").
        for namespace in sorted((self.exec_root / "netns").glob("*")):
            subprocess.run(["umount", str(namespace)], capture_output=True, check=False)
        return True


# -- images -------------------------------------------------------------------------------------


def docker_client(docker_host: str, timeout: float = 600) -> Any:
    import docker  # the SDK: installed with the dev dependencies (testcontainers)

    return docker.DockerClient(base_url=docker_host, timeout=timeout)


def _image_exists(client: Any, ref: str, recipe: str | None = None) -> bool:
    """ref is present (and, given a recipe, was built from that recipe)."""
    import docker

    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return recipe is None or (image.labels or {}).get(RECIPE_LABEL) == recipe


def _recipe(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def debian_mirror(suite: str = SUITE) -> str:
    """The first Debian mirror the machine's apt sources use for `suite` (main)."""
    apt = Path("/etc/apt")
    candidates: list[Path] = [apt / "sources.list"]
    candidates += sorted((apt / "sources.list.d").glob("*.list"))
    candidates += sorted((apt / "sources.list.d").glob("*.sources"))
    for path in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    key, sep, value = line.partition(":")
                    if sep and not line.startswith((" ", "#")):
                        fields[key.strip().lower()] = value.strip()
                if (
                    "deb" in fields.get("types", "").split()
                    and suite in fields.get("suites", "").split()
                    and "main" in fields.get("components", "").split()
                ):
                    return fields["uris"].split()[0]
        else:
            for line in text.splitlines():
                parts = line.split("#", 1)[0].split()
                if parts and parts[0] == "deb":
                    rest = [p for p in parts[1:] if not p.startswith("[")]
                    if len(rest) >= 3 and rest[1] == suite and "main" in rest[2:]:
                        return rest[0]
    raise EngineUnavailable(
        f"no apt source for Debian {suite} main in /etc/apt: the base image is built from it"
    )


def build_base_image(client: Any, tag: str = BASE_IMAGE, log: Log = _say) -> str:
    """Debian minbase + python3 from debootstrap, imported as `tag` (skipped when present)."""
    recipe = _recipe(SUITE, BASE_INCLUDE, BASE_CHANGES)
    if _image_exists(client, tag, recipe):
        return tag
    _require_root_and_apt()
    mirror = debian_mirror()
    tool = extract_debs(apt_download(["debootstrap"]), TOOLS / "debootstrap")
    work = TOOLS / "tmp" / "base"
    if work.exists():
        shutil.rmtree(work)
    rootfs = work / "rootfs"
    rootfs.mkdir(parents=True)
    keyring = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
    command = [
        str(tool / "usr" / "sbin" / "debootstrap"),
        "--variant=minbase",
        f"--include={','.join(BASE_INCLUDE)}",
        *([f"--keyring={keyring}"] if keyring.is_file() else []),
        SUITE,
        str(rootfs),
        mirror,
    ]
    log(f"debootstrap {SUITE} (minbase + python3) into {rootfs}: about a minute")
    env = {**os.environ, "DEBOOTSTRAP_DIR": str(tool / "usr" / "share" / "debootstrap")}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
        raise EngineUnavailable(f"debootstrap failed (exit {done.returncode}): {tail}")
    for junk in ("usr/share/doc", "usr/share/man", "usr/share/info", "var/cache/apt/archives",
                 "var/lib/apt/lists"):  # fmt: skip
        shutil.rmtree(rootfs / junk, ignore_errors=True)
    archive = work / "rootfs.tar"
    _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(archive), "."])
    repository, _, version = tag.partition(":")
    log(f"importing {archive} as {tag}")
    client.api.import_image_from_file(
        str(archive),
        repository=repository,
        tag=version or "latest",
        changes=[*BASE_CHANGES, f"LABEL {RECIPE_LABEL}={recipe}"],
    )
    shutil.rmtree(work, ignore_errors=True)
    if not _image_exists(client, tag, recipe):
        raise EngineUnavailable(f"docker import did not produce {tag}")
    return tag


def _requirements() -> list[str]:
    """Runtime dependencies and build requirements from pyproject.toml."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [*data["build-system"]["requires"], *data["project"]["dependencies"]]


def _pip_platforms() -> list[str]:
    arch = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
    # Debian bookworm has glibc 2.36: any manylinux wheel up to that runs in the base image.
    return [f"manylinux_2_{minor}_{arch}" for minor in range(36, 16, -1)] + [
        f"manylinux2014_{arch}"
    ]


def build_wheelhouse(dest: Path = WHEELHOUSE, log: Log = _say) -> Path:
    """Wheels for Python 3.11 on Linux of every dependency, for the offline image build."""
    requirements = _requirements()
    platforms = _pip_platforms()
    signature = json.dumps({"requirements": requirements, "platforms": platforms}, indent=1)
    stamp = dest / ".stamp"
    if stamp.is_file() and stamp.read_text() == signature:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.whl"):
        old.unlink()
    log(f"downloading wheels for Python {PYTHON_VERSION} into {dest}")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--dest", str(dest), "--only-binary=:all:",
        "--python-version", PYTHON_VERSION, "--implementation", "cp",
        *[arg for p in platforms for arg in ("--platform", p)],
        *requirements,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise EngineUnavailable(f"pip download for the wheelhouse failed: {tail}")
    stamp.write_text(signature)
    return dest


def _stream_build(lines: Iterable[dict[str, Any]], what: str, log: Log | None) -> None:
    output: list[str] = []
    for chunk in lines:
        if "error" in chunk:
            tail = "".join(output[-15:])
            raise RuntimeError(f"building {what} failed: {chunk['error'].strip()}\n{tail}")
        text = chunk.get("stream", "")
        if text:
            output.append(text)
            if log is not None and text.startswith("Step "):
                log(f"{what}: {text.strip()}")


def build_project_image(
    client: Any, base: str = BASE_IMAGE, tag: str = PROJECT_IMAGE, log: Log | None = _say
) -> str:
    """The project's Dockerfile on `base`, installing only from the wheelhouse, offline."""
    build_wheelhouse(log=log or _silent)
    lines = client.api.build(
        path=str(ROOT),
        tag=tag,
        buildargs={"BASE_IMAGE": base, "PONOS_PIP_OFFLINE": "1"},
        network_mode="none",  # proves the build needs no network at all
        rm=True,
        forcerm=True,
        decode=True,
    )
    _stream_build(lines, tag, log)
    return tag


def build_hello_image(
    client: Any, project: str = PROJECT_IMAGE, tag: str = HELLO_IMAGE, log: Log | None = _say
) -> str:
    """The project image serving the example performer: an AVS performer image."""
    dockerfile = f'FROM {project}\nCMD ["performer", "hello"]\n'
    lines = client.api.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True, decode=True
    )
    _stream_build(lines, tag, log)
    return tag


def build_sleeper_image(client: Any, tag: str = SLEEPER_IMAGE, log: Log = _say) -> str:
    """A 2 MB image (Debian's static busybox) whose containers just sleep: for tests that need
    a running container but no performer, and a digest reference that is cheap to push."""
    recipe = _recipe("busybox", SLEEPER_CMD)
    if _image_exists(client, tag, recipe):
        return tag
    tool = extract_debs(apt_download(["busybox-static"]), TOOLS / "busybox")
    busybox = (tool / "bin" / "busybox").read_bytes()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for directory in ("bin", "tmp"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(busybox), 0o755
        tar.addfile(info, io.BytesIO(busybox))
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
    repository, _, version = tag.partition(":")
    log(f"importing {tag} (busybox)")
    client.api.import_image_from_data(
        archive.getvalue(),
        repository=repository,
        tag=version or "latest",
        changes=[f"CMD {SLEEPER_CMD}", f"LABEL {RECIPE_LABEL}={recipe}"],
    )
    return tag


@dataclass(frozen=True)
class Images:
    base: str
    project: str
    hello: str
    sleeper: str


def build_images(docker_host: str, log: Log | None = _say) -> Images:
    """Every image, built offline against the engine at docker_host (cached)."""
    client = docker_client(docker_host)
    try:
        base = build_base_image(client, log=log or _silent)
        project = build_project_image(client, base=base, log=log)
        hello = build_hello_image(client, project=project, log=log)
        sleeper = build_sleeper_image(client, log=log or _silent)
    finally:
        client.close()
    return Images(base=base, project=project, hello=hello, sleeper=sleeper)


# -- a registry, for digest references ----------------------------------------------------------


class LocalRegistry:
    """Debian's docker-registry (the reference `distribution` server) on 127.0.0.1.

    Images built locally have no repository digest; pushing one here gives it
    `127.0.0.1:PORT/NAME@sha256:...`, which then names the image locally even after the
    registry is gone (so tests can prove a digest reference is not pulled again).
    """

    def __init__(self, storage: Path) -> None:
        self.storage = storage
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> LocalRegistry:
        tool = extract_debs(apt_download(["docker-registry"]), TOOLS / "registry")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.storage.mkdir(parents=True, exist_ok=True)
        config = self.storage / "config.yml"
        config.write_text(
            json.dumps(  # JSON is YAML
                {
                    "version": 0.1,
                    "log": {"level": "warn"},
                    "storage": {"filesystem": {"rootdirectory": str(self.storage / "data")}},
                    "http": {"addr": self.address},
                }
            )
        )
        self._process = subprocess.Popen(
            [str(tool / "usr" / "bin" / "docker-registry"), "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EngineUnavailable(f"docker-registry did not start on {self.address}")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection(self.address, timeout=1)
            conn.request("GET", "/v2/")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        shutil.rmtree(self.storage, ignore_errors=True)

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def digest_reference(docker_host: str, image: str, log: Log | None = _say) -> str:
    """A `repo@sha256:...` reference that names `image` in the engine's local store.

    Reuses one the image already has; otherwise pushes it once to a throw-away local registry.
    """
    client = docker_client(docker_host)
    try:
        digests = client.images.get(image).attrs.get("RepoDigests") or []
        if digests:
            return digests[0]
        with LocalRegistry(TOOLS / "tmp" / "registry") as registry:
            name = image.split(":", 1)[0]
            repository = f"{registry.address}/{name}"
            if log is not None:
                log(f"pushing {image} to {repository} for a digest reference")
            client.images.get(image).tag(repository, "digest")
            for chunk in client.images.push(repository, "digest", stream=True, decode=True):
                if "error" in chunk:
                    raise RuntimeError(f"pushing {image} failed: {chunk['error']}")
        digests = client.images.get(image).attrs.get("RepoDigests") or []
        if not digests:
            raise RuntimeError(f"pushing {image} gave it no repository digest")
        return digests[0]
    finally:
        client.close()


# -- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/docker_engine.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("action", choices=["start", "stop", "status", "env", "images"])
    args = parser.parse_args(argv)
    engine = LocalEngine()
    try:
        if args.action == "start":
            started = engine.start()
            _say(
                ("started" if started else "already running")
                + f": DOCKER_HOST={engine.docker_host}"
            )
            print(f"export DOCKER_HOST={engine.docker_host}")
        elif args.action == "stop":
            if not engine.stop():
                _say("not running")
        elif args.action == "status":
            running = engine.is_running()
            print(f"{'running' if running else 'stopped'}: DOCKER_HOST={engine.docker_host}")
            return 0 if running else 1
        elif args.action == "env":
            print(f"export DOCKER_HOST={engine.docker_host}")
        else:
            docker_host = os.environ.get("DOCKER_HOST") or engine.docker_host
            if docker_host == engine.docker_host:
                engine.start()
            images = build_images(docker_host)
            built = ", ".join((images.base, images.project, images.hello, images.sleeper))
            _say(f"built {built} on {docker_host}")
    except (EngineUnavailable, RuntimeError) as exc:
        print(f"docker_engine: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
