"""A bare grpc.aio echo server on uvloop (the physical floor the executor bench compares
against). Run as `python -m bench._echo_server PORT`; answers /bench.Echo/Echo with the
request bytes, no protobuf decoding."""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc

from ponos.runtime import run


async def _echo(request: bytes, context) -> bytes:
    return request


async def serve(port: int) -> None:
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server.add_generic_rpc_handlers((handler,))
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise OSError(f"cannot listen on 127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("echo server ready", flush=True)
    await stop.wait()
    await server.stop(0)


if __name__ == "__main__":
    run(serve(int(sys.argv[1])))
