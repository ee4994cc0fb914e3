"""`ponos db` as an operator runs it: real subprocesses on real databases, including one
held open by a running process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import pytest
import yaml

from ponos.storage import AggregatorStore, ExecutorStore, TaskStatus
from ponos.storage.rocksdb import RocksEngine
from tests.helpers import run_cli
from tests.storage.factories import block, performer, task, task_id


def _make_aggregator_db(path) -> None:
    async def fill():
        engine = RocksEngine.open(path, None, "aggregator")
        store = AggregatorStore(engine)
        await store.commit_range(
            1, cursor=12, blocks=[block(1, 11), block(1, 12)], tasks=[task(i) for i in range(4)]
        )
        await store.transition(task_id(0), TaskStatus.PROCESSING)
        await engine.close()

    asyncio.run(fill())


@pytest.fixture
def agg_db(tmp_path):
    path = tmp_path / "aggregator"
    _make_aggregator_db(path)
    return path


def test_info_reports_counts_cursors_and_sizes(agg_db):
    result = run_cli("db", "info", "--dir", str(agg_db))
    assert result.returncode == 0, result.stderr
    assert "aggregator" in result.stdout
    assert (
        "task=4" in result.stdout
        and "pending=3" in result.stdout
        and "processing=1" in result.stdout
    )
    assert "last processed block 12" in result.stdout
    as_json = json.loads(run_cli("db", "info", "--dir", str(agg_db), "--json").stdout)
    assert as_json["counts"]["task"] == 4
    assert as_json["cursors"] == {"1": 12}
    assert as_json["sizes"]["total_bytes"] > 0
    assert as_json["gc"]["gc_runs_total"] == 0


def test_verify_passes_on_a_healthy_database_and_names_a_damaged_record(agg_db):
    ok = run_cli("db", "verify", "--dir", str(agg_db))
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout

    async def damage():
        engine = RocksEngine.open(agg_db, None, "aggregator")
        await engine.put(f"task/{task_id(2)}".encode(), b"{not json")
        await engine.put(b"counter/task/pending", b"7")
        await engine.close()

    asyncio.run(damage())
    bad = run_cli("db", "verify", "--dir", str(agg_db))
    assert bad.returncode == 1
    assert task_id(2) in bad.stdout and "not JSON" in bad.stdout
    assert "counter" in bad.stdout
    assert "Traceback" not in bad.stderr


def test_compact_checkpoint_list_and_restore_round_trip(agg_db, tmp_path):
    compact = run_cli("db", "compact", "--dir", str(agg_db))
    assert compact.returncode == 0, compact.stderr
    snaps = tmp_path / "snaps"
    made = run_cli("db", "checkpoint", "--dir", str(agg_db), "--to", str(snaps))
    assert made.returncode == 0, made.stderr
    assert "verified" in made.stdout
    listing = json.loads(
        run_cli("db", "list-snapshots", "--snapshot-dir", str(snaps), "--json").stdout
    )
    assert len(listing) == 1 and listing[0]["verified"] and listing[0]["counts"]["task"] == 4
    text = run_cli("db", "list-snapshots", "--snapshot-dir", str(snaps))
    assert listing[0]["id"] in text.stdout

    refused = run_cli("db", "restore", "--snapshot", listing[0]["path"], "--dir", str(agg_db))
    assert refused.returncode == 1
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    target = tmp_path / "restored"
    restored = run_cli("db", "restore", "--snapshot", listing[0]["path"], "--dir", str(target))
    assert restored.returncode == 0, restored.stderr
    info = json.loads(run_cli("db", "info", "--dir", str(target), "--json").stdout)
    assert info["counts"]["task"] == 4 and info["tasks_by_status"]["processing"] == 1


def test_commands_take_the_directory_from_a_service_config(tmp_path):
    data = tmp_path / "exec-data"

    async def fill():
        engine = RocksEngine.open(data, None, "executor")
        await ExecutorStore(engine).save_performer(performer(1))
        await engine.close()

    asyncio.run(fill())
    config = {
        "grpcPort": 9090,
        "operator": {
            "address": "0x" + "11" * 20,
            "signingKeys": {"ecdsa": {"privateKey": "0x" + "22" * 32}},
        },
        "l1Chain": {"rpcUrl": "http://127.0.0.1:8545", "chainId": 31337},
        "avsPerformers": [],
        "storage": {"type": "rocksdb", "rocksdb": {"dir": str(data)}},
    }
    path = tmp_path / "executor.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_cli("db", "info", "--config", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["kind"] == "executor" and report["counts"]["performer"] == 1


def test_missing_or_wrong_directories_are_clear_errors(tmp_path):
    none = run_cli("db", "info")
    assert none.returncode == 2 and "--dir" in none.stderr
    missing = run_cli("db", "verify", "--dir", str(tmp_path / "nothing"))
    assert missing.returncode == 1 and "not a Ponos database" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_read_only_commands_work_while_the_service_holds_the_database(agg_db, tmp_path):
    made = run_cli("db", "checkpoint", "--dir", str(agg_db), "--to", str(tmp_path / "s"))
    assert made.returncode == 0, made.stderr  # before the service starts: allowed
    earlier = next(p for p in (tmp_path / "s").glob("2*") if p.is_dir())
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import asyncio, sys
                from ponos.storage.rocksdb import RocksEngine
                async def main():
                    engine = RocksEngine.open({str(agg_db)!r}, None, "aggregator")
                    await engine.put(b"cursor/00000000000000000002", b'{{"block": 7}}')
                    print("ready", flush=True)
                    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
                    await engine.close()
                asyncio.run(main())
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        info = run_cli("db", "info", "--dir", str(agg_db))
        assert info.returncode == 0, info.stderr
        assert "by another process" in info.stdout
        assert "chain 2" in info.stdout  # sees the running service's latest write (WAL)
        assert run_cli("db", "verify", "--dir", str(agg_db)).returncode == 0
        snap = run_cli("db", "checkpoint", "--dir", str(agg_db), "--to", str(tmp_path / "s"))
        assert snap.returncode == 1 and "/admin/snapshots" in snap.stderr
        assert "Traceback" not in snap.stderr
        compact = run_cli("db", "compact", "--dir", str(agg_db))
        assert compact.returncode == 1
        assert "running service holds it" in compact.stderr and "Traceback" not in compact.stderr
        restore = run_cli(
            "db", "restore", "--snapshot", str(earlier), "--dir", str(agg_db), "--force"
        )
        assert restore.returncode == 1 and "locked" in restore.stderr
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
