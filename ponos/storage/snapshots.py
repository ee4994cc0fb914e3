"""Online snapshots: RocksDB checkpoints (hard links, same filesystem) taken while the
service keeps writing, verified by opening the copy read-only in a child process, described
by a manifest beside them, pruned by count and age, and restorable into a data directory.

Layout: `<snapshotDir>/<UTC id>/` (the checkpoint) and `<snapshotDir>/<UTC id>.manifest.json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ponos.errors import PonosError
from ponos.log import get_logger
from ponos.storage import fs
from ponos.storage.engine import Engine
from ponos.storage.errors import (
    DatabaseLocked,
    RestoreRefused,
    SnapshotError,
    SnapshotInProgress,
    SnapshotsUnsupported,
)
from ponos.storage.schema import SCHEMA_VERSION

log = get_logger(__name__)

MANIFEST_SUFFIX = ".manifest.json"
PARTIAL_PREFIX = ".partial-"


@dataclasses.dataclass(slots=True)
class SnapshotManifest:
    id: str
    path: str
    kind: str
    created_at: str
    created_at_unix: float
    sequence: int
    sizes: dict[str, int]
    counts: dict[str, int]
    verified: bool
    error: str | None = None
    duration_s: float = 0.0
    checkpoint_duration_s: float = 0.0
    verify_duration_s: float = 0.0
    schema_version: int = SCHEMA_VERSION
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SnapshotManifest:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def snapshot_id(now: float) -> str:
    stamp = datetime.fromtimestamp(now, UTC)
    return stamp.strftime("%Y%m%dT%H%M%S.") + f"{stamp.microsecond // 1000:03d}Z"


def manifest_path(snapshot_dir: str | Path) -> Path:
    path = Path(snapshot_dir)
    return path.parent / (path.name + MANIFEST_SUFFIX)


def write_manifest(manifest: SnapshotManifest) -> None:
    target = manifest_path(manifest.path)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(manifest.to_dict(), fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    fs.fsync_dir(target.parent)


def read_manifest(snapshot_dir: str | Path) -> SnapshotManifest | None:
    try:
        with open(manifest_path(snapshot_dir)) as fh:
            return SnapshotManifest.from_dict(json.load(fh))
    except (OSError, ValueError, TypeError):
        return None


def list_snapshots(directory: str | Path) -> list[SnapshotManifest]:
    """Manifests in a snapshot directory, newest first."""
    root = Path(directory)
    if not root.is_dir():
        return []
    out = []
    for entry in root.iterdir():
        if entry.name.endswith(MANIFEST_SUFFIX):
            manifest = read_manifest(root / entry.name[: -len(MANIFEST_SUFFIX)])
            if manifest is not None:
                out.append(manifest)
    out.sort(key=lambda m: (m.created_at_unix, m.id), reverse=True)
    return out


def remove_snapshot(snapshot_dir: str | Path) -> None:
    shutil.rmtree(snapshot_dir, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        manifest_path(snapshot_dir).unlink()


def select_expired(
    manifests: list[SnapshotManifest], *, retention: int, max_age: float, now: float
) -> list[SnapshotManifest]:
    """Which snapshots retention removes: beyond the newest `retention`, or older than
    max_age (0 = no age limit); the newest verified snapshot is always kept."""
    ordered = sorted(manifests, key=lambda m: (m.created_at_unix, m.id), reverse=True)
    newest_verified = next((m for m in ordered if m.verified), None)
    expired = []
    for index, manifest in enumerate(ordered):
        too_many = index >= retention
        too_old = max_age > 0 and now - manifest.created_at_unix > max_age
        if (too_many or too_old) and manifest is not newest_verified:
            expired.append(manifest)
    return expired


async def verify_in_child(path: str, kind: str | None) -> dict[str, Any]:
    """Inspect a database directory in a child process (see inspect.py for why)."""
    args = [sys.executable, "-m", "ponos.storage.inspect", path]
    if kind:
        args += ["--kind", kind]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    try:
        report = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return {"ok": False, "error": f"verifier exited with {proc.returncode}: {tail[0]}"}
    return report


class SnapshotManager:
    """Creates, lists, prunes and restores snapshots of one engine."""

    def __init__(self, engine: Engine, config: Any, *, directory: str | None = None) -> None:
        self.engine = engine
        self.config = config
        target = directory or config.dir
        if not target and engine.path:
            base = Path(engine.path)
            target = str(base.parent / f"{base.name}-snapshots")
        self.directory = target
        self._lock = asyncio.Lock()

    @property
    def in_progress(self) -> bool:
        return self._lock.locked()

    async def create(self, *, wait: bool = True) -> SnapshotManifest:
        """Checkpoint, verify, write the manifest, apply retention. A second concurrent
        caller waits (or gets SnapshotInProgress with wait=False)."""
        if self.engine.backend != "rocksdb" or not self.directory:
            raise SnapshotsUnsupported()
        if not wait and self._lock.locked():
            raise SnapshotInProgress()
        async with self._lock:
            return await self._create()

    async def _create(self) -> SnapshotManifest:
        started = time.monotonic()
        root = Path(self.directory or "")
        now = time.time()
        ident = await asyncio.to_thread(self._prepare, root, now)
        partial = root / (PARTIAL_PREFIX + ident)
        final = root / ident
        try:
            checkpoint_started = time.monotonic()
            sequence = await self.engine.checkpoint(str(partial))
            checkpoint_s = time.monotonic() - checkpoint_started
        except PonosError as exc:
            await asyncio.to_thread(shutil.rmtree, partial, True)
            log.error("snapshot failed", path=str(final), error=str(exc))
            raise SnapshotError(f"checkpoint into {final} failed: {exc}") from None
        verify_started = time.monotonic()
        report = await verify_in_child(str(partial), self.engine.kind)
        verify_s = time.monotonic() - verify_started
        error = report.get("error")
        if report.get("ok") and report.get("kind") != self.engine.kind:
            error = f"snapshot holds {report.get('kind')} data, expected {self.engine.kind}"
        manifest = SnapshotManifest(
            id=ident,
            path=str(final),
            kind=self.engine.kind,
            created_at=datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
            created_at_unix=now,
            sequence=int(report.get("sequence") or sequence),
            sizes={},
            counts=dict(report.get("counts") or {}),
            verified=bool(report.get("ok")) and error is None,
            error=error,
            source=self.engine.path,
            checkpoint_duration_s=round(checkpoint_s, 4),
            verify_duration_s=round(verify_s, 4),
        )
        await asyncio.to_thread(self._finish, manifest, partial, started)
        if manifest.verified:
            log.info(
                "snapshot created",
                id=ident,
                path=manifest.path,
                sequence=manifest.sequence,
                total_bytes=manifest.sizes["total_bytes"],
                duration_s=manifest.duration_s,
            )
        else:
            log.error("snapshot verification failed", id=ident, path=manifest.path, error=error)
        await asyncio.to_thread(self.apply_retention)
        return manifest

    @staticmethod
    def _prepare(root: Path, now: float) -> str:
        """Create the directory, drop partial leftovers of a crash, pick a fresh id."""
        fs.make_dir(root)
        for stale in root.glob(PARTIAL_PREFIX + "*"):
            shutil.rmtree(stale, ignore_errors=True)
        ident = snapshot_id(now)
        while (root / ident).exists() or manifest_path(root / ident).exists():
            now += 0.001
            ident = snapshot_id(now)
        return ident

    @staticmethod
    def _finish(manifest: SnapshotManifest, partial: Path, started: float) -> None:
        final = Path(manifest.path)
        try:
            os.rename(partial, final)
            os.chmod(final, fs.DIR_MODE)
            fs.fsync_dir(final.parent)
            manifest.sizes = fs.file_sizes(final)
            manifest.duration_s = round(time.monotonic() - started, 4)
            write_manifest(manifest)
        except OSError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise SnapshotError(f"cannot finish snapshot {final}: {exc.strerror}") from None

    def list(self) -> list[SnapshotManifest]:
        return list_snapshots(self.directory) if self.directory else []

    def apply_retention(self, now: float | None = None) -> list[str]:
        expired = select_expired(
            self.list(),
            retention=self.config.retention,
            max_age=self.config.max_age,
            now=time.time() if now is None else now,
        )
        for manifest in expired:
            remove_snapshot(Path(self.directory or "") / manifest.id)
            log.info("snapshot removed by retention", id=manifest.id)
        return [m.id for m in expired]

    async def run_schedule(self) -> None:
        """Create a snapshot every snapshots.interval seconds (0 = off) until cancelled."""
        interval = float(self.config.interval or 0)
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            try:
                await self.create()
            except PonosError as exc:
                log.error("scheduled snapshot failed", error=str(exc))

    @staticmethod
    def restore(snapshot_dir: str, target_dir: str, force: bool = False) -> dict[str, Any]:
        return restore_snapshot(snapshot_dir, target_dir, force=force)


def restore_snapshot(snapshot_dir: str, target_dir: str, *, force: bool = False) -> dict[str, Any]:
    """Copy a verified snapshot into target_dir (blocking; the service must be stopped).

    Refuses a non-empty target unless force; never touches a directory another process
    holds open; the copy is verified before it replaces anything."""
    from ponos.storage.inspect import inspect_directory

    if str(snapshot_dir).endswith(MANIFEST_SUFFIX):  # the manifest names its snapshot
        snapshot_dir = str(snapshot_dir)[: -len(MANIFEST_SUFFIX)]
    source = Path(snapshot_dir).resolve()
    target = Path(target_dir).absolute()
    if not fs.is_database(source):
        raise SnapshotError(f"{source} is not a snapshot (no RocksDB database there)")
    try:
        report = inspect_directory(str(source), deep=True)
    except PonosError as exc:
        raise SnapshotError(f"snapshot {source} does not verify: {exc}") from None
    if report.get("problems"):
        raise SnapshotError(
            f"snapshot {source} does not verify: {report['problems'][0]}"
            + (f" (and {len(report['problems']) - 1} more)" if len(report["problems"]) > 1 else "")
        )
    if target.exists() and not fs.dir_is_empty(target):
        if not force:
            raise RestoreRefused(
                f"{target} is not empty; refusing to overwrite it",
                hint="pass --force to replace its contents with the snapshot",
            )
        if fs.is_locked(target):
            raise DatabaseLocked(str(target))
    fs.make_dir(target.parent)
    staging = target.parent / f".{target.name}.restoring"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(source, staging)
        os.chmod(staging, fs.DIR_MODE)
        fs.fsync_tree(staging)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise fs.os_error(target, exc) from None
    try:
        inspect_directory(str(staging), kind=report["kind"])
    except PonosError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise SnapshotError(f"the restored copy does not open: {exc}") from None
    replaced = target.parent / f".{target.name}.replaced-{int(time.time())}"
    if target.exists():
        os.rename(target, replaced)
    os.rename(staging, target)
    fs.fsync_dir(target.parent)
    shutil.rmtree(replaced, ignore_errors=True)
    log.info("snapshot restored", snapshot=str(source), target=str(target))
    report["path"] = str(target)
    return report
