"""Storage: one embedded key-value engine (RocksDB via rocksdict, or memory) behind a small
interface, typed stores for the two services, value-log GC and online snapshots.

    engine = open_engine(config.storage, "aggregator")
    store = AggregatorStore(engine)
    await store.commit_range(chain_id, cursor=n, blocks=[...], tasks=[...])
    await engine.close()

See docs/storage.md for the design (durability, group commit, GC, snapshots).
"""

from __future__ import annotations

from ponos.storage.aggregator_store import AggregatorStore
from ponos.storage.engine import Batch, Engine, GcResult, Txn, open_engine
from ponos.storage.errors import (
    CorruptRecord,
    DatabaseCorrupt,
    DatabaseLocked,
    DiskFull,
    InvalidRecord,
    InvalidTransition,
    NotADatabase,
    NotWritable,
    RecordExists,
    RecordNotFound,
    RestoreRefused,
    SchemaMismatch,
    SnapshotError,
    SnapshotInProgress,
    SnapshotsUnsupported,
    StorageError,
    StoreClosed,
)
from ponos.storage.executor_store import ExecutorStore
from ponos.storage.records import (
    BlockRecord,
    DeploymentRecord,
    InflightTask,
    PerformerState,
    ProcessedTask,
    TaskRecord,
)
from ponos.storage.snapshots import SnapshotManager, SnapshotManifest, restore_snapshot
from ponos.storage.status import DeploymentStatus, TaskStatus

__all__ = [
    "AggregatorStore",
    "Batch",
    "BlockRecord",
    "CorruptRecord",
    "DatabaseCorrupt",
    "DatabaseLocked",
    "DeploymentRecord",
    "DeploymentStatus",
    "DiskFull",
    "Engine",
    "ExecutorStore",
    "GcResult",
    "InflightTask",
    "InvalidRecord",
    "InvalidTransition",
    "NotADatabase",
    "NotWritable",
    "PerformerState",
    "ProcessedTask",
    "RecordExists",
    "RecordNotFound",
    "RestoreRefused",
    "SchemaMismatch",
    "SnapshotError",
    "SnapshotInProgress",
    "SnapshotManager",
    "SnapshotManifest",
    "SnapshotsUnsupported",
    "StorageError",
    "StoreClosed",
    "TaskRecord",
    "TaskStatus",
    "Txn",
    "open_engine",
    "restore_snapshot",
]
