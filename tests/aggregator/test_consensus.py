"""Stake-weighted consensus: most-weighted identical digest, integer threshold as on chain."""

from __future__ import annotations

import pytest

from ponos.aggregator.consensus import Consensus, ConsensusError

OPS = {"0xa": 100, "0xb": 100, "0xc": 100}


def test_two_of_three_equal_weights_meet_6667_bips_as_the_chain_counts():
    # The verifiers require signed >= floor(300 * 6667 / 10000) = 200.
    c = Consensus(OPS, 6667)
    assert not c.add("0xa", b"r1").met
    decision = c.add("0xb", b"r1")
    assert decision.met and decision.weight == 200 and decision.signers == ("0xa", "0xb")
    assert c.required == 200


def test_one_of_three_never_meets_6667_bips():
    c = Consensus(OPS, 6667)
    c.add("0xa", b"r1")
    c.add("0xb", b"r2")
    decision = c.add("0xc", b"r3")
    assert not decision.met and decision.weight == 100


def test_a_wrong_result_does_not_count_towards_the_right_one():
    c = Consensus({"0xa": 50, "0xb": 30, "0xc": 20}, 5000)
    c.add("0xb", b"wrong")
    assert not c.decision().met
    decision = c.add("0xa", b"right")
    assert decision.met and decision.digest == b"right"
    assert c.non_signers(b"right") == ["0xb", "0xc"]


def test_stake_weight_not_head_count_decides():
    c = Consensus({"0xa": 900, "0xb": 50, "0xc": 50}, 6667)
    c.add("0xb", b"x")
    c.add("0xc", b"x")
    assert not c.decision().met
    assert c.add("0xa", b"y").met


def test_duplicate_answers_count_once_and_strangers_are_rejected():
    c = Consensus(OPS, 5000)
    c.add("0xA", b"r")
    assert c.add("0xa", b"r").weight == 100
    with pytest.raises(ConsensusError):
        c.add("0xd", b"r")


def test_can_still_reach_turns_false_when_impossible():
    c = Consensus(OPS, 10000)
    c.add("0xa", b"r1")
    assert c.can_still_reach()
    c.add("0xb", b"r2")
    assert not c.can_still_reach()


@pytest.mark.parametrize("bad", [0, 10_001])
def test_threshold_out_of_range_is_refused(bad):
    with pytest.raises(ConsensusError):
        Consensus(OPS, bad)


def test_table_total_counts_operators_we_cannot_reach():
    c = Consensus({"0xa": 100, "0xb": 100}, 6667, total=400)
    c.add("0xa", b"r")
    assert not c.add("0xb", b"r").met  # 200 < floor(400 * 6667 / 10000) = 266
    assert not c.can_still_reach()
