"""A bare grpc.aio proxy on uvloop: the executor's two hops with none of its work. Run as
`python -m bench._proxy_server PORT PERFORMER_PORT`; answers /bench.Proxy/Call by sending the
request bytes (a performer TaskRequest) to the performer's ExecuteTask on one channel and
returning its answer, no protobuf decoding."""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc

from ponos.runtime import run

EXECUTE_TASK = "/eigenlayer.hourglass.v1.performer.PerformerService/ExecuteTask"


async def serve(port: int, performer_port: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{performer_port}") as channel:
        execute = channel.unary_unary(EXECUTE_TASK)

        async def call(request: bytes, context) -> bytes:
            return await execute(request, timeout=60)

        server = grpc.aio.server()
        handler = grpc.method_handlers_generic_handler(
            "bench.Proxy", {"Call": grpc.unary_unary_rpc_method_handler(call)}
        )
        server.add_generic_rpc_handlers((handler,))
        if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
            raise OSError(f"cannot listen on 127.0.0.1:{port}")
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print("proxy server ready", flush=True)
        await stop.wait()
        await server.stop(0)


if __name__ == "__main__":
    run(serve(int(sys.argv[1]), int(sys.argv[2])))
