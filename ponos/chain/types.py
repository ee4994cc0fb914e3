"""Values read from the EigenLayer contracts, as typed Python objects."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

# The core contracts a chain's config names by address (config key `contracts.<name>`).
CORE_CONTRACTS = (
    "TaskMailbox",
    "AllocationManager",
    "KeyRegistrar",
    "CrossChainRegistry",
    "OperatorTableUpdater",
    "ECDSACertificateVerifier",
    "BN254CertificateVerifier",
)


class CurveType(IntEnum):
    NONE = 0
    ECDSA = 1
    BN254 = 2


class ConsensusType(IntEnum):
    NONE = 0
    STAKE_PROPORTION_THRESHOLD = 1


class TaskStatus(IntEnum):
    NONE = 0
    CREATED = 1
    VERIFIED = 2
    EXPIRED = 3


@dataclass(frozen=True)
class OperatorSet:
    avs: str
    id: int

    def as_tuple(self) -> tuple[str, int]:
        from web3 import Web3

        return (Web3.to_checksum_address(self.avs), self.id)


@dataclass(frozen=True)
class AvsConfig:
    aggregator_operator_set_id: int
    executor_operator_set_ids: tuple[int, ...]


@dataclass(frozen=True)
class TaskConfig:
    """TaskMailbox.getExecutorOperatorSetTaskConfig of an executor operator set."""

    task_hook: str
    task_sla: int  # seconds
    fee_token: str
    curve_type: CurveType
    fee_collector: str
    consensus_type: ConsensusType
    consensus_value: bytes
    task_metadata: bytes

    @property
    def threshold_bips(self) -> int | None:
        """The stake threshold for STAKE_PROPORTION_THRESHOLD (abi.encode(uint16)), else None."""
        if self.consensus_type != ConsensusType.STAKE_PROPORTION_THRESHOLD:
            return None
        return int.from_bytes(self.consensus_value[-2:], "big") if self.consensus_value else None

    @property
    def configured(self) -> bool:
        return self.curve_type != CurveType.NONE and self.task_sla > 0


@dataclass(frozen=True)
class TaskInfo:
    creator: str
    creation_time: int
    avs: str
    avs_fee: int
    refund_collector: str
    executor_operator_set_id: int
    fee_split: int
    status: TaskStatus
    is_fee_refunded: bool
    reference_timestamp: int
    config: TaskConfig
    payload: bytes
    executor_cert: bytes
    result: bytes

    @property
    def deadline(self) -> int:
        return self.creation_time + self.config.task_sla


G1 = tuple[int, int]
G2 = tuple[tuple[int, int], tuple[int, int]]  # Solidity order: ((x_im, x_re), (y_im, y_re))


@dataclass(frozen=True)
class BN254PublicKey:
    g1: G1
    g2: G2

    @property
    def registered(self) -> bool:
        return self.g1 != (0, 0)


@dataclass(frozen=True)
class OperatorWeights:
    """OperatorTableCalculator.getOperatorSetWeights: operators and their weight vectors."""

    operators: tuple[str, ...]
    weights: tuple[tuple[int, ...], ...]

    def as_dict(self) -> dict[str, tuple[int, ...]]:
        return dict(zip(self.operators, self.weights, strict=True))


@dataclass(frozen=True)
class ECDSAOperatorInfo:
    pubkey: str  # the signing address
    weights: tuple[int, ...]


@dataclass(frozen=True)
class BN254OperatorInfo:
    pubkey: G1
    weights: tuple[int, ...]


@dataclass(frozen=True)
class BN254OperatorSetInfo:
    operator_info_tree_root: bytes
    num_operators: int
    aggregate_pubkey: G1
    total_weights: tuple[int, ...]
