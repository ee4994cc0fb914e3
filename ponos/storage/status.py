"""The task and deployment status machines: pure tables, no I/O.

Task: pending -> processing | failed | expired; processing -> completed | failed | expired;
completed, failed and expired are terminal; X -> X is rejected.
Deployment: pending -> deploying | failed; deploying -> running | failed; running -> failed;
failed is terminal.
"""

from __future__ import annotations

from enum import StrEnum

from ponos.storage.errors import InvalidTransition


class TaskStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"


class DeploymentStatus(StrEnum):
    PENDING = "pending"
    DEPLOYING = "deploying"
    RUNNING = "running"
    FAILED = "failed"


TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.PROCESSING, TaskStatus.FAILED, TaskStatus.EXPIRED}),
    TaskStatus.PROCESSING: frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.EXPIRED}),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.EXPIRED: frozenset(),
}

DEPLOYMENT_TRANSITIONS: dict[DeploymentStatus, frozenset[DeploymentStatus]] = {
    DeploymentStatus.PENDING: frozenset({DeploymentStatus.DEPLOYING, DeploymentStatus.FAILED}),
    DeploymentStatus.DEPLOYING: frozenset({DeploymentStatus.RUNNING, DeploymentStatus.FAILED}),
    DeploymentStatus.RUNNING: frozenset({DeploymentStatus.FAILED}),
    DeploymentStatus.FAILED: frozenset(),
}

TERMINAL_TASK_STATUSES = frozenset(s for s, nxt in TASK_TRANSITIONS.items() if not nxt)


def is_terminal(status: TaskStatus) -> bool:
    return status in TERMINAL_TASK_STATUSES


def check_task_transition(current: TaskStatus | str, target: TaskStatus | str) -> TaskStatus:
    """Return the target status, or raise InvalidTransition naming both states."""
    if current.__class__ is TaskStatus and target.__class__ is TaskStatus:
        cur, tgt = current, target
    else:
        cur, tgt = _parse(TaskStatus, "task", current, target)
    if tgt not in TASK_TRANSITIONS[cur]:
        raise InvalidTransition("task", cur.value, tgt.value)
    return tgt


def check_deployment_transition(
    current: DeploymentStatus | str, target: DeploymentStatus | str
) -> DeploymentStatus:
    cur, tgt = _parse(DeploymentStatus, "deployment", current, target)
    if tgt not in DEPLOYMENT_TRANSITIONS[cur]:
        raise InvalidTransition("deployment", cur.value, tgt.value)
    return tgt


def _parse(enum: type, what: str, current: object, target: object) -> tuple:
    try:
        cur = enum(current)
    except ValueError:
        raise InvalidTransition(what, str(current), str(target)) from None
    try:
        tgt = enum(target)
    except ValueError:
        raise InvalidTransition(what, cur.value, str(target)) from None
    return cur, tgt


__all__ = [
    "DEPLOYMENT_TRANSITIONS",
    "TASK_TRANSITIONS",
    "TERMINAL_TASK_STATUSES",
    "DeploymentStatus",
    "InvalidTransition",
    "TaskStatus",
    "check_deployment_transition",
    "check_task_transition",
    "is_terminal",
]
