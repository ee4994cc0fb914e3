"""Writing performers: the process an AVS runs behind the executor.

A performer is a gRPC server speaking `eigenlayer.hourglass.v1.performer.PerformerService`
(ExecuteTask, HealthCheck, StartSync) and the standard `grpc.health.v1.Health`, so executors of
both protocol generations can health-check it. An AVS author writes a worker and serves it:

    from ponos.performer import TaskError, serve

    class Square:
        def validate(self, task_id: str, payload: bytes) -> None:
            if not payload:
                raise TaskError("empty payload")

        def handle(self, task_id: str, payload: bytes) -> bytes:
            n = int(payload)
            return str(n * n).encode()

    serve(Square())          # port from --port / PERFORMER_PORT / PORT, default 8080
"""

from ponos.performer.server import PerformerServer, TaskError, Worker, serve

__all__ = ["PerformerServer", "TaskError", "Worker", "serve"]
