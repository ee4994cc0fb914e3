"""The generated protocol modules under short names.

They are generated from protos/ by grpcio-tools (`make protos`, or the build hook of a
package install); a missing module means that step has not run.
"""

from __future__ import annotations

try:
    from ponos.proto.eigenlayer.hourglass.v1.executor import executor_pb2, executor_pb2_grpc
    from ponos.proto.eigenlayer.hourglass.v1.performer import performer_pb2, performer_pb2_grpc
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "the generated gRPC modules are missing: run `make protos` "
        "(or reinstall ponos, whose build generates them)"
    ) from exc

__all__ = ["executor_pb2", "executor_pb2_grpc", "performer_pb2", "performer_pb2_grpc"]
