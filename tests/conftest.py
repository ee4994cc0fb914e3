"""Shared test set-up.

Every asyncio test runs on both the stdlib loop and uvloop. A test that only needs one loop
(long end-to-end runs) selects it with `@pytest.mark.asyncio(loop_factories=["uvloop"])`.
"""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from ponos.devnet.anvil import Anvil
from ponos.devnet.local import local_devnet


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


@pytest.fixture(scope="module")
def devnet():
    """A devnet per test module: anvil + deployed contracts + 3 ECDSA executors (weights 100)
    and an aggregator, threshold 6667 bips, task SLA 60 s. Stopped after the module, even on
    failure. Tests that need isolation create their own tasks, or use snapshot()/revert()."""
    with local_devnet(operators=3, curve="ecdsa") as net:
        yield net


@pytest.fixture(scope="module")
def devnet_bn254():
    """As `devnet`, with BN254 keys for both operator sets."""
    with local_devnet(operators=3, curve="bn254") as net:
        yield net


def pytest_terminal_summary(terminalreporter) -> None:
    """The crash, reorg and fault tests' counts, at the end of every run that ran them."""
    from tests.support.counts import COUNTS

    if COUNTS:
        terminalreporter.section("reliability counts (exactly once, nothing lost)")
        for line in COUNTS:
            terminalreporter.write_line(line)
