"""A performer of protocol v1.14: PerformerService only, no grpc.health.v1 (as older AVS
performers are). Run as a script; listens on $PERFORMER_PORT."""

import asyncio
import os

import grpc

from ponos.pb import performer_pb2, performer_pb2_grpc


class Legacy(performer_pb2_grpc.PerformerServiceServicer):
    async def HealthCheck(self, request, context):
        return performer_pb2.HealthCheckResponse(status=performer_pb2.READY_FOR_TASK)

    async def ExecuteTask(self, request, context):
        return performer_pb2.TaskResponse(
            task_id=request.task_id, result=b"legacy:" + request.payload
        )


async def main() -> None:
    server = grpc.aio.server()
    performer_pb2_grpc.add_PerformerServiceServicer_to_server(Legacy(), server)
    server.add_insecure_port(f"127.0.0.1:{os.environ['PERFORMER_PORT']}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main())
