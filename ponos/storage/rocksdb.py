"""RocksDB backend (rocksdict, raw bytes mode).

One column family per record kind. Durability: the WAL is always on, recovery mode is
point-in-time, and with `syncWrites` (default) every write is acknowledged only after its
group's WAL sync (see writer.py). Large values go to integrated BlobDB files with blob GC
on; `gc_once` forces a compaction of the kinds written since the last pass, which drops
dead blob files. Anything that can take long (flush, compaction, WAL sync) runs in a thread
on a rocksdict call that releases the GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rocksdict import (
    AccessType,
    BlockBasedOptions,
    BottommostLevelCompaction,
    Checkpoint,
    CompactOptions,
    DBCompactionStyle,
    DBCompressionType,
    DBRecoveryMode,
    Options,
    Rdict,
    WriteBatch,
    WriteOptions,
)

from ponos.log import get_logger
from ponos.storage import fs
from ponos.storage.engine import Engine, GcResult, Op, Txn
from ponos.storage.errors import (
    DatabaseCorrupt,
    DatabaseLocked,
    DiskFull,
    InvalidRecord,
    NotADatabase,
    NotWritable,
    PonosError,
    ReadOnlyEngine,
    StorageError,
)
from ponos.storage.keys import prefix_end, split_key
from ponos.storage.schema import GC_STATS_KEY, SCHEMA_KEY, check_schema, kinds_for, schema_record
from ponos.storage.writer import GroupCommitWriter

if TYPE_CHECKING:
    from ponos.config.common import RocksDBConfig

log = get_logger(__name__)


@dataclasses.dataclass(frozen=True)
class _ReadOnlyDefaults:
    """Option values for read-only opens without a config (ponos.config is slow to import,
    and the snapshot verifier runs in a fresh child process)."""

    sync_writes: bool = False
    gc_interval: float = 0.0
    min_blob_size: int = 4096
    blob_file_size: int = 64 * 1024 * 1024
    blob_gc_age_cutoff: float = 0.5
    blob_gc_force_threshold: float = 0.25
    write_buffer_size: int = 32 * 1024 * 1024
    max_open_files: int = -1


def _default_config(read_only: bool) -> Any:
    if read_only:
        return _ReadOnlyDefaults()
    from ponos.config.common import RocksDBConfig

    return RocksDBConfig()


_SCHEMA_REST = split_key(SCHEMA_KEY)[1]

_Resolved = tuple[bytes, bytes | None, Any, bytes, str]
"""One write op checked for the writer: key, value, column family handle, key within the
family, kind."""


def rocks_error(exc: BaseException, path: str) -> BaseException:
    """Turn a rocksdict exception into a clear StorageError (PonosErrors pass through)."""
    if isinstance(exc, PonosError):
        return exc
    if isinstance(exc, OSError):
        return fs.os_error(path, exc)
    if not isinstance(exc, Exception):
        return exc
    message = str(exc)
    lowered = message.lower()
    if "no space left" in lowered:
        return DiskFull(path)
    if "lock hold by current process" in lowered:
        return DatabaseLocked(path, same_process=True)
    if "lock" in lowered and (
        "resource temporarily unavailable" in lowered or "no locks available" in lowered
    ):
        return DatabaseLocked(path)
    if "permission denied" in lowered:
        return NotWritable(path, "permission denied")
    if "read-only file system" in lowered:
        return NotWritable(path, "read-only file system")
    if "corruption" in lowered:
        return DatabaseCorrupt(path, message)
    if "already closed" in lowered:
        return StorageError(f"database {path} is closed")
    return StorageError(f"RocksDB error on {path}: {message}")


def build_options(config: RocksDBConfig) -> Options:
    opts = Options(raw_mode=True)
    opts.create_if_missing(True)
    opts.create_missing_column_families(True)
    # Stop at the first inconsistency in the WAL: never replay past a torn record.
    opts.set_wal_recovery_mode(DBRecoveryMode.point_in_time())
    opts.set_paranoid_checks(True)
    opts.set_compaction_style(DBCompactionStyle.level())
    opts.set_compression_type(DBCompressionType.lz4())
    opts.set_write_buffer_size(config.write_buffer_size)
    # Small kinds (meta, cursor) would otherwise pin old WAL files until their own flush.
    opts.set_max_total_wal_size(4 * config.write_buffer_size)
    opts.set_max_open_files(config.max_open_files)
    opts.set_max_background_jobs(2)
    opts.set_keep_log_file_num(5)
    # Integrated BlobDB: values >= min_blob_size live in blob files; GC relocates live
    # blobs out of the oldest files during compaction so whole files can be dropped.
    opts.set_enable_blob_files(True)
    opts.set_min_blob_size(config.min_blob_size)
    opts.set_blob_file_size(config.blob_file_size)
    opts.set_enable_blob_gc(True)
    opts.set_blob_gc_age_cutoff(config.blob_gc_age_cutoff)
    opts.set_blob_gc_force_threshold(config.blob_gc_force_threshold)
    table = BlockBasedOptions()
    table.set_bloom_filter(10, False)
    opts.set_block_based_table_factory(table)
    return opts


class RocksEngine(Engine):
    backend = "rocksdb"

    def __init__(
        self,
        path: str,
        kind: str,
        db: Rdict,
        families: dict[str, Rdict],
        config: RocksDBConfig,
        *,
        read_only: bool,
    ) -> None:
        super().__init__(kind, path)
        self.config = config
        self.read_only = read_only
        self.sync_writes = bool(config.sync_writes) and not read_only
        self._db = db
        self._families = families
        self._families_by_prefix = {name.encode() + b"/": f for name, f in families.items()}
        self._handles = {name: db.get_column_family_handle(name) for name in families}
        self._handles_by_prefix = {name.encode(): (h, name) for name, h in self._handles.items()}
        self._write_options = WriteOptions()  # unsynced: durability comes from the WAL sync
        self._maintenance = asyncio.Lock()
        self._dirty: dict[str, int] = defaultdict(int)
        self._dirty_lock = threading.Lock()
        self._background: asyncio.Task[None] | None = None
        self.write_ops_total = 0
        self._writer: GroupCommitWriter | None = None
        if not read_only:
            self._writer = GroupCommitWriter(self, sync=self.sync_writes)
        self._load_gc_stats()

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        config: RocksDBConfig | None = None,
        kind: str | None = None,
        *,
        read_only: bool = False,
    ) -> RocksEngine:
        """Open (creating if needed) the database at path for a service kind.

        kind=None is allowed read-only: the kind is then taken from the schema record.
        """
        config = config or _default_config(read_only)
        directory = os.path.abspath(os.fspath(path))
        if kind is None and not read_only:
            raise ValueError("kind is required to open a database read-write")
        if read_only:
            if not fs.is_database(directory):
                raise NotADatabase(directory, "no RocksDB database here (no CURRENT file)")
        else:
            fs.prepare_data_dir(directory)
        options = build_options(config)
        access = AccessType.read_only(False) if read_only else AccessType.read_write()
        try:
            existing = (
                Rdict.list_cf(directory, Options(raw_mode=True))
                if fs.is_database(directory)
                else ["default"]
            )
            families = [name for name in existing if name != "default"]
            db = Rdict(
                directory,
                options,
                column_families={name: build_options(config) for name in families},
                access_type=access,
            )
        except Exception as exc:
            raise rocks_error(exc, directory) from None
        handles = {name: db.get_column_family(name) for name in families}
        try:
            service = cls._check_or_stamp(directory, db, handles, config, kind, read_only)
        except BaseException:
            _close_quietly(db, handles)
            raise
        return cls(directory, service, db, handles, config, read_only=read_only)

    @staticmethod
    def _check_or_stamp(
        directory: str,
        db: Rdict,
        handles: dict[str, Rdict],
        config: RocksDBConfig,
        kind: str | None,
        read_only: bool,
    ) -> str:
        meta = handles.get("meta")
        try:
            raw = meta.get(_SCHEMA_REST) if meta is not None else None
        except Exception as exc:
            raise rocks_error(exc, directory) from None
        if raw is not None:
            service = check_schema(raw, directory, kind)["kind"]
        else:
            if _has_data(db, handles):
                raise NotADatabase(directory, "it holds data but no schema record (meta/schema)")
            if read_only or kind is None:
                raise NotADatabase(directory, "the database is empty (never initialised)")
            service = kind
        if read_only:
            return service
        try:
            for name in kinds_for(service):
                if name not in handles:
                    handles[name] = db.create_column_family(name, build_options(config))
            if raw is None:
                stamp = WriteOptions()
                stamp.sync = True
                handles["meta"].put(_SCHEMA_REST, schema_record(service), stamp)
        except Exception as exc:
            raise rocks_error(exc, directory) from None
        return service

    # -- reads ---------------------------------------------------------------------------
    def _family(self, kind: str) -> Rdict | None:
        self._check_open()
        family = self._families.get(kind)
        if family is None:
            self._check_kind(kind)
        return family

    def get(self, key: bytes) -> bytes | None:
        head, sep, rest = key.partition(b"/")
        family = self._families_by_prefix.get(head + sep)
        if family is not None and not self._closed:  # the common case, without the checks
            try:
                return family.get(rest)
            except Exception as exc:
                raise rocks_error(exc, self.path or "") from None
        kind, rest = split_key(key)
        family = self._family(kind)
        if family is None:
            return None  # a kind this read-only copy predates
        try:
            return family.get(rest)
        except Exception as exc:
            raise rocks_error(exc, self.path or "") from None

    def scan(
        self,
        prefix: bytes,
        *,
        start: bytes | None = None,
        end: bytes | None = None,
        reverse: bool = False,
        limit: int | None = None,
    ) -> Iterator[tuple[bytes, bytes]]:
        kind, rest = split_key(prefix)
        family = self._family(kind)
        head = prefix[: len(prefix) - len(rest)]
        lower = rest
        upper = prefix_end(rest) if rest else None
        if start is not None:
            lower = max(lower, start[len(head) :] if start.startswith(head) else start)
        if end is not None:
            tail = end[len(head) :] if end.startswith(head) else end
            upper = tail if upper is None else min(upper, tail)
        if family is None or (limit is not None and limit <= 0):
            return iter(())
        return self._iterate(family, head, lower, upper, reverse, limit)

    def _iterate(
        self,
        family: Rdict,
        head: bytes,
        lower: bytes,
        upper: bytes | None,
        reverse: bool,
        limit: int | None,
    ) -> Iterator[tuple[bytes, bytes]]:
        # rocksdict applies iterate bounds in typed encoding even in raw mode, so bounds
        # are enforced here with seek / seek_for_prev and key comparisons.
        path = self.path or ""
        try:
            it = family.iter()
            if reverse:
                if upper is None:
                    it.seek_to_last()
                else:
                    it.seek_for_prev(upper)
                    if it.valid() and it.key() >= upper:
                        it.prev()
            else:
                it.seek(lower)
            count = 0
            while it.valid():
                key = it.key()
                if reverse:
                    if key < lower:
                        break
                elif upper is not None and key >= upper:
                    break
                yield head + key, it.value()
                count += 1
                if limit is not None and count >= limit:
                    return
                if reverse:
                    it.prev()
                else:
                    it.next()
            it.status()
        except PonosError:
            raise
        except Exception as exc:
            raise rocks_error(exc, path) from None

    def count(self, kind: str) -> int:
        """Exact number of records of a kind (iterates keys only)."""
        family = self._family(kind)
        if family is None:
            return 0
        try:
            it = family.iter()
            it.seek_to_first()
            n = 0
            while it.valid():
                n += 1
                it.next()
            it.status()
        except Exception as exc:
            raise rocks_error(exc, self.path or "") from None
        return n

    # -- writes --------------------------------------------------------------------------
    def _submit(self, ops: list[Op] | None, fn: Callable[[Txn], Any] | None) -> Awaitable[Any]:
        # The writer's future itself (no coroutine of its own): one frame less to create
        # and resume per write; the callers await it inside their own coroutines.
        if self._writer is None:
            raise ReadOnlyEngine(self.path or "")
        self._check_open()
        return self._writer.submit(ops, fn)

    # Writer-thread side of group commit (see writer.py).
    def resolve_ops(self, ops: list[Op]) -> list[_Resolved]:
        """(key, value, column family handle, key within the family, kind) for each op;
        raises if any op names an unknown kind or has a value that is not bytes."""
        handles = self._handles_by_prefix
        resolved = []
        for key, value in ops:
            head, sep, rest = key.partition(b"/")
            found = handles.get(head) if sep else None
            if found is None:
                kind, rest = split_key(key)
                self._check_kind(kind)
                raise StorageError(f"record kind {kind!r} is missing from {self.path}")
            if value is not None and value.__class__ is not bytes:
                if not isinstance(value, bytes | bytearray | memoryview):
                    raise InvalidRecord(f"value for {key!r} must be bytes")
                value = bytes(value)
            resolved.append((key, value, found[0], rest, found[1]))
        self.write_ops_total += len(ops)
        return resolved

    def write_resolved(self, entries: Iterable[_Resolved]) -> None:
        batch = WriteBatch(raw_mode=True)
        touched: dict[str, int] = {}
        for _key, value, handle, rest, kind in entries:
            if value is None:
                batch.delete(rest, handle)
            else:
                batch.put(rest, value, handle)
            touched[kind] = touched.get(kind, 0) + 1
        with self._dirty_lock:
            for kind, n in touched.items():
                self._dirty[kind] += n
        self._db.write(batch, self._write_options)

    def sync_wal(self) -> None:
        self._db.flush_wal(True)

    def map_error(self, exc: BaseException) -> BaseException:
        return rocks_error(exc, self.path or "")

    # -- maintenance ---------------------------------------------------------------------
    def _flush_all(self) -> None:
        for family in self._families.values():
            family.flush(True)
        self._db.flush(True)

    def _space(self) -> tuple[int, int, int]:
        """(sst + blob bytes, blob bytes, blob file count) over all kinds."""
        sst = blob = files = 0
        for family in self._families.values():
            sst += family.property_int_value("rocksdb.total-sst-files-size") or 0
            blob += family.property_int_value("rocksdb.total-blob-file-size") or 0
            files += family.property_int_value("rocksdb.num-blob-files") or 0
        return sst + blob, blob, files

    def _compact(self, kinds: list[str]) -> None:
        options = CompactOptions()
        options.set_bottommost_level_compaction(BottommostLevelCompaction.force())
        for kind in kinds:
            family = self._families[kind]
            family.flush(True)
            family.compact_range(None, None, options)

    def compact_all(self) -> None:
        """Blocking full compaction of every kind (`ponos db compact`)."""
        self._check_open()
        if self.read_only:
            raise ReadOnlyEngine(self.path or "")
        try:
            self._compact(list(self._families))
        except Exception as exc:
            raise rocks_error(exc, self.path or "") from None

    async def gc_once(self) -> GcResult:
        """One value-log GC pass: compact (with blob GC) every kind written since the
        last pass; dead blob files are dropped. Runs in a thread; never blocks the loop."""
        self._check_open()
        if self.read_only:
            raise ReadOnlyEngine(self.path or "")
        async with self._maintenance:
            self._check_open()
            started = time.monotonic()
            before, blob_before, files_before = self._space()
            with self._dirty_lock:
                dirty = sorted(k for k, n in self._dirty.items() if n and k != "meta")
                self._dirty.clear()
            if dirty:
                try:
                    await asyncio.to_thread(self._compact, dirty)
                except Exception as exc:
                    raise rocks_error(exc, self.path or "") from None
                after, blob_after, files_after = self._space()
                reason = "compacted " + ",".join(dirty)
            else:
                after, blob_after, files_after = before, blob_before, files_before
                reason = "no writes since the last pass"
            result = GcResult(
                bytes_before=before,
                bytes_after=after,
                duration_s=time.monotonic() - started,
                blob_bytes_before=blob_before,
                blob_bytes_after=blob_after,
                blob_files_before=files_before,
                blob_files_after=files_after,
                skipped=not dirty,
                reason=reason,
            )
            self.gc_runs += 1
            self.gc_reclaimed_bytes += result.reclaimed_bytes
            self.gc_last_time = time.time()
            self.gc_last_duration = result.duration_s
            log.info(
                "value log GC",
                path=self.path,
                bytes_before=before,
                bytes_after=after,
                reclaimed_bytes=result.reclaimed_bytes,
                blob_files_before=files_before,
                blob_files_after=files_after,
                duration_s=round(result.duration_s, 4),
                skipped=result.skipped,
                reason=reason,
            )
            await self._save_gc_stats()
            return result

    async def _save_gc_stats(self) -> None:
        record = json.dumps(self._gc_stats(), sort_keys=True).encode()
        with contextlib.suppress(StorageError):
            await self.put(GC_STATS_KEY, record)

    def _load_gc_stats(self) -> None:
        with contextlib.suppress(StorageError, ValueError, TypeError):
            raw = self.get(GC_STATS_KEY)
            if raw:
                data = json.loads(raw)
                self.gc_runs = int(data.get("gc_runs_total") or 0)
                self.gc_reclaimed_bytes = int(data.get("gc_reclaimed_bytes_total") or 0)
                self.gc_last_time = data.get("gc_last_time_seconds")
                self.gc_last_duration = data.get("gc_last_duration_seconds")

    def start_background(self) -> None:
        if self._background is None and not self.read_only and self.config.gc_interval > 0:
            self._background = asyncio.get_running_loop().create_task(
                self._gc_loop(), name="ponos-storage-gc"
            )

    async def _gc_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.gc_interval)
            try:
                await self.gc_once()
            except StorageError as exc:
                log.error("value log GC failed", path=self.path, error=str(exc))

    async def stop_background(self) -> None:
        task, self._background = self._background, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def checkpoint(self, target: str) -> int:
        """Hard-linked consistent copy at target (must not exist) while writes go on.

        The memtables are flushed in a thread first: rocksdict's checkpoint holds the GIL
        and would otherwise flush them itself."""
        self._check_open()
        async with self._maintenance:
            self._check_open()
            try:
                if not self.read_only:
                    await asyncio.to_thread(self._flush_all)
                sequence = self._db.latest_sequence_number()
                await asyncio.to_thread(Checkpoint(self._db).create_checkpoint, target)
            except Exception as exc:
                raise rocks_error(exc, target) from None
            return sequence

    def checkpoint_sync(self, target: str) -> int:
        """Blocking checkpoint for the CLI."""
        self._check_open()
        try:
            if not self.read_only:
                self._flush_all()
            sequence = self._db.latest_sequence_number()
            Checkpoint(self._db).create_checkpoint(target)
        except Exception as exc:
            raise rocks_error(exc, target) from None
        return sequence

    def sequence(self) -> int:
        self._check_open()
        return self._db.latest_sequence_number()

    def stats(self) -> dict[str, Any]:
        kind_keys: dict[str, int] = {}
        totals: dict[str, int] = defaultdict(int)
        props = {
            "live_data_size_bytes": "rocksdb.estimate-live-data-size",
            "total_sst_size_bytes": "rocksdb.total-sst-files-size",
            "blob_file_size_bytes": "rocksdb.total-blob-file-size",
            "live_blob_file_size_bytes": "rocksdb.live-blob-file-size",
            "blob_file_count": "rocksdb.num-blob-files",
            "memtable_bytes": "rocksdb.cur-size-all-mem-tables",
            "background_errors": "rocksdb.background-errors",
        }
        if not self._closed:
            for name, family in self._families.items():
                for field, prop in props.items():
                    totals[field] += family.property_int_value(prop) or 0
                kind_keys[name] = family.property_int_value("rocksdb.estimate-num-keys") or 0
        writer = self._writer
        return {
            "backend": self.backend,
            "kind": self.kind,
            "path": self.path,
            **{field: totals[field] for field in props},
            "estimated_keys": sum(kind_keys.values()),
            "kind_keys": kind_keys,
            "writes_total": writer.requests_total if writer else 0,
            "write_groups_total": writer.groups_total if writer else 0,
            "write_syncs_total": writer.syncs_total if writer else 0,
            "write_ops_total": self.write_ops_total,
            "write_max_group": writer.max_group_seen if writer else 0,
            "sync_writes": self.sync_writes,
            **self._gc_stats(),
        }

    async def close(self) -> None:
        """Finish pending writes, flush the memtables (fast next open), close. Idempotent."""
        if self._closed:
            return
        await self.stop_background()
        async with self._maintenance:
            if self._closed:
                return
            if self._writer is not None:
                await asyncio.to_thread(self._writer.stop)
            if not self.read_only:
                try:
                    await asyncio.to_thread(self._flush_all)
                except Exception as exc:
                    log.warning("flush at close failed", path=self.path, error=str(exc))
            self._close_now()

    def close_sync(self) -> None:
        """Blocking close for code without an event loop (CLI, inspection)."""
        if self._closed:
            return
        if self._writer is not None:
            self._writer.stop()
        if not self.read_only:
            with contextlib.suppress(Exception):
                self._flush_all()
        self._close_now()

    def _close_now(self) -> None:
        self._closed = True
        self._handles.clear()
        self._handles_by_prefix.clear()
        self._families_by_prefix.clear()
        _close_quietly(self._db, self._families)


def _has_data(db: Rdict, handles: dict[str, Rdict]) -> bool:
    for family in [db, *handles.values()]:
        it = family.iter()
        it.seek_to_first()
        if it.valid():
            return True
    return False


def _close_quietly(db: Rdict, handles: dict[str, Rdict]) -> None:
    for family in handles.values():
        with contextlib.suppress(Exception):
            family.close()
    handles.clear()
    try:
        db.close()
    except Exception as exc:  # e.g. "Writer has previous error" after a disk-full write
        log.warning("database close reported an error", error=str(exc))


def exists(path: str | Path) -> bool:
    return fs.is_database(path)
