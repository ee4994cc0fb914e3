"""Storage fixtures: every conformance test runs on both backends (and both loops)."""

from __future__ import annotations

import pytest

from ponos.config.common import RocksDBConfig
from ponos.storage.engine import Engine
from ponos.storage.memory import MemoryEngine
from ponos.storage.rocksdb import RocksEngine


@pytest.fixture(params=["memory", "rocksdb"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def make_engine(backend, tmp_path):
    """make_engine(kind="aggregator", **rocksdb_options) -> a fresh engine of `backend`."""
    engines: list[Engine] = []

    def make(kind: str = "aggregator", **options) -> Engine:
        if backend == "memory":
            engine: Engine = MemoryEngine(kind)
        else:
            engine = RocksEngine.open(
                tmp_path / f"{kind}-{len(engines)}", RocksDBConfig(**options), kind
            )
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close_sync()


@pytest.fixture
def rocks_dir(tmp_path):
    return tmp_path / "db"
