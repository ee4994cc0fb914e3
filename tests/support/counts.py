"""Counts that reliability tests report (tasks created/verified/lost, crash cycles, ...),
printed in the test session's summary by tests/conftest.py whether or not the test passed."""

from __future__ import annotations

COUNTS: list[str] = []


def report_counts(line: str) -> None:
    """Print a test's counts and keep them for the session summary."""
    print(line)
    COUNTS.append(line)
