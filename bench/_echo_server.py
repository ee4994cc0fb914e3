"""A bare grpc.aio echo server on uvloop (the physical floor the executor bench compares
against). Run as `python -m bench._echo_server PORT`; answers /bench.Echo/Echo with the
request bytes, no protobuf decoding."""

from __future__ import annotations

import sys

from bench._raw_grpc import serve_raw
from ponos.runtime import run


async def _echo(request: bytes, context) -> bytes:
    return request


if __name__ == "__main__":
    run(serve_raw(int(sys.argv[1]), "bench.Echo", "Echo", _echo))
