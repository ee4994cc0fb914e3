"""What the executor reads from chain to authenticate and sign tasks, behind one small
interface with caching: the aggregator's key, operator-set membership, curve types, task
SLAs and the ECDSA verifier's domain separator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class AggregatorKey:
    curve: str  # "ecdsa" | "bn254"
    ecdsa_address: str | None = None
    bn254_g2: bytes | None = None


class ExecutorChainView(Protocol):
    async def aggregator_key(self, avs: str, aggregator: str, block: int) -> AggregatorKey:
        """The aggregator's signing key; PermissionDenied when it is not in the AVS's
        aggregator operator set at `block`."""
        ...

    async def is_member(
        self, avs: str, operator_set_id: int, operator: str, block: int
    ) -> bool: ...

    async def curve(self, avs: str, operator_set_id: int, block: int) -> str: ...

    async def task_sla(self, avs: str, operator_set_id: int) -> float: ...

    async def ecdsa_domain_separator(self) -> bytes: ...
