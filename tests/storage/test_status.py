"""The status machines: the allowed transitions table, terminal states, X -> X."""

from __future__ import annotations

import itertools

import pytest

from ponos.errors import PonosError
from ponos.storage.status import (
    DeploymentStatus,
    InvalidTransition,
    TaskStatus,
    check_deployment_transition,
    check_task_transition,
    is_terminal,
)

ALLOWED_TASK = {
    ("pending", "processing"),
    ("pending", "failed"),
    ("pending", "expired"),
    ("processing", "completed"),
    ("processing", "failed"),
    ("processing", "expired"),
}
ALLOWED_DEPLOYMENT = {
    ("pending", "deploying"),
    ("pending", "failed"),
    ("deploying", "running"),
    ("deploying", "failed"),
    ("running", "failed"),
}


@pytest.mark.parametrize("current,target", list(itertools.product(TaskStatus, TaskStatus)))
def test_task_transition_table(current, target):
    if (current.value, target.value) in ALLOWED_TASK:
        assert check_task_transition(current, target) is target
    else:
        with pytest.raises(InvalidTransition) as info:
            check_task_transition(current, target)
        assert current.value in str(info.value) and target.value in str(info.value)


@pytest.mark.parametrize(
    "current,target", list(itertools.product(DeploymentStatus, DeploymentStatus))
)
def test_deployment_transition_table(current, target):
    if (current.value, target.value) in ALLOWED_DEPLOYMENT:
        assert check_deployment_transition(current, target) is target
    else:
        with pytest.raises(InvalidTransition, match=f"from {current.value} to {target.value}"):
            check_deployment_transition(current, target)


def test_terminal_task_states_are_exactly_completed_failed_expired():
    assert {s for s in TaskStatus if is_terminal(s)} == {
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.EXPIRED,
    }


def test_unknown_status_names_are_invalid_transitions_and_operator_errors():
    with pytest.raises(InvalidTransition, match="from pending to done"):
        check_task_transition("pending", "done")
    assert issubclass(InvalidTransition, PonosError)


def test_statuses_accept_their_string_values():
    assert check_task_transition("pending", "processing") is TaskStatus.PROCESSING
