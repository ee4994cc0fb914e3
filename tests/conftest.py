"""Shared test set-up: every asyncio test runs on both the stdlib loop and uvloop.

A test that only needs one loop (long end-to-end runs) selects it with
`@pytest.mark.asyncio(loop_factories=["uvloop"])`.
"""

from __future__ import annotations

import asyncio

import uvloop


def pytest_asyncio_loop_factories(config, item):
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
