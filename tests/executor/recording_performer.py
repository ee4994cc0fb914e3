"""A performer for executor tests that records what the executor sends it.

Every ExecuteTask appends one JSON line to $RECORD_FILE: the task id and the deadline the
executor's call carried (seconds remaining, null when none). Otherwise it behaves like the
hello performer (squares hex payloads) and serves grpc.health.v1. A payload
`wait <ms> <hex>` sleeps <ms> first, so one performer serves fast and slow tasks; a payload
`gate <path> <hex>` waits until the file <path> exists (the test decides when it ends); the payload
`sick` turns its health to NOT_SERVING for good (the process stays up), to test restarts
of performers that are alive but unhealthy.
Run as a script; listens on 127.0.0.1:$PERFORMER_PORT.
"""

import asyncio
import json
import os
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from ponos.pb import performer_pb2, performer_pb2_grpc
from ponos.performer.hello import square_payload


class Recording(performer_pb2_grpc.PerformerServiceServicer):
    def __init__(self, health: health_aio.HealthServicer) -> None:
        self.health = health

    async def ExecuteTask(self, request, context):
        entry = {"task_id": request.task_id.decode(), "remaining": context.time_remaining()}
        with open(os.environ["RECORD_FILE"], "a") as f:  # noqa: ASYNC230 - a tiny append
            f.write(json.dumps(entry) + "\n")
        payload = request.payload
        if payload == b"sick":
            await self.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
            return performer_pb2.TaskResponse(task_id=request.task_id, result=b"sick")
        if payload.startswith(b"gate "):
            _, path, payload = payload.split(b" ", 2)
            while not os.path.exists(path):  # noqa: ASYNC110, ASYNC240 - a test gate
                await asyncio.sleep(0.02)
        if payload.startswith(b"wait "):
            _, millis, payload = payload.split(b" ", 2)
            await asyncio.sleep(int(millis) / 1000)
        return performer_pb2.TaskResponse(task_id=request.task_id, result=square_payload(payload))


async def main() -> None:
    server = grpc.aio.server()
    health = health_aio.HealthServicer()
    performer_pb2_grpc.add_PerformerServiceServicer_to_server(Recording(health), server)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    server.add_insecure_port(f"127.0.0.1:{os.environ['PERFORMER_PORT']}")
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    await server.wait_for_termination()


def recorded(path) -> list[dict]:
    """The entries a recording performer wrote to `path` (for the tests)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


if __name__ == "__main__":
    asyncio.run(main())
