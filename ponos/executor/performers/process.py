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
import os
import shutil
import signal
from pathlib import Path

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


class ProcessRuntime(PerformerRuntime):
    kind = "process"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._process: asyncio.subprocess.Process | None = None
        self._pid: int | None = None
        self._start_time: str | None = None

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
        with open(self.log_path, "ab") as log_file:  # noqa: ASYNC230 - a µs append-open
            try:
                self._process = await asyncio.create_subprocess_exec(
                    *command,
                    env=self._environment(port),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise DeploymentFailed(
                    f"cannot start performer {executable}: {exc.strerror}"
                ) from None
        self._pid = self._process.pid
        self._start_time = _proc_start_time(self._pid)
        self.resource_id = f"{self._pid}:{self._start_time}"
        self.endpoint = f"127.0.0.1:{port}"
        logger.info(
            "Started process performer",
            performer_id=self.performer_id,
            pid=self._pid,
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
        if _proc_cmdline(pid) != list(self.spec.command):
            return False
        self._pid, self._start_time = pid, start_time
        self.resource_id = resource_id
        self.endpoint = endpoint
        return True

    async def is_alive(self) -> bool:
        if self._pid is None:
            return False
        if self._process is not None and self._process.returncode is not None:
            return False
        return _proc_start_time(self._pid) == self._start_time

    @property
    def exit_code(self) -> int | None:
        return self._process.returncode if self._process is not None else None

    async def stop(self, timeout: float = 10.0) -> None:
        pid = self._pid
        if pid is None:
            return
        # The child leads its own process group: signal the group so helpers it spawned stop too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if _proc_start_time(pid) == self._start_time:
                os.killpg(pid, signal.SIGTERM)
        if not await self._wait_gone(timeout):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            await self._wait_gone(5.0)
        self._pid = None
        self._process = None

    async def _wait_gone(self, timeout: float) -> bool:
        if self._process is not None:
            try:
                await asyncio.wait_for(self._process.wait(), timeout)
                return True
            except TimeoutError:
                return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self._pid is None or _proc_start_time(self._pid) != self._start_time:
                return True
            await asyncio.sleep(0.05)
        return False

    def describe_failure(self) -> str:
        code = self.exit_code
        exited = f"exited with code {code}; " if code is not None else ""
        return f"{exited}see {self.log_path}"
