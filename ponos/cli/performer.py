"""`ponos performer hello`: the example performer."""

from __future__ import annotations

import argparse

from ponos import log
from ponos.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    perf = subparsers.add_parser("performer", help="example performer for AVS authors")
    sub = perf.add_subparsers(dest="action", metavar="ACTION", required=True)
    hello = sub.add_parser(
        "hello",
        help="serve the hello performer (squares a hex integer)",
        description=(
            "Serve the example performer: payload '0x04' -> result '0x10'. Speaks "
            "PerformerService and grpc.health.v1. Port: --port, else PERFORMER_PORT or PORT, "
            "else 8080. TASK_DELAY_MS delays each task."
        ),
    )
    hello.add_argument("--port", type=int, help="port to listen on")
    hello.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    hello.add_argument("--log-format", choices=["json", "console"], default="json")
    hello.set_defaults(handler=run_hello)


def run_hello(args: argparse.Namespace) -> int:
    from ponos.performer.hello import HelloWorker
    from ponos.performer.server import port_from_env, serve

    log.configure("info", args.log_format)
    try:
        worker = HelloWorker()
        port = args.port if args.port is not None else port_from_env()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        serve(worker, port=port, host=args.host)
    except OSError as exc:
        raise ConfigError(str(exc)) from None
    return 0
