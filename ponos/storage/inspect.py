"""Open a database directory read-only and report on it: schema, per-kind counts, sizes,
and (deep) every record decoded and every index cross-checked.

Used by `ponos db info/verify`, by restore, and, as `python -m ponos.storage.inspect`, by
the snapshot manager, which verifies a fresh checkpoint in a child process: opening a
RocksDB database holds the GIL in rocksdict and must not stall the service's event loop.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ponos.errors import PonosError
from ponos.storage import fs
from ponos.storage.rocksdb import RocksEngine
from ponos.storage.schema import SCHEMA_VERSION


def store_problems(engine: Any) -> list[str]:
    if engine.kind == "aggregator":
        from ponos.storage.aggregator_store import AggregatorStore

        return AggregatorStore(engine).verify()
    from ponos.storage.executor_store import ExecutorStore

    return ExecutorStore(engine).verify()


def inspect_directory(path: str, *, kind: str | None = None, deep: bool = False) -> dict[str, Any]:
    """Report on the database at path (read-only; works while a service holds it)."""
    engine = RocksEngine.open(path, None, kind, read_only=True)
    try:
        report: dict[str, Any] = {
            "path": engine.path,
            "kind": engine.kind,
            "schema_version": SCHEMA_VERSION,
            "sequence": engine.sequence(),
            "counts": {name: engine.count(name) for name in engine.kinds},
            "sizes": fs.file_sizes(path),
            "locked_by_other_process": fs.is_locked(path),
        }
        stats = engine.stats()
        report["gc"] = {
            k: stats[k]
            for k in (
                "gc_runs_total",
                "gc_reclaimed_bytes_total",
                "gc_last_time_seconds",
                "gc_last_duration_seconds",
            )
        }
        report["blob_file_count"] = stats["blob_file_count"]
        if engine.kind == "aggregator":
            from ponos.storage.aggregator_store import AggregatorStore

            store = AggregatorStore(engine)
            report["cursors"] = {str(c): b for c, b in store.list_cursors().items()}
            report["latest_blocks"] = {}
            for chain in store.list_cursors():
                block = store.latest_block(chain)
                report["latest_blocks"][str(chain)] = block.number if block else None
            report["tasks_by_status"] = {s.value: n for s, n in store.count_by_status().items()}
        if deep:
            report["problems"] = store_problems(engine)
        return report
    finally:
        engine.close_sync()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ponos.storage.inspect")
    parser.add_argument("path")
    parser.add_argument("--kind", choices=["aggregator", "executor"])
    parser.add_argument("--deep", action="store_true")
    args = parser.parse_args(argv)
    try:
        report = inspect_directory(args.path, kind=args.kind, deep=args.deep)
        report["ok"] = not report.get("problems")
    except PonosError as exc:
        report = {"ok": False, "error": str(exc)}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
