"""The performer slot machine, pure: which state a performer of an AVS is in.

    Staged ──promote──▶ InService ──replace──▶ Draining ──drained──▶ Removed
      │                     │
      └──fail/remove──▶ Removed ◀──remove──┘

Each AVS has at most one Staged and one InService performer; a replaced InService performer
drains its in-flight tasks before it is removed. This module holds the table and nothing else;
manager.py applies it.
"""

from __future__ import annotations

from enum import StrEnum


class SlotStatus(StrEnum):
    STAGED = "Staged"
    IN_SERVICE = "InService"
    DRAINING = "Draining"
    REMOVED = "Removed"


TRANSITIONS: dict[SlotStatus, frozenset[SlotStatus]] = {
    SlotStatus.STAGED: frozenset({SlotStatus.IN_SERVICE, SlotStatus.REMOVED}),
    SlotStatus.IN_SERVICE: frozenset({SlotStatus.DRAINING, SlotStatus.REMOVED}),
    SlotStatus.DRAINING: frozenset({SlotStatus.REMOVED}),
    SlotStatus.REMOVED: frozenset(),
}


class InvalidSlotTransition(ValueError):
    def __init__(self, current: SlotStatus, new: SlotStatus) -> None:
        super().__init__(f"performer cannot go from {current.value} to {new.value}")
        self.current = current
        self.new = new


def check_transition(current: SlotStatus, new: SlotStatus) -> SlotStatus:
    if new not in TRANSITIONS[current]:
        raise InvalidSlotTransition(current, new)
    return new
