"""Reorg detection as a pure function over stored and canonical block hashes."""

from __future__ import annotations

import pytest

from ponos.aggregator.reorg import (
    Header,
    Reorg,
    ReorgTooDeep,
    broken_link,
    find_common_ancestor,
    heights_to_check,
)


def chain(start: int, end: int, fork: str = "a") -> dict[int, str]:
    return {n: f"0x{fork}{n}" for n in range(start, end + 1)}


def test_no_reorg_when_the_stored_tip_is_canonical():
    stored = chain(10, 20)
    assert find_common_ancestor(stored, chain(10, 20), tip=20, max_depth=10) is None


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_reorg_of_depth_n_finds_the_block_below_the_fork(depth):
    stored = chain(10, 20)
    canonical = {**chain(10, 20 - depth), **chain(21 - depth, 20, fork="b")}
    result = find_common_ancestor(stored, canonical, tip=20, max_depth=10)
    assert result == Reorg(ancestor=20 - depth, tip=20)
    assert result.depth == depth


def test_gaps_in_stored_records_are_skipped():
    stored = {10: "0xa10", 14: "0xa14", 20: "0xa20"}
    canonical = {10: "0xa10", 14: "0xb14", 20: "0xb20"}
    assert find_common_ancestor(stored, canonical, tip=20, max_depth=15) == Reorg(10, 20)


def test_deeper_than_allowed_is_an_error():
    stored = chain(1, 20)
    canonical = chain(1, 20, fork="b")
    with pytest.raises(ReorgTooDeep, match="deeper than 5 blocks"):
        find_common_ancestor(stored, canonical, tip=20, max_depth=5)


def test_when_every_stored_block_is_orphaned_the_rescan_starts_where_polling_started():
    # Polling started at block 15: a reorg replacing 15..20 must not rescan below 15.
    stored = chain(15, 20)
    canonical = chain(10, 20, fork="b")
    assert find_common_ancestor(stored, canonical, tip=20, max_depth=64) == Reorg(14, 20)


def test_broken_parent_link_is_found():
    prev = Header(9, "0xa9", "0xa8")
    good = [Header(10, "0xa10", "0xa9"), Header(11, "0xa11", "0xa10")]
    assert broken_link(prev, good) is None
    bad = [Header(10, "0xb10", "0xb9"), Header(11, "0xb11", "0xb10")]
    assert broken_link(prev, bad) == 10
    inner = [Header(10, "0xa10", "0xa9"), Header(11, "0xb11", "0xb10")]
    assert broken_link(prev, inner) == 11


def test_heights_to_check_limits_to_the_window():
    assert heights_to_check([1, 5, 9, 10, 12], tip=12, max_depth=4) == [12, 10, 9]
