"""`ponos db`: inspect, verify, compact, checkpoint and restore a service's database.

Read-only commands (info, verify, list-snapshots) work while the service is
running: they open a read-only RocksDB instance. compact and restore need the service
stopped, and say so; so does checkpoint, since a read-only instance cannot see what the
running service still holds in memory: a running service snapshots itself (POST /admin/snapshots).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ponos.errors import ConfigError, PonosError


def register(subparsers: argparse._SubParsersAction) -> None:
    db = subparsers.add_parser(
        "db",
        help="inspect, verify, back up and restore a service database",
        description="Maintenance of the RocksDB storage of the aggregator or executor.",
    )
    sub = db.add_subparsers(dest="action", metavar="ACTION", required=True)

    def source_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--dir", help="the database directory (storage.rocksdb.dir)")
        parser.add_argument(
            "--config", "-c", metavar="FILE", help="take the directory from a service config"
        )

    info = sub.add_parser("info", help="sizes, key counts per kind, cursors, GC stats (read-only)")
    source_options(info)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=cmd_info)

    verify = sub.add_parser(
        "verify", help="read every record with checksums, decode it, cross-check indexes"
    )
    source_options(verify)
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(handler=cmd_verify)

    compact = sub.add_parser("compact", help="full compaction with blob GC (service stopped)")
    source_options(compact)
    compact.set_defaults(handler=cmd_compact)

    checkpoint = sub.add_parser(
        "checkpoint",
        help="take a verified snapshot (service stopped; a running one: POST /admin/snapshots)",
    )
    source_options(checkpoint)
    checkpoint.add_argument(
        "--to",
        metavar="S",
        help="snapshot directory (default: storage.snapshots.dir or DIR-snapshots)",
    )
    checkpoint.set_defaults(handler=cmd_checkpoint)

    restore = sub.add_parser(
        "restore", help="restore a snapshot into a directory (service stopped)"
    )
    restore.add_argument("--snapshot", required=True, metavar="S", help="a snapshot directory")
    restore.add_argument("--dir", help="the target database directory")
    restore.add_argument(
        "--config", "-c", metavar="FILE", help="take the target from a service config"
    )
    restore.add_argument("--force", action="store_true", help="replace a non-empty target")
    restore.set_defaults(handler=cmd_restore)

    listing = sub.add_parser("list-snapshots", help="list snapshots with their manifests")
    source_options(listing)
    listing.add_argument("--snapshot-dir", metavar="S", help="the snapshot directory to list")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_list_snapshots)


def _quiet_logs() -> None:
    """Library logs (snapshot created, ...) go to stderr at warning level; the command
    prints its own summary on stdout."""
    import sys

    from ponos import log

    log.configure("warning", "console", stream=sys.stderr)


# -- locating the directories -------------------------------------------------------------
def _storage_from_config(path: str) -> Any:
    from ponos.config import AggregatorConfig, ExecutorConfig
    from ponos.config.loader import load_config, read_config_file

    data = read_config_file(path)
    is_executor = any(key in data for key in ("avsPerformers", "avs_performers", "grpcPort"))
    cls = ExecutorConfig if is_executor else AggregatorConfig
    config, _warnings = load_config(cls, path)
    if config.storage.type != "rocksdb":
        raise ConfigError(
            f"storage.type is {config.storage.type}: there is no database on disk", source=path
        )
    return config.storage


def _data_dir(args: argparse.Namespace) -> str:
    if args.dir:
        return str(Path(args.dir).absolute())
    if getattr(args, "config", None):
        return str(Path(_storage_from_config(args.config).rocksdb.dir).absolute())
    raise ConfigError("pass --dir DIR (the database directory) or --config FILE")


def _snapshot_dir(args: argparse.Namespace, explicit: str | None) -> str:
    if explicit:
        return str(Path(explicit).absolute())
    if getattr(args, "config", None) and not args.dir:
        storage = _storage_from_config(args.config)
        return str(Path(storage.snapshots.dir).absolute())
    data = Path(_data_dir(args))
    return str(data.parent / f"{data.name}-snapshots")


# -- commands ------------------------------------------------------------------------------
def _size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def cmd_info(args: argparse.Namespace) -> int:
    _quiet_logs()
    from ponos.storage.inspect import inspect_directory

    report = inspect_directory(_data_dir(args))
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return 0
    sizes = report["sizes"]
    in_use = (
        "yes, by another process (read-only view)" if report["locked_by_other_process"] else "no"
    )
    lines = [
        f"database     {report['path']}",
        f"service      {report['kind']} (schema version {report['schema_version']})",
        f"in use       {in_use}",
        f"sequence     {report['sequence']}",
        f"size         {_size(sizes['total_bytes'])} (sst {_size(sizes['sst_bytes'])}, "
        f"blob {_size(sizes['blob_bytes'])} in {report['blob_file_count']} files, "
        f"wal {_size(sizes['wal_bytes'])})",
        "records      " + ", ".join(f"{k}={v}" for k, v in report["counts"].items()),
    ]
    if "tasks_by_status" in report:
        lines.append(
            "tasks        " + ", ".join(f"{k}={v}" for k, v in report["tasks_by_status"].items())
        )
        for chain, cursor in sorted(report["cursors"].items()):
            latest = report["latest_blocks"].get(chain)
            lines.append(
                f"chain {chain:<7}last processed block {cursor}, latest stored block {latest}"
            )
    gc = report["gc"]
    reclaimed = _size(gc["gc_reclaimed_bytes_total"])
    last = gc["gc_last_time_seconds"]
    lines.append(
        f"value log GC {gc['gc_runs_total']} runs, {reclaimed} reclaimed"
        + (f", last at unix time {last:.0f}" if last else "")
    )
    print("\n".join(lines))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    _quiet_logs()
    from ponos.storage.inspect import inspect_directory

    path = _data_dir(args)
    try:
        report = inspect_directory(path, deep=True)
    except PonosError as exc:
        if args.json:
            print(json.dumps({"path": path, "ok": False, "error": str(exc)}))
            return 1
        raise
    problems = report["problems"]
    if args.json:
        print(json.dumps({**report, "ok": not problems}, indent=2, sort_keys=True))
    else:
        total = sum(report["counts"].values())
        if problems:
            print(f"{path}: {len(problems)} problem(s) in {total} records:")
            for problem in problems:
                print(f"  - {problem}")
            print("restore a snapshot with `ponos db restore --snapshot S --dir D --force`")
        else:
            print(f"{path}: OK ({report['kind']}, {total} records checked)")
    return 1 if problems else 0


def _open_for_maintenance(path: str, *, read_only_if_busy: bool) -> Any:
    from ponos.storage import fs
    from ponos.storage.errors import DatabaseLocked, NotADatabase
    from ponos.storage.rocksdb import RocksEngine

    if not fs.is_database(path):
        raise NotADatabase(path, "no RocksDB database here")
    if fs.is_locked(path):
        if read_only_if_busy:
            return RocksEngine.open(path, None, None, read_only=True)
        raise DatabaseLocked(path)
    probe = RocksEngine.open(path, None, None, read_only=True)
    kind = probe.kind
    probe.close_sync()
    return RocksEngine.open(path, None, kind)


def cmd_compact(args: argparse.Namespace) -> int:
    _quiet_logs()
    from ponos.storage.errors import DatabaseLocked, StorageError

    path = _data_dir(args)
    try:
        engine = _open_for_maintenance(path, read_only_if_busy=False)
    except DatabaseLocked:
        raise StorageError(
            f"cannot compact {path}: a running service holds it",
            hint="the service compacts by itself (value log GC every storage.rocksdb.gcInterval); "
            "stop it to compact offline",
        ) from None
    try:
        before = engine.stats()
        engine.compact_all()
        after = engine.stats()
    finally:
        engine.close_sync()
    used = ("total_sst_size_bytes", "blob_file_size_bytes")
    print(
        f"{path}: compacted, {_size(sum(before[k] for k in used))} -> "
        f"{_size(sum(after[k] for k in used))}"
    )
    return 0


def cmd_checkpoint(args: argparse.Namespace) -> int:
    _quiet_logs()
    from ponos import runtime
    from ponos.config.common import SnapshotsConfig
    from ponos.storage import fs
    from ponos.storage.errors import StorageError
    from ponos.storage.snapshots import SnapshotManager

    path = _data_dir(args)
    target = _snapshot_dir(args, args.to)
    if fs.is_database(path) and fs.is_locked(path):
        # A read-only instance cannot see what the running service holds in its memtable
        # (only in its WAL), so its checkpoint could miss acknowledged writes. The service
        # checkpoints itself, consistently, through its ops endpoint.
        raise StorageError(
            f"database {path} is held by a running service",
            hint="take an online snapshot through it: curl -X POST "
            "http://127.0.0.1:<ops.port>/admin/snapshots (or stop it and run this again)",
        )
    engine = _open_for_maintenance(path, read_only_if_busy=False)
    # no retention from the CLI unless the snapshot settings come from a service config
    settings = (
        _storage_from_config(args.config).snapshots
        if args.config and not args.to
        else SnapshotsConfig(retention=10**9, max_age=0)
    )

    async def create() -> Any:
        try:
            return await SnapshotManager(engine, settings, directory=target).create()
        finally:
            await engine.close()

    manifest = runtime.run(create())
    counts = ", ".join(f"{k}={v}" for k, v in manifest.counts.items())
    if not manifest.verified:
        print(f"snapshot {manifest.path} FAILED verification: {manifest.error}")
        return 1
    print(
        f"snapshot {manifest.path} verified ({_size(manifest.sizes['total_bytes'])}, "
        f"sequence {manifest.sequence}, {counts})"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    _quiet_logs()
    from ponos.storage.snapshots import restore_snapshot

    report = restore_snapshot(args.snapshot, _data_dir(args), force=args.force)
    counts = ", ".join(f"{k}={v}" for k, v in report["counts"].items())
    print(f"restored {args.snapshot} into {report['path']} ({report['kind']}, {counts})")
    return 0


def cmd_list_snapshots(args: argparse.Namespace) -> int:
    _quiet_logs()
    from ponos.storage.snapshots import list_snapshots

    directory = _snapshot_dir(args, args.snapshot_dir)
    manifests = list_snapshots(directory)
    if args.json:
        print(json.dumps([m.to_dict() for m in manifests], indent=2, sort_keys=True))
        return 0
    if not manifests:
        print(f"no snapshots in {directory}")
        return 0
    print(f"{'id':<22} {'created (UTC)':<25} {'verified':<9} {'size':>10}  records")
    for m in manifests:
        status = "yes" if m.verified else "NO"
        size = _size(m.sizes.get("total_bytes"))
        print(
            f"{m.id:<22} {m.created_at[:19] + 'Z':<25} {status:<9} {size:>10}  "
            + ", ".join(f"{k}={v}" for k, v in m.counts.items() if v)
        )
    return 0
