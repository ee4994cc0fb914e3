"""Record kinds per service and the schema-version record checked at every open.

Each kind is a RocksDB column family (a key range in the memory backend). A directory is
stamped on creation with `meta/schema`; opening it as the other service, or with another
schema version, is refused before anything is written.
"""

from __future__ import annotations

import json
import time
from typing import Literal

from ponos.storage.errors import NotADatabase, SchemaMismatch

ServiceKind = Literal["aggregator", "executor"]

FORMAT = "ponos-storage"
SCHEMA_VERSION = 1
SCHEMA_KEY = b"meta/schema"
GC_STATS_KEY = b"meta/gc"

KINDS: dict[str, tuple[str, ...]] = {
    # cursor: last processed block per chain; block: recent block headers for reorg
    # detection; task_status / task_block: indexes; counter: task counts per status.
    "aggregator": ("meta", "cursor", "block", "task", "task_status", "task_block", "counter"),
    # processed_expiry: index of processed tasks by expiry, for pruning without a full scan.
    "executor": (
        "meta",
        "performer",
        "deployment",
        "inflight",
        "processed",
        "processed_expiry",
    ),
}


def kinds_for(service: str) -> tuple[str, ...]:
    try:
        return KINDS[service]
    except KeyError:
        raise ValueError(f"unknown storage kind {service!r} (aggregator or executor)") from None


def schema_record(service: str) -> bytes:
    kinds_for(service)
    return json.dumps(
        {
            "format": FORMAT,
            "version": SCHEMA_VERSION,
            "kind": service,
            "created_at": time.time(),
        },
        sort_keys=True,
    ).encode()


def parse_schema(raw: bytes, path: str) -> dict:
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a ponos schema record")
        int(data["version"])
        str(data["kind"])
    except (ValueError, KeyError, TypeError):
        raise NotADatabase(path, "its schema record (meta/schema) is unreadable") from None
    return data


def check_schema(raw: bytes, path: str, expected: str | None) -> dict:
    """Validate the stored schema record; expected=None accepts either service."""
    data = parse_schema(raw, path)
    if data["version"] != SCHEMA_VERSION:
        raise SchemaMismatch(
            f"database {path} has schema version {data['version']}, this ponos reads "
            f"version {SCHEMA_VERSION}",
            hint="use the ponos release that wrote it, or restore a snapshot of this version",
        )
    if expected is not None and data["kind"] != expected:
        raise SchemaMismatch(
            f"database {path} holds {data['kind']} data and cannot be opened by the {expected}",
            hint="give each service its own storage.rocksdb.dir",
        )
    return data
