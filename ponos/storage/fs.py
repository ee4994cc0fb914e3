"""Filesystem helpers: data directories (mode 0750), foreign-content checks, locks, sizes."""

from __future__ import annotations

import errno
import fcntl
import os
import re
from pathlib import Path

from ponos.storage.errors import DiskFull, NotADatabase, NotWritable, StorageError

DIR_MODE = 0o750

# What RocksDB leaves behind when it is killed while creating a database (before CURRENT
# exists). Anything else in a directory without CURRENT is someone else's data (for
# example a Badger directory from the Go original) and is never touched.
_UNFINISHED_CREATE = re.compile(
    r"^(LOCK|IDENTITY|LOG(\.old\.\d+)?|MANIFEST-\d+|OPTIONS-\d+|\d+\.dbtmp)$"
)


def os_error(path: str | Path, exc: OSError) -> StorageError:
    """Map an OSError about a storage path to a clear StorageError."""
    if exc.errno == errno.ENOSPC:
        return DiskFull(str(path))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return NotWritable(str(path), os.strerror(exc.errno))
    return StorageError(f"cannot use storage directory {path}: {exc.strerror or exc}")


def make_dir(path: str | Path) -> None:
    """Create a directory (and parents) for data; new directories get mode 0750."""
    target = Path(path)
    if target.is_dir():
        return
    try:
        if target.exists():
            raise NotWritable(str(target), "it exists and is not a directory")
        target.mkdir(mode=DIR_MODE, parents=True)
        os.chmod(target, DIR_MODE)  # mkdir's mode is filtered by the umask
    except OSError as exc:
        raise os_error(target, exc) from None


def is_database(path: str | Path) -> bool:
    return (Path(path) / "CURRENT").is_file()


def prepare_data_dir(path: str | Path) -> None:
    """Make path usable as a RocksDB directory, or raise a clear error."""
    target = Path(path)
    make_dir(target)
    if not os.access(target, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only_fs(target) else "permission denied"
        raise NotWritable(str(target), reason)
    if is_database(target):
        return
    foreign = sorted(e for e in os.listdir(target) if not _UNFINISHED_CREATE.match(e))
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise NotADatabase(
            str(target),
            f"the directory is not empty and holds no RocksDB database ({shown})",
        )


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def is_locked(path: str | Path) -> bool:
    """True when another process holds the RocksDB LOCK file of path."""
    lock = Path(path) / "LOCK"
    if not lock.exists():
        return False
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def dir_is_empty(path: str | Path) -> bool:
    target = Path(path)
    return not target.exists() or (target.is_dir() and not any(target.iterdir()))


def file_sizes(path: str | Path) -> dict[str, int]:
    """On-disk bytes by file type in a RocksDB directory (apparent sizes)."""
    sizes = {"sst_bytes": 0, "blob_bytes": 0, "wal_bytes": 0, "other_bytes": 0}
    for entry in os.scandir(path):
        if not entry.is_file(follow_symlinks=False):
            continue
        size = entry.stat(follow_symlinks=False).st_size
        if entry.name.endswith(".sst"):
            sizes["sst_bytes"] += size
        elif entry.name.endswith(".blob"):
            sizes["blob_bytes"] += size
        elif entry.name.endswith(".log"):
            sizes["wal_bytes"] += size
        else:
            sizes["other_bytes"] += size
    sizes["total_bytes"] = sum(sizes.values())
    return sizes


def fsync_dir(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: str | Path) -> None:
    """fsync every file and directory under path (after copying a database)."""
    for root, _dirs, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(root)
