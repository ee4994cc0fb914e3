"""The adaptive eth_getLogs span, as a pure state machine."""

from __future__ import annotations

import pytest

from ponos.aggregator.ranges import BlockRange


def drive(sizer: BlockRange, limit: int, requests: int) -> list[tuple[int, bool]]:
    """Simulate a provider refusing spans above `limit`; returns (span, refused) per request."""
    history = []
    for _ in range(requests):
        span = sizer.size
        if span > limit:
            history.append((span, True))
            assert sizer.refused(span) > 0
        else:
            history.append((span, False))
            sizer.accepted(span)
    return history


def test_starts_at_the_maximum_and_stays_there_when_nothing_is_refused():
    sizer = BlockRange(2000)
    assert drive(sizer, 10_000, 10) == [(2000, False)] * 10


@pytest.mark.parametrize("limit", [1, 30, 100, 777, 1999])
def test_settles_at_the_providers_limit_after_a_few_refusals(limit):
    sizer = BlockRange(2000, probe_after=1000)
    history = drive(sizer, limit, 60)
    refusals = sum(refused for _span, refused in history)
    assert refusals <= 2 * 11  # about log2(2000) halvings plus a bisection
    assert history[-10:] == [(limit, False)] * 10


def test_a_refused_span_is_never_asked_for_again_until_the_probe():
    sizer = BlockRange(200, probe_after=1000)
    history = drive(sizer, 30, 100)
    for i, (span, was_refused) in enumerate(history):
        if was_refused:
            assert all(later < span for later, _ in history[i + 1 :])


def test_grows_back_to_the_maximum_once_the_limit_is_lifted():
    sizer = BlockRange(200, probe_after=8)
    drive(sizer, 30, 40)
    assert sizer.size == 30
    history = drive(sizer, 10_000, 20)
    assert history[-1] == (200, False)
    assert sum(was for _s, was in history) == 0


def test_a_lowered_limit_is_followed_down():
    sizer = BlockRange(200, probe_after=1000)
    drive(sizer, 100, 30)
    assert sizer.size == 100
    history = drive(sizer, 40, 30)
    assert history[-5:] == [(40, False)] * 5


def test_short_ranges_at_the_head_do_not_grow_the_size():
    sizer = BlockRange(200, probe_after=1000)
    sizer.refused(200)
    assert sizer.size == 100
    assert sizer.accepted(3) == 100
    assert sizer.good == 0


def test_one_refused_block_leaves_nothing_to_shrink():
    assert BlockRange(1).refused(1) == 0
    with pytest.raises(ValueError):
        BlockRange(0)
