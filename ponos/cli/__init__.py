"""The `ponos` command: argument parsing and dispatch only; the work lives in the packages.

Each subcommand group is a module in this package with `register(subparsers)`; a handler
returns an exit code. Operator errors (PonosError) are printed as one line on stderr with
their exit code (2 for configuration and usage), never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ponos import __version__
from ponos.errors import PonosError

# Subcommand groups, in the order `ponos --help` lists them.
COMMAND_MODULES = ("services", "performer", "db", "keys", "devnet", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ponos",
        description="Ponos-py: EigenLayer Hourglass aggregator and executor services.",
    )
    parser.add_argument("--version", action="version", version=f"ponos {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"ponos.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except PonosError as exc:
        print(f"ponos: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
