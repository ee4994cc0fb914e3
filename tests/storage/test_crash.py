"""Crash consistency: SIGKILL a real worker process at random moments, reopen, and find
every acknowledged operation (30 cycles here; `make crash-test` runs 500)."""

from __future__ import annotations

from tests.storage.crash import CrashReport, apply_op, check_cycle, empty_state, run_crash_test
from tests.support.counts import report_counts

CYCLES = 30


def test_no_acknowledged_operation_is_lost_across_random_sigkills(tmp_path):
    report = run_crash_test(CYCLES, tmp_path, seed=20261127)
    report_counts(report.summary())
    assert report.cycles == CYCLES
    assert report.acknowledged_ops > CYCLES * 10
    assert report.failed_opens == 0, report.problems
    assert report.lost_acknowledged_ops == 0, report.problems
    assert report.inconsistencies == 0, report.problems


def test_checker_counts_a_missing_acknowledged_operation_as_lost():
    before = empty_state()
    ops = [
        {"op": {"t": "perf_save", "id": "p1", "status": "running"}, "acked": True},
        {"op": {"t": "perf_save", "id": "p2", "status": "running"}, "acked": True},
        {"op": {"t": "perf_del", "id": "p1"}, "acked": False},
    ]
    after = {**before, "performers": apply_op(before["performers"], ops[0]["op"])}
    report = CrashReport()
    check_cycle(before, after, {"performers": ops}, report)
    assert report.lost_acknowledged_ops == 1

    fine = CrashReport()
    full = apply_op(apply_op(before["performers"], ops[0]["op"]), ops[1]["op"])
    check_cycle(before, {**before, "performers": full}, {"performers": ops}, fine)
    in_flight_applied = apply_op(full, ops[2]["op"])
    check_cycle(before, {**before, "performers": in_flight_applied}, {"performers": ops}, fine)
    assert fine.lost_acknowledged_ops == 0 and fine.problems == []
