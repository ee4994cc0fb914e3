"""Health verdicts: pure decisions over checks, mapped to EigenLayer's node API codes."""

from __future__ import annotations

from ponos.ops.health import Check, decide


def test_all_checks_passing_is_healthy_and_ready():
    verdict = decide([Check("storage", True), Check("rpc", True)], started=True, stopping=False)
    assert (verdict.status, verdict.ready, verdict.eigen_code) == ("healthy", True, 200)


def test_a_failing_check_is_partial_and_not_ready():
    verdict = decide(
        [Check("storage", True), Check("lag", False, "30 blocks")], started=True, stopping=False
    )
    assert (verdict.status, verdict.ready, verdict.eigen_code) == ("partial", False, 206)
    assert verdict.to_dict()["checks"]["lag"] == {"ok": False, "detail": "30 blocks"}


def test_an_essential_failure_is_unhealthy():
    verdict = decide([Check("storage", False, essential=True)], started=True, stopping=False)
    assert (verdict.status, verdict.eigen_code) == ("unhealthy", 503)


def test_starting_and_stopping():
    assert decide([], started=False, stopping=False).eigen_code == 206
    stopping = decide([Check("storage", True)], started=True, stopping=True)
    assert (stopping.status, stopping.ready, stopping.eigen_code) == ("stopping", False, 503)
