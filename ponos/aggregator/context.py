"""What the aggregator must know about a task's operator set, read from chain once per
(chain, AVS, operator set, reference timestamp) and cached.

Weights come from the certificate verifier's operator table OF THE TASK'S REFERENCE
TIMESTAMP (the `operatorTableReferenceTimestamp` of the TaskCreated event): exactly the table
`submitResult` checks the certificate against, so our consensus and the chain agree on who
counts and how much. Members, sockets and signing keys come from the registry at the task's
block (on the L1, for tasks of other chains at the reference block), and each member is
matched to its table entry by its signing key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ponos import log
from ponos.chain.cache import TTLCache
from ponos.chain.eigenlayer import EigenLayerReader
from ponos.chain.errors import ChainError
from ponos.chain.types import ConsensusType, CurveType, OperatorSet
from ponos.crypto.bn254 import G1Point, G2Point
from ponos.errors import PonosError

logger = log.get_logger(__name__)


class ContextError(PonosError):
    """The task cannot be processed with this operator set (a permanent problem)."""


class ContextUnavailable(PonosError):
    """The chain could not be read right now (retry)."""


@dataclass(frozen=True)
class Executor:
    operator: str  # operator address (lowercase)
    socket: str
    weight: int
    ecdsa_address: str | None = None  # ECDSA signing address
    g1: G1Point | None = None
    g2: G2Point | None = None
    table_index: int | None = None  # BN254 operator index in the table


@dataclass(frozen=True)
class OperatorSetContext:
    avs: str
    operator_set_id: int
    reference_timestamp: int
    curve: str  # "ecdsa" | "bn254"
    threshold_bips: int
    executors: tuple[Executor, ...]
    total_weight: int
    aggregator_curve: str
    # BN254 table entries by index (for non-signer witnesses): (g1, weights)
    bn254_table: tuple[tuple[G1Point, tuple[int, ...]], ...] = field(default=())

    @property
    def weights(self) -> dict[str, int]:
        return {e.operator: e.weight for e in self.executors}

    def executor(self, operator: str) -> Executor | None:
        operator = operator.lower()
        return next((e for e in self.executors if e.operator == operator), None)


class OperatorSetReader:
    """Builds OperatorSetContexts. `registry` reads the AVS registry (L1); `task_chain`
    reads the TaskMailbox and certificate verifiers of the chain the task lives on."""

    def __init__(
        self,
        registry: EigenLayerReader,
        task_chains: dict[int, EigenLayerReader],
        registrars: dict[str, str],
        ttl: float = 60.0,
    ) -> None:
        self.registry = registry
        self.task_chains = task_chains
        self.registrars = registrars
        self._cache: TTLCache[OperatorSetContext] = TTLCache(ttl)

    def invalidate(
        self, chain_id: int, avs: str, operator_set_id: int, reference_timestamp: int
    ) -> None:
        self._cache.invalidate((chain_id, avs, operator_set_id, reference_timestamp))

    async def get(
        self, chain_id: int, avs: str, operator_set_id: int, reference_timestamp: int, block: int
    ) -> OperatorSetContext:
        key = (chain_id, avs, operator_set_id, reference_timestamp)
        try:
            return await self._cache.get(
                key, lambda: self._read(chain_id, avs, operator_set_id, reference_timestamp, block)
            )
        except ChainError as exc:
            raise ContextUnavailable(
                f"cannot read operator set {operator_set_id} of {avs}: {exc.message}"
            ) from None

    async def _registrar(self, avs: str, block: int) -> str:
        return self.registrars.get(avs) or await self.registry.avs_registrar(avs, block)

    async def _read(
        self, chain_id: int, avs: str, operator_set_id: int, reference_timestamp: int, block: int
    ) -> OperatorSetContext:
        task_chain = self.task_chains.get(chain_id)
        if task_chain is None:
            raise ContextError(f"chain {chain_id} is not configured")
        opset = OperatorSet(avs, operator_set_id)
        task_config = await task_chain.task_config(opset, block)
        if not task_config.configured:
            raise ContextError(
                f"operator set {operator_set_id} of AVS {avs} has no task config on chain"
            )
        if task_config.consensus_type != ConsensusType.STAKE_PROPORTION_THRESHOLD:
            raise ContextError(
                f"consensus type {task_config.consensus_type.name} is not supported "
                "(only STAKE_PROPORTION_THRESHOLD)"
            )
        threshold = task_config.threshold_bips or 0
        if not 0 < threshold <= 10_000:
            raise ContextError(f"consensus threshold {threshold} bips is out of range")
        registrar = await self._registrar(avs, block)
        avs_config = await self.registry.avs_config(registrar, block)
        if operator_set_id not in avs_config.executor_operator_set_ids:
            raise ContextError(
                f"operator set {operator_set_id} is not an executor set of AVS {avs}"
            )
        aggregator_curve = await self.registry.curve_type(
            OperatorSet(avs, avs_config.aggregator_operator_set_id), block
        )
        curve = await self.registry.curve_type(opset, block)
        members = await self.registry.members(opset, block)
        if curve == CurveType.ECDSA:
            executors, total, table = await self._ecdsa(
                task_chain, registrar, opset, members, reference_timestamp, block
            )
        elif curve == CurveType.BN254:
            executors, total, table = await self._bn254(
                task_chain, registrar, opset, members, reference_timestamp, block
            )
        else:
            raise ContextError(f"operator set {operator_set_id} of AVS {avs} has no curve type")
        if total == 0:
            raise ContextError(
                f"operator table at reference timestamp {reference_timestamp} has no weight"
            )
        if not executors:
            raise ContextError(
                f"no member of operator set {operator_set_id} of AVS {avs} has weight in the "
                f"table at reference timestamp {reference_timestamp}"
            )
        return OperatorSetContext(
            avs=avs,
            operator_set_id=operator_set_id,
            reference_timestamp=reference_timestamp,
            curve="ecdsa" if curve == CurveType.ECDSA else "bn254",
            threshold_bips=threshold,
            executors=tuple(executors),
            total_weight=total,
            aggregator_curve="bn254" if aggregator_curve == CurveType.BN254 else "ecdsa",
            bn254_table=table,
        )

    async def _ecdsa(self, chain, registrar, opset, members, ts, block):
        infos = await chain.ecdsa_operator_infos(opset, ts, block)
        weight_of = {info.pubkey: (info.weights[0] if info.weights else 0) for info in infos}
        totals = await chain.total_stake_weights(CurveType.ECDSA, opset, ts, block)
        executors = []
        for operator in members:
            signing = await self.registry.ecdsa_signing_address(opset, operator, block)
            weight = weight_of.get(signing, 0)
            if weight <= 0:
                continue
            socket = await self.registry.operator_socket(registrar, operator, block)
            executors.append(Executor(operator, socket, weight, ecdsa_address=signing))
        return executors, (totals[0] if totals else sum(weight_of.values())), ()

    async def _bn254(self, chain, registrar, opset, members, ts, block):
        infos = await chain.bn254_operator_infos(opset, ts, block)
        table = tuple((G1Point(*info.pubkey), info.weights) for info in infos)
        index_of = {g1: i for i, (g1, _w) in enumerate(table)}
        set_info = await chain.bn254_operator_set_info(opset, ts, block)
        executors = []
        for operator in members:
            key = await self.registry.bn254_key(opset, operator, block)
            g1 = G1Point(*key.g1)
            index = index_of.get(g1)
            if index is None:
                continue
            weights = table[index][1]
            weight = weights[0] if weights else 0
            if weight <= 0:
                continue
            socket = await self.registry.operator_socket(registrar, operator, block)
            executors.append(
                Executor(
                    operator,
                    socket,
                    weight,
                    g1=g1,
                    g2=G2Point.from_solidity(*key.g2),
                    table_index=index,
                )
            )
        total = (
            set_info.total_weights[0]
            if set_info.total_weights
            else sum(w[0] for _g, w in table if w)
        )
        return executors, total, table
