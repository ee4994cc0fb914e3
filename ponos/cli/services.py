"""`ponos aggregator run` and `ponos executor run`."""

from __future__ import annotations

import argparse

from ponos.cli.options import add_config_options, load_service_config
from ponos.config import AggregatorConfig, ExecutorConfig
from ponos.runtime import run

AGGREGATOR_FLAGS = {"data_dir": "storage.rocksdb.dir", "ops_port": "ops.port"}
EXECUTOR_FLAGS = {
    "grpc_port": "grpc_port",
    "data_dir": "storage.rocksdb.dir",
    "ops_port": "ops.port",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    agg = subparsers.add_parser("aggregator", help="the aggregator service")
    agg_sub = agg.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = agg_sub.add_parser(
        "run",
        help="run the aggregator",
        description=(
            "Poll the configured chains for TaskCreated events, fan tasks out to executors, "
            "aggregate their signed results and submit certificates."
        ),
    )
    add_config_options(run)
    run.add_argument("--data-dir", help="RocksDB data directory (storage.rocksdb.dir)")
    run.add_argument("--ops-port", type=int, help="ops HTTP port (metrics, health); 0 = off")
    run.set_defaults(handler=run_aggregator)

    exe = subparsers.add_parser("executor", help="the executor service")
    exe_sub = exe.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = exe_sub.add_parser(
        "run",
        help="run the executor",
        description=(
            "Serve eigenlayer.hourglass.v1.ExecutorService over gRPC, run each AVS's performer "
            "and sign task results."
        ),
    )
    add_config_options(run)
    run.add_argument("--grpc-port", type=int, help="gRPC port (grpcPort, default 9090)")
    run.add_argument("--data-dir", help="RocksDB data directory (storage.rocksdb.dir)")
    run.add_argument("--ops-port", type=int, help="ops HTTP port (metrics, health); 0 = off")
    run.set_defaults(handler=run_executor)


def run_aggregator(args: argparse.Namespace) -> int:
    from ponos.aggregator.service import AggregatorService
    from ponos.ops.services import AggregatorOps, run_with_ops

    config = load_service_config(AggregatorConfig, args, AGGREGATOR_FLAGS)
    service = AggregatorService(config)
    run(run_with_ops(service, AggregatorOps(service)))
    return 0


def run_executor(args: argparse.Namespace) -> int:
    from ponos.executor.service import ExecutorService
    from ponos.ops.services import ExecutorOps, run_with_ops

    config = load_service_config(ExecutorConfig, args, EXECUTOR_FLAGS)
    service = ExecutorService(config)
    run(run_with_ops(service, ExecutorOps(service)))
    return 0
