"""Errors of the performer layer; the gRPC handlers map each to a status code."""

from __future__ import annotations

from ponos.errors import PonosError


class PerformerError(PonosError):
    """Base of everything the performer layer raises."""


class DeploymentInProgress(PerformerError):
    """Another deploy for the same AVS holds the lock (gRPC ALREADY_EXISTS)."""


class DeploymentTimeout(PerformerError):
    """The staged performer did not become healthy in time (gRPC DEADLINE_EXCEEDED)."""


class DeploymentFailed(PerformerError):
    """The staged performer could not be started (gRPC INTERNAL / FAILED_PRECONDITION)."""


class ArtifactRejected(PerformerError):
    """The artifact is missing, unreadable or its digest does not match (INVALID_ARGUMENT)."""


class PerformerNotFound(PerformerError):
    """No live performer with that id (gRPC NOT_FOUND)."""


class NoCurrentPerformer(PerformerError):
    """The AVS has no performer in service to run tasks (gRPC UNAVAILABLE)."""


class PerformerCallFailed(PerformerError):
    """The performer answered a task with an error or not at all."""

    def __init__(self, message: str, *, code_name: str = "UNAVAILABLE") -> None:
        super().__init__(message)
        self.code_name = code_name


class RuntimeUnavailable(PerformerError):
    """The runtime cannot be used here (e.g. no Docker engine reachable)."""
