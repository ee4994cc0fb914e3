"""Process performers: a local command the executor starts, with its port in the environment.

The child runs in its own session so that it survives an executor crash; a restarted
executor re-adopts it by pid, after checking the pid still names the same process (start time
and command line from /proc), so a recycled pid is never mistaken for the performer. Output goes
to a per-performer log file rather than a pipe: a pipe would break when the executor dies.
The child gets a minimal environment, not the executor's, so the executor's secrets (keystore
passwords, tokens) never reach performer code.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
from pathlib import Path
from typing import Any

from ponos import log
from ponos.devnet.anvil import free_port
from ponos.executor.performers.base import PerformerRuntime
from ponos.executor.performers.errors import DeploymentFailed

logger = log.get_logger(__name__)

_PASS_THROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")


def _proc_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks), None when gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields restart after the last ')'.
    rest = raw[raw.rfind(")") + 2 :].split()
    if not rest or rest[0] == "Z":
        return None
    return rest[19]


def _proc_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _inherited_fds() -> list[int]:
    """Descriptors above stderr without close-on-exec: a spawned performer would inherit
    them (a listening socket held by a performer would block the executor's restart)."""
    found = []
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for name in names:
        fd = int(name)
        if fd <= 2:
            continue
        try:
            if not fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                found.append(fd)
        except OSError:
            continue  # the directory listing's own descriptor, already closed
    return found


def spawn(command: list[str], env: dict[str, str], log_path: Path) -> int:
    """Start `command` in a new session with stdin from /dev/null and stdout+stderr appended
    to `log_path`; returns its pid.

    posix_spawn, not fork: with uvloop, asyncio's subprocesses fork the executor, and a
    fork of a process running gRPC's threads runs gRPC's fork handlers in the child, which
    crash it now and then (SIGSEGV before exec, measured at ~8% of spawns under load).
    glibc's posix_spawn runs no fork handlers."""
    actions: list[tuple[Any, ...]] = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_fds()]
    return os.posix_spawnp(command[0], command, env, file_actions=actions, setsid=True)


class ProcessRuntime(PerformerRuntime):
    kind = "process"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pid: int | None = None
        self._start_time: str | None = None
        self._child = False  # spawned by this executor process (so we reap it)
        self._exit_code: int | None = None

    @property
    def log_path(self) -> Path:
        return self.context.log_dir / f"{self.performer_id}.log"

    def _environment(self, port: int) -> dict[str, str]:
        env = {k: self.context.environ[k] for k in _PASS_THROUGH_ENV if k in self.context.environ}
        env.update(self.spec.resolved_env(self.context.environ))
        env.update(
            PERFORMER_PORT=str(port),
            PORT=str(port),
            GRPC_PORT=str(port),
            AVS_ADDRESS=self.spec.avs_address,
            PERFORMER_ID=self.performer_id,
        )
        return env

    async def start(self) -> None:
        command = list(self.spec.command)
        if not command:
            raise DeploymentFailed("process performer has no command")
        executable = command[0]
        if shutil.which(executable) is None and not os.access(executable, os.X_OK):
            raise DeploymentFailed(f"performer command not found or not executable: {executable}")
        port = free_port()
        self.context.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            pid = spawn(command, self._environment(port), self.log_path)
        except OSError as exc:
            raise DeploymentFailed(f"cannot start performer {executable}: {exc.strerror}") from None
        self._pid, self._child, self._exit_code = pid, True, None
        self._start_time = _proc_start_time(pid)
        self.resource_id = f"{pid}:{self._start_time}"
        self.endpoint = f"127.0.0.1:{port}"
        logger.info(
            "Started process performer",
            performer_id=self.performer_id,
            pid=pid,
            endpoint=self.endpoint,
            log_file=str(self.log_path),
        )

    async def adopt(self, resource_id: str, endpoint: str) -> bool:
        pid_text, _, start_time = resource_id.partition(":")
        try:
            pid = int(pid_text)
        except ValueError:
            return False
        if not start_time or _proc_start_time(pid) != start_time:
            return False
        cmdline = _proc_cmdline(pid)
        for _ in range(20):  # empty for a moment while a just-spawned process execs
            if cmdline:
                break
            await asyncio.sleep(0.01)
            cmdline = _proc_cmdline(pid)
        if cmdline != list(self.spec.command):
            return False
        self._pid, self._start_time, self._child = pid, start_time, False
        self.resource_id = resource_id
        self.endpoint = endpoint
        return True

    def _reap(self) -> None:
        """Collect our child's exit status (no zombies); adopted processes are not ours."""
        if not self._child or self._pid is None or self._exit_code is not None:
            return
        try:
            pid, status = os.waitpid(self._pid, os.WNOHANG)
        except ChildProcessError:
            self._child = False
            return
        if pid:
            self._exit_code = os.waitstatus_to_exitcode(status)

    async def is_alive(self) -> bool:
        if self._pid is None:
            return False
        self._reap()
        if self._exit_code is not None:
            return False
        return _proc_start_time(self._pid) == self._start_time

    @property
    def exit_code(self) -> int | None:
        self._reap()
        return self._exit_code

    async def stop(self, timeout: float = 10.0) -> None:
        pid = self._pid
        if pid is None:
            return
        # The child leads its own process group: signal the group so helpers it spawned stop too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if await self.is_alive():
                os.killpg(pid, signal.SIGTERM)
        if not await self._wait_gone(timeout):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            await self._wait_gone(5.0)
        self._pid = None

    async def _wait_gone(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not await self.is_alive():
                return True
            await asyncio.sleep(0.02)
        return not await self.is_alive()

    def describe_failure(self) -> str:
        code = self.exit_code
        exited = f"exited with code {code}; " if code is not None else ""
        return f"{exited}see {self.log_path}"
