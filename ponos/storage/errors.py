"""Storage errors: one small hierarchy, every message names the directory or key involved
and says what to do. The CLI prints them as one line (no traceback)."""

from __future__ import annotations

from ponos.errors import PonosError


class StorageError(PonosError):
    """Any storage failure."""


class StoreClosed(StorageError):
    def __init__(self) -> None:
        super().__init__("storage is closed")


class NotWritable(StorageError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"storage directory {path} is not writable: {reason}",
            hint="fix the permissions or mount, or point storage.rocksdb.dir elsewhere",
        )
        self.path = path


class DiskFull(StorageError):
    def __init__(self, path: str) -> None:
        super().__init__(
            f"disk full: no space left on the device holding {path}",
            hint="free space (old snapshots, logs) and restart; "
            "acknowledged writes are safe, the write that hit the limit was not applied",
        )
        self.path = path


class DatabaseLocked(StorageError):
    def __init__(self, path: str, *, same_process: bool = False) -> None:
        holder = (
            "it is already open in this process"
            if same_process
            else "another process holds it open (is the service already running?)"
        )
        super().__init__(
            f"database {path} is locked: {holder}",
            hint="stop that process first, or use a read-only command such as "
            "`ponos db info` / `ponos db verify`",
        )
        self.path = path


class DatabaseCorrupt(StorageError):
    def __init__(self, path: str, detail: str) -> None:
        super().__init__(
            f"database {path} is corrupt: {detail}",
            hint=f"run `ponos db verify --dir {path}` for details, then restore a snapshot "
            "with `ponos db restore --snapshot S --dir D --force`",
        )
        self.path = path


class SchemaMismatch(StorageError):
    """The directory holds another schema version, or the other service's data."""


class NotADatabase(StorageError):
    def __init__(self, path: str, detail: str) -> None:
        super().__init__(
            f"{path} is not a Ponos database: {detail}",
            hint="point storage.rocksdb.dir at an empty or new directory",
        )
        self.path = path


class ReadOnlyEngine(StorageError):
    def __init__(self, path: str) -> None:
        super().__init__(f"database {path} is open read-only; writes are not allowed")


class CorruptRecord(StorageError):
    """A stored value that does not decode; names the key."""

    def __init__(self, key: bytes, detail: str) -> None:
        shown = key.decode("utf-8", "backslashreplace")
        super().__init__(
            f"corrupt record at key {shown!r}: {detail}",
            hint="run `ponos db verify` to list every damaged record",
        )
        self.key = key


class RecordNotFound(StorageError):
    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident} not found")
        self.ident = ident


class RecordExists(StorageError):
    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident} already exists")
        self.ident = ident


class InvalidRecord(StorageError):
    """A record the caller built is malformed (bad task id, wrong chain)."""


class InvalidTransition(StorageError):
    """A status change the state machine forbids; names both states."""

    def __init__(self, what: str, current: str, target: str) -> None:
        super().__init__(f"invalid {what} status transition from {current} to {target}")
        self.current = current
        self.target = target


class SnapshotError(StorageError):
    """Creating, verifying or restoring a snapshot failed."""


class SnapshotInProgress(SnapshotError):
    def __init__(self) -> None:
        super().__init__("a snapshot is already being created", hint="retry when it finishes")


class SnapshotsUnsupported(SnapshotError):
    def __init__(self) -> None:
        super().__init__(
            "snapshots need the rocksdb storage backend (storage.type is memory)",
        )


class RestoreRefused(SnapshotError):
    """Restore would overwrite existing data without --force."""
