"""`ponos demo` (the implementation lives in ponos.devnet.demo)."""

from ponos.cli.devnet import register_demo as register

__all__ = ["register"]
