"""`python -m ponos.performer`: the hello performer without the full `ponos` CLI.

Same behaviour as `ponos performer hello` (port from --port / PERFORMER_PORT / PORT, default
8080; TASK_DELAY_MS), but it imports only what a performer needs, so it is ready in about
half the time; executors that start many performers (tests, benchmarks) use it.
"""

from __future__ import annotations

import argparse
import sys

from ponos import log
from ponos.performer.hello import HelloWorker
from ponos.performer.server import port_from_env, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ponos.performer", description="Serve the hello performer."
    )
    parser.add_argument("--port", type=int, help="port (default: PERFORMER_PORT, PORT, 8080)")
    parser.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    args = parser.parse_args(argv)
    log.configure("info", "json")
    try:
        worker = HelloWorker()
        port = args.port if args.port is not None else port_from_env()
        serve(worker, port=port, host=args.host)
    except (ValueError, OSError) as exc:
        print(f"performer: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
