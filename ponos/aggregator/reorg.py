"""Reorg detection, pure: stored block hashes and canonical headers in, a decision out.

The poller keeps the hash of every block it processed near the head (the "reorg window";
older blocks are final for our purposes) and, before extending the chain, checks that the
block it last processed is still canonical. Because each block hash commits to its parent,
one changed hash at the tip means some suffix of the stored chain was replaced; walking back
over the stored hashes finds the highest block that is still canonical: the common ancestor.
Everything above it is orphaned and must be rolled back and scanned again.

No I/O here: the poller fetches headers and feeds them in (tests feed them directly).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int = 0


class ReorgTooDeep(Exception):
    """No stored block within the allowed depth is canonical any more."""

    def __init__(self, tip: int, depth: int) -> None:
        super().__init__(
            f"chain reorganization deeper than {depth} blocks below block {tip}: "
            "no stored block in the window is canonical"
        )
        self.tip = tip
        self.depth = depth


@dataclass(frozen=True)
class Reorg:
    """The stored chain diverged: roll back to `ancestor` and rescan from ancestor + 1."""

    ancestor: int
    tip: int

    @property
    def depth(self) -> int:
        return self.tip - self.ancestor


def broken_link(previous: Header | None, headers: Sequence[Header]) -> int | None:
    """The first height in `headers` (ascending, contiguous) whose parent is not the block
    before it; None when the sequence extends `previous` cleanly."""
    before = previous
    for header in headers:
        if (
            before is not None
            and header.number == before.number + 1
            and header.parent_hash != before.hash
        ):
            return header.number
        before = header
    return None


def find_common_ancestor(
    stored: Mapping[int, str],
    canonical: Mapping[int, str],
    tip: int,
    max_depth: int,
) -> Reorg | None:
    """Compare stored hashes with canonical ones from `tip` downwards.

    Returns None when the stored tip is canonical (no reorg), else the Reorg with the highest
    height whose stored hash equals the canonical one. Heights with no stored record are
    skipped (nothing of ours depends on them); the caller must supply canonical hashes for
    every stored height it wants considered. When no stored block matches but we never
    stored anything as deep as `max_depth` (polling started recently), everything we stored
    is orphaned: the ancestor is the block below our lowest one (we never look below where
    we started). Raises ReorgTooDeep when the whole window is stored and nothing matches.
    """
    if stored.get(tip) is not None and canonical.get(tip) == stored[tip]:
        return None
    for height in range(tip - 1, max(tip - max_depth, -1) - 1, -1):
        ours = stored.get(height)
        if ours is None:
            continue
        theirs = canonical.get(height)
        if theirs is None:
            continue
        if theirs == ours:
            return Reorg(ancestor=height, tip=tip)
    window = [h for h in stored if tip - max_depth <= h <= tip]
    if window and min(window) > tip - max_depth:
        return Reorg(ancestor=min(window) - 1, tip=tip)
    raise ReorgTooDeep(tip, max_depth)


def heights_to_check(stored_heights: Sequence[int], tip: int, max_depth: int) -> list[int]:
    """Which canonical headers the poller must fetch to run find_common_ancestor."""
    floor = tip - max_depth
    return sorted((h for h in stored_heights if floor <= h <= tip), reverse=True)
