"""`ponos devnet up | down | task | status | chain | deploy`: a local chain with the EigenLayer
contracts. `chain` and `deploy` split `up` in two for Docker Compose (a chain service, a setup
service)."""

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
        "--block-time",
        type=int,
        default=1,
        help="seconds between blocks once deployed, like a real chain (0 = a block per tx)",
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

    _register_compose_commands(sub)


def _register_compose_commands(sub: argparse._SubParsersAction) -> None:
    chain = sub.add_parser(
        "chain",
        help="run anvil in the foreground (a chain service for Docker Compose)",
        description=(
            "Run anvil in the foreground until SIGTERM or Ctrl-C, on loopback unless --host "
            "says otherwise (0.0.0.0 inside a container, so other containers reach it). "
            "Deploy to it with `ponos devnet deploy`."
        ),
    )
    chain.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    chain.add_argument("--port", type=int, default=8545, help="RPC port (default 8545)")
    chain.set_defaults(handler=run_chain)

    deploy = sub.add_parser(
        "deploy",
        help="deploy to a running chain and write the configs of a one-executor topology",
        description=(
            "Deploy the devnet contracts to the chain at --rpc-url, register an AVS with an "
            "aggregator and one executor operator whose socket is --executor-socket, and write "
            "deployment.json, aggregator.yaml and executor.yaml into --dir. The executor runs "
            "the hello performer as an endpoint performer at --performer-endpoint (else as a "
            "process); both services bind --bind-host and keep their data under --data-root. "
            "Idempotent: a live deployment in --dir with the same options is reused."
        ),
    )
    _add_dir(deploy)
    deploy.add_argument("--rpc-url", required=True, help="the chain, e.g. http://chain:8545")
    deploy.add_argument(
        "--executor-socket",
        default="127.0.0.1:9090",
        help="host:port the aggregator dials; its port is the executor's gRPC port "
        "(default 127.0.0.1:9090)",
    )
    deploy.add_argument(
        "--performer-endpoint",
        help="host:port of a running performer, e.g. performer:8080 (default: the hello "
        "performer as a process of the executor)",
    )
    deploy.add_argument(
        "--data-root",
        type=Path,
        help="data under ROOT/aggregator and ROOT/executor (default DIR/data)",
    )
    deploy.add_argument(
        "--bind-host",
        default="127.0.0.1",
        help="address the executor's gRPC and both ops servers bind (default 127.0.0.1)",
    )
    deploy.add_argument(
        "--aggregator-ops-port", type=int, default=8080, help="aggregator ops port (8080)"
    )
    deploy.add_argument(
        "--executor-ops-port", type=int, default=8081, help="executor ops port (8081)"
    )
    deploy.add_argument("--curve", choices=["ecdsa", "bn254"], default="ecdsa", help="curve")
    deploy.add_argument(
        "--threshold-bips", type=int, default=6667, help="stake needed (default 6667 bips)"
    )
    deploy.add_argument(
        "--task-sla", type=_seconds, default=60, help="task deadline after creation (60s)"
    )
    deploy.add_argument(
        "--block-time",
        type=int,
        default=1,
        help="seconds between blocks once deployed (0 = a block per transaction)",
    )
    deploy.set_defaults(handler=run_deploy)


def _quiet_logs() -> None:
    from ponos import log

    log.configure("warning", "console", stream=sys.stderr)


def run_up(args: argparse.Namespace) -> int:
    from ponos.devnet.manager import UpOptions, devnet_up

    _quiet_logs()
    if args.block_time < 0:
        raise DevnetError("--block-time must be 0 or more seconds")
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
        block_time=args.block_time,
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


def run_chain(args: argparse.Namespace) -> int:
    from ponos.devnet.chain import run_chain as run

    return run(host=args.host, port=args.port)


def run_deploy(args: argparse.Namespace) -> int:
    from ponos.devnet.provision import DeployOptions, deploy_to_chain

    _quiet_logs()
    options = DeployOptions(
        rpc_url=args.rpc_url,
        directory=args.dir,
        executor_socket=args.executor_socket,
        performer_endpoint=args.performer_endpoint,
        data_root=args.data_root,
        bind_host=args.bind_host,
        aggregator_ops_port=args.aggregator_ops_port,
        executor_ops_port=args.executor_ops_port,
        curve=args.curve,
        threshold_bips=args.threshold_bips,
        task_sla=args.task_sla,
        block_time=args.block_time,
    )
    result = deploy_to_chain(options)
    d = result.deployment
    if result.reused:
        print(f"Devnet already deployed on {d.rpc_url}: reused, configs rewritten.")
    else:
        print(f"Devnet deployed on {d.rpc_url} (chain {d.chain_id}).")
    for path in result.cleared:
        print(f"  removed old data {path}")
    print(f"  AVS               {d.avs}")
    print(f"  TaskMailbox       {d.contracts['TaskMailbox']}")
    executor = d.executors[0]
    print(f"  executor          {executor.address}  socket {executor.socket}  {d.curve}")
    performer = args.performer_endpoint or "the hello performer, as a process"
    print(f"  performer         {performer}")
    print("Files:")
    for path in result.files:
        print(f"  {path}")
    print(f"Create a task:  ponos devnet task --dir {args.dir} --payload 0x04")
    return 0


def register_demo(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the whole system locally: devnet, 3 executors, aggregator, tasks",
        description=(
            "Start the devnet, three executors with hello performers and the aggregator; "
            "create tasks and show them verified on chain; list performers with grpcurl; take "
            "a snapshot through the admin endpoint; then keep running until Ctrl-C."
        ),
    )
    _add_dir(demo)
    demo.add_argument("--tasks", type=int, default=5, help="how many tasks to create (default 5)")
    demo.add_argument("--curve", choices=["ecdsa", "bn254"], default="ecdsa", help="signing curve")
    demo.add_argument("--port", type=int, default=8545, help="anvil's RPC port (default 8545)")
    demo.add_argument("--grpc-base-port", type=int, default=9090, help="executor i: port + i")
    demo.add_argument(
        "--ops-base-port", type=int, default=8080, help="aggregator; executors + 1 + i"
    )
    demo.add_argument(
        "--no-hold", dest="hold", action="store_false", help="stop everything once the demo is done"
    )
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from ponos.devnet.demo import Demo, DemoOptions

    if not 1 <= args.tasks <= 200:
        raise DevnetError("--tasks must be between 1 and 200")
    options = DemoOptions(
        directory=args.dir,
        tasks=args.tasks,
        curve=args.curve,
        hold=args.hold,
        port=args.port,
        grpc_base_port=args.grpc_base_port,
        ops_base_port=args.ops_base_port,
    )
    return Demo(options).run()
