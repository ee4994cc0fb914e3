"""The records both services persist (dataclasses; stored as JSON by codec.py)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Literal

from ponos.storage.codec import RecordCodec
from ponos.storage.errors import InvalidRecord
from ponos.storage.status import DeploymentStatus, TaskStatus

_TASK_ID = re.compile(r"0x[0-9a-fA-F]{64}\Z")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\Z")

PerformerRuntime = Literal["process", "docker", "endpoint"]
PerformerSlot = Literal["current", "staged"]
PERFORMER_RUNTIMES = ("process", "docker", "endpoint")
PERFORMER_SLOTS = ("current", "staged")


_HEX_DIGITS = "0123456789abcdefABCDEF"


def normalize_task_id(task_id: str) -> str:
    """A task id is 0x + 64 hex digits; stored lowercase."""
    if (
        task_id.__class__ is str
        and len(task_id) == 66
        and task_id[:2] == "0x"
        and not task_id[2:].strip(_HEX_DIGITS)
    ):
        return task_id.lower()  # the common case, without the regular expression
    if not isinstance(task_id, str) or not _TASK_ID.match(task_id):
        raise InvalidRecord(f"task id {task_id!r} is not 0x followed by 64 hex digits")
    return task_id.lower()


def normalize_address(address: str, what: str = "address") -> str:
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise InvalidRecord(f"{what} {address!r} is not 0x followed by 40 hex digits")
    return address.lower()


def normalize_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not value or "/" in value:
        raise InvalidRecord(f"{what} {value!r} must be a non-empty string without '/'")
    return value


@dataclasses.dataclass(slots=True)
class BlockRecord:
    chain_id: int
    number: int
    hash: str
    parent_hash: str
    timestamp: int


@dataclasses.dataclass(slots=True)
class TaskRecord:
    task_id: str
    avs_address: str
    chain_id: int
    block_number: int
    block_hash: str
    log_index: int
    operator_set_id: int
    reference_timestamp: int
    deadline: int
    payload: bytes
    creator: str
    status: TaskStatus = TaskStatus.PENDING
    reason: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    result: bytes | None = None
    certificate: bytes | None = None
    tx_hash: str | None = None
    attempts: int = 0


@dataclasses.dataclass(slots=True)
class PerformerState:
    performer_id: str
    avs_address: str
    runtime: str = "process"
    status: str = ""
    slot: str = "current"
    artifact_registry: str = ""
    artifact_digest: str = ""
    artifact_tag: str = ""
    resource_id: str = ""
    endpoint: str = ""
    command: list[str] | None = None
    env: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    network_name: str | None = None
    deployment_id: str | None = None
    created_at: float = 0.0
    last_health_check: float | None = None
    resource_healthy: bool = False
    application_healthy: bool = False


@dataclasses.dataclass(slots=True)
class DeploymentRecord:
    deployment_id: str
    avs_address: str
    artifact_registry: str
    artifact_digest: str
    status: DeploymentStatus = DeploymentStatus.PENDING
    started_at: float = 0.0
    completed_at: float | None = None
    error: str | None = None
    performer_id: str | None = None


@dataclasses.dataclass(slots=True)
class InflightTask:
    task_id: str
    avs_address: str
    operator_set_id: int
    aggregator_address: str
    received_at: float
    deadline: float


@dataclasses.dataclass(slots=True)
class ProcessedTask:
    task_id: str
    avs_address: str
    operator_set_id: int
    operator_address: str
    output: bytes
    signature: bytes
    output_digest: bytes
    auth_signature: bytes
    processed_at: float
    expires_at: float


BLOCK_CODEC = RecordCodec(BlockRecord)
TASK_CODEC = RecordCodec(TaskRecord)
PERFORMER_CODEC = RecordCodec(PerformerState)
DEPLOYMENT_CODEC = RecordCodec(DeploymentRecord)
INFLIGHT_CODEC = RecordCodec(InflightTask)
PROCESSED_CODEC = RecordCodec(ProcessedTask)
