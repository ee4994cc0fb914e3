"""Syntactic checks of incoming requests, pure: each failure names the field."""

from __future__ import annotations

import re

from ponos.executor.errors import InvalidArgument

_TASK_ID = re.compile(r"0x[0-9a-fA-F]{64}\Z")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\Z")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")

SUPPORTED_SUBMISSION_VERSIONS = (1,)


def task_id(value: str, field: str = "task_id") -> str:
    if not value:
        raise InvalidArgument(f"{field} is required")
    if not _TASK_ID.match(value):
        raise InvalidArgument(f"{field} must be 0x followed by 64 hex digits")
    return value.lower()


def address(value: str, field: str) -> str:
    if not value:
        raise InvalidArgument(f"{field} is required")
    if not _ADDRESS.match(value):
        raise InvalidArgument(f"{field} must be an address: 0x followed by 40 hex digits")
    return value.lower()


def sha256_digest(value: str, field: str = "digest") -> str:
    if not value:
        raise InvalidArgument(f"{field} is required")
    if not _DIGEST.match(value.lower()):
        raise InvalidArgument(f"{field} must be sha256: followed by 64 hex digits")
    return value.lower()


def submission(request, operator_address: str) -> dict:
    """Check a TaskSubmission; returns its normalised fields."""
    fields = {
        "task_id": task_id(request.task_id),
        "aggregator_address": address(request.aggregator_address, "aggregator_address"),
        "avs_address": address(request.avs_address, "avs_address"),
    }
    executor = address(request.executor_address, "executor_address")
    ours = operator_address.lower()
    if executor != ours:
        raise InvalidArgument(
            f"executor_address {executor} is not this executor's operator ({ours})"
        )
    if not request.signature:
        raise InvalidArgument("signature is required")
    if request.reference_timestamp == 0:
        raise InvalidArgument("reference_timestamp is required")
    if request.task_block_number == 0:
        raise InvalidArgument("task_block_number is required")
    if request.version not in SUPPORTED_SUBMISSION_VERSIONS:
        raise InvalidArgument(
            f"version {request.version} is not supported (this executor accepts version 1: "
            "the aggregator signs task id, AVS, executor, operator set, reference timestamp, "
            "block and payload hash)"
        )
    fields["executor_address"] = executor
    return fields
