"""Stake-weighted consensus over executor results, pure.

Executors answer a task with a result; results are grouped by their digest (identical
results agree). The group with the most weight wins, and the task is complete once the
winning group's weight reaches the on-chain threshold: exactly the check EigenLayer's
certificate verifiers make, `signed >= total * thresholdBips // 10000` in integers, so a
certificate we submit never fails for lack of weight and we never wait for more weight than
the chain asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

BIPS = 10_000


@dataclass
class Group:
    digest: bytes
    weight: int = 0
    operators: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Decision:
    met: bool
    digest: bytes | None
    weight: int
    total: int
    signers: tuple[str, ...]


class ConsensusError(ValueError):
    pass


class Consensus:
    """Feed it verified responses; ask it whether the threshold is met."""

    def __init__(
        self, weights: Mapping[str, int], threshold_bips: int, total: int | None = None
    ) -> None:
        """`total` is the operator table's total weight when it is more than the sum of the
        operators we can reach (e.g. members without a socket still count on chain)."""
        if not 0 < threshold_bips <= BIPS:
            raise ConsensusError(
                f"threshold must be between 1 and {BIPS} bips, got {threshold_bips}"
            )
        if not weights:
            raise ConsensusError("the operator set has no operators with weight")
        if any(w < 0 for w in weights.values()):
            raise ConsensusError("operator weights cannot be negative")
        self.weights = {op.lower(): int(w) for op, w in weights.items()}
        self.total = sum(self.weights.values()) if total is None else total
        if self.total < sum(self.weights.values()):
            raise ConsensusError("the total weight is less than the operators' weights")
        if self.total == 0:
            raise ConsensusError("the operator set's total weight is zero")
        self.threshold_bips = threshold_bips
        self.required = self.total * threshold_bips // BIPS
        self._groups: dict[bytes, Group] = {}
        self._answered: dict[str, bytes] = {}

    def add(self, operator: str, digest: bytes) -> Decision:
        """Count one operator's (already verified) answer; a second answer is ignored."""
        operator = operator.lower()
        if operator not in self.weights:
            raise ConsensusError(f"{operator} is not in the operator set")
        if operator not in self._answered:
            self._answered[operator] = digest
            group = self._groups.setdefault(digest, Group(digest))
            group.weight += self.weights[operator]
            group.operators.append(operator)
        return self.decision()

    def decision(self) -> Decision:
        if not self._groups:
            return Decision(False, None, 0, self.total, ())
        # Most weight wins; ties go to the group that formed first (dicts keep insertion order).
        winner = max(self._groups.values(), key=lambda g: g.weight)
        met = winner.weight >= self.required
        return Decision(met, winner.digest, winner.weight, self.total, tuple(winner.operators))

    def can_still_reach(self) -> bool:
        """False once no group can reach the threshold even if every silent operator agrees."""
        silent = sum(w for op, w in self.weights.items() if op not in self._answered)
        best = max((g.weight for g in self._groups.values()), default=0)
        return best + silent >= self.required

    @property
    def answered(self) -> dict[str, bytes]:
        return dict(self._answered)

    def non_signers(self, digest: bytes) -> list[str]:
        return [op for op in self.weights if self._answered.get(op) != digest]
