"""A grpc.aio server on uvloop answering one method with raw request bytes (no protobuf
decoding), until SIGTERM/SIGINT: the shared body of the executor bench's echo and proxy."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

RawHandler = Callable[[bytes, Any], Awaitable[bytes]]


async def serve_raw(port: int, service: str, method: str, handler: RawHandler) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                service, {method: grpc.unary_unary_rpc_method_handler(handler)}
            ),
        )
    )
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise OSError(f"cannot listen on 127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{service} server ready", flush=True)
    await stop.wait()
    await server.stop(0)
