"""Shared test set-up.

Every asyncio test runs on both the stdlib loop and uvloop. A test that only needs one loop
(long end-to-end runs) selects it with `@pytest.mark.asyncio(loop_factories=["uvloop"])`.
"""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from ponos.devnet.anvil import Anvil


def pytest_asyncio_loop_factories(config, item):
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture
def anvil():
    """A fresh anvil node on a free loopback port, stopped after the test (even on failure)."""
    node = Anvil().start()
    try:
        yield node
    finally:
        node.stop()
