"""Fixtures of the aggregator tests: devnets with real executors, shared per session.

Every test runs its own aggregator (fresh data dir, starting at the current head), so the
tests share the chain and the executors but not their tasks.
"""

from __future__ import annotations

import pytest
import structlog

from tests.support.cluster import DevnetCluster, devnet_cluster

LIAR = 2  # executor 2 answers payloads starting with b"lie:" wrongly


@pytest.fixture(scope="session")
def ecdsa_cluster(tmp_path_factory) -> DevnetCluster:
    with devnet_cluster(tmp_path_factory.mktemp("ecdsa-cluster"), curve="ecdsa", liar=LIAR) as c:
        yield c


@pytest.fixture(scope="session")
def bn254_cluster(tmp_path_factory) -> DevnetCluster:
    with devnet_cluster(tmp_path_factory.mktemp("bn254-cluster"), curve="bn254", liar=LIAR) as c:
        yield c


@pytest.fixture
def ecdsa(ecdsa_cluster: DevnetCluster) -> DevnetCluster:
    """The ECDSA cluster with every executor running and automine on."""
    ecdsa_cluster.ensure_running()
    ecdsa_cluster.set_interval_mining(0)
    return ecdsa_cluster


@pytest.fixture
def bn254(bn254_cluster: DevnetCluster) -> DevnetCluster:
    bn254_cluster.ensure_running()
    bn254_cluster.set_interval_mining(0)
    return bn254_cluster


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.call_failed = report.failed


@pytest.fixture
def logs(request) -> list[dict]:
    """Every structured log event of the test, as dicts ("event" is the message); printed
    when the test fails (they do not reach the captured output otherwise)."""
    with structlog.testing.capture_logs() as captured:
        yield captured
    if getattr(request.node, "call_failed", False):
        for event in captured:
            print(event)


def events(logs: list[dict], message: str) -> list[dict]:
    return [e for e in logs if str(e.get("event", "")).startswith(message)]
