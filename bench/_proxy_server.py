"""A bare grpc.aio proxy on uvloop: the executor's two hops with none of its work. Run as
`python -m bench._proxy_server PORT PERFORMER_PORT`; answers /bench.Proxy/Call by sending the
request bytes (a performer TaskRequest) to the performer's ExecuteTask on one channel and
returning its answer, no protobuf decoding."""

from __future__ import annotations

import sys

import grpc

from bench._raw_grpc import serve_raw
from ponos.runtime import run

EXECUTE_TASK = "/eigenlayer.hourglass.v1.performer.PerformerService/ExecuteTask"


async def serve(port: int, performer_port: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{performer_port}") as channel:
        execute = channel.unary_unary(EXECUTE_TASK)

        async def call(request: bytes, context) -> bytes:
            return await execute(request, timeout=60)

        await serve_raw(port, "bench.Proxy", "Call", call)


if __name__ == "__main__":
    run(serve(int(sys.argv[1]), int(sys.argv[2])))
