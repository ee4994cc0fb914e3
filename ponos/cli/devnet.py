"""`ponos devnet up | down | task | status`: a local chain with the EigenLayer contracts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ponos.config.types import parse_duration
from ponos.devnet.errors import DevnetError

DEFAULT_DIR = "devnet"


def _weights(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected comma-separated integers, e.g. 100,100,50"
        ) from None


def _seconds(text: str) -> int:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds < 1 or seconds != int(seconds):
        raise argparse.ArgumentTypeError(f"{text!r}: expected whole seconds, at least 1s")
    return int(seconds)


def _add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        default=DEFAULT_DIR,
        type=Path,
        help=f"the devnet folder (default ./{DEFAULT_DIR})",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    devnet = subparsers.add_parser("devnet", help="a local anvil chain with the contracts")
    sub = devnet.add_subparsers(dest="action", metavar="ACTION", required=True)

    up = sub.add_parser(
        "up",
        help="start anvil, deploy, register operators, write service configs",
        description=(
            "Start anvil on 127.0.0.1 (detached), deploy the devnet contracts, register an AVS "
            "with an aggregator operator set (0) and an executor operator set (1) of N "
            "operators, and write deployment.json, aggregator.yaml and executor-<i>.yaml into "
            "the devnet folder. Re-running with the same options reports the running devnet."
        ),
    )
    _add_dir(up)
    up.add_argument("--port", type=int, default=8545, help="anvil's RPC port (default 8545)")
    up.add_argument("--operators", type=int, default=3, help="executor operators (default 3)")
    up.add_argument("--curve", choices=["ecdsa", "bn254"], default="ecdsa", help="signing curve")
    up.add_argument(
        "--threshold-bips",
        type=int,
        default=6667,
        help="stake needed for a certificate, in bips of the total (default 6667)",
    )
    up.add_argument(
        "--weights",
        type=_weights,
        help="executor stake weights, e.g. 100,100,50 (default 100 each)",
    )
    up.add_argument(
        "--task-sla", type=_seconds, default=60, help="task deadline after creation (default 60s)"
    )
    up.add_argument(
        "--grpc-base-port",
        type=int,
        default=9090,
        help="executor i serves gRPC on this port + i (default 9090)",
    )
    up.add_argument(
        "--ops-base-port",
        type=int,
        default=8080,
        help="aggregator ops port; executor i uses this port + 1 + i (default 8080)",
    )
    up.set_defaults(handler=run_up)

    down = sub.add_parser("down", help="stop the devnet's anvil")
    _add_dir(down)
    down.set_defaults(handler=run_down)

    task = sub.add_parser("task", help="create a task and print its task hash")
    _add_dir(task)
    task.add_argument("--payload", required=True, help="task payload as hex, e.g. 0x04")
    task.set_defaults(handler=run_task)

    status = sub.add_parser("status", help="a task's on-chain status and result")
    _add_dir(status)
    status.add_argument("task_hash", metavar="TASK", help="the task hash (0x + 64 hex digits)")
    status.set_defaults(handler=run_status)


def _quiet_logs() -> None:
    from ponos import log

    log.configure("warning", "console", stream=sys.stderr)


def run_up(args: argparse.Namespace) -> int:
    from ponos.devnet.manager import UpOptions, devnet_up

    _quiet_logs()
    options = UpOptions(
        directory=args.dir,
        port=args.port,
        operators=args.operators,
        curve=args.curve,
        threshold_bips=args.threshold_bips,
        task_sla=args.task_sla,
        weights=args.weights,
        grpc_base_port=args.grpc_base_port,
        ops_base_port=args.ops_base_port,
    )
    result = devnet_up(options)
    d = result.deployment
    folder = args.dir
    if result.reused:
        print(f"Devnet already running from {folder}: anvil pid {result.pid} on {d.rpc_url}")
        print("Same parameters: nothing redeployed; configs rewritten.")
    else:
        print(f"Devnet up: anvil pid {result.pid} on {d.rpc_url} (chain {d.chain_id}, loopback)")
    print(f"  AVS               {d.avs}")
    print(f"  AVS registrar     {d.avs_registrar}")
    print(f"  TaskMailbox       {d.contracts['TaskMailbox']}")
    print(
        f"  operator sets     aggregator {d.aggregator_operator_set_id} "
        f"({d.aggregator.address}), executors {d.executor_operator_set_id}: "
        f"{len(d.executors)} operators, {d.curve}, threshold {d.threshold_bips} bips, "
        f"task SLA {d.task_sla}s"
    )
    for op in d.executors:
        print(f"    executor {op.index}  {op.address}  weight {op.weight}  socket {op.socket}")
    print("Files:")
    for path in result.files:
        print(f"  {path}")
    print("Start the services (each in its own terminal):")
    for i in range(len(d.executors)):
        print(f"  ponos executor run --config {folder / f'executor-{i}.yaml'}")
    print(f"  ponos aggregator run --config {folder / 'aggregator.yaml'}")
    print(f"Create a task:  ponos devnet task --dir {folder} --payload 0x04")
    print(f"Task status:    ponos devnet status --dir {folder} TASK")
    print(f"Stop:           ponos devnet down --dir {folder}")
    return 0


def run_down(args: argparse.Namespace) -> int:
    from ponos.devnet.manager import devnet_down

    pid = devnet_down(args.dir)
    if pid is None:
        print(f"No devnet running from {args.dir}.")
    else:
        print(f"Stopped anvil (pid {pid}) of the devnet in {args.dir}.")
    return 0


def run_task(args: argparse.Namespace) -> int:
    from ponos.devnet.manager import client_for, parse_payload

    _quiet_logs()
    payload = parse_payload(args.payload)
    task = client_for(args.dir).create_task(payload)
    print(task.task_hash)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from ponos.chain.types import TaskStatus
    from ponos.devnet.manager import client_for

    _quiet_logs()
    client = client_for(args.dir)
    status = client.task_status(args.task_hash)
    if status == TaskStatus.NONE:
        raise DevnetError(f"task {args.task_hash} does not exist on the devnet")
    info = client.task_info(args.task_hash)
    creation_time, sla = info[1], info[10][1]
    print(f"{args.task_hash} {status.name}")
    print(f"  payload   0x{bytes(info[11]).hex()}")
    print(f"  deadline  {creation_time + sla} (unix time)")
    if status == TaskStatus.VERIFIED:
        print(f"  result    0x{client.task_result(args.task_hash).hex()}")
    return 0
