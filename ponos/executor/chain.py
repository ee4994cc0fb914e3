"""The executor's chain reads (ExecutorChainView) over EigenLayerReader, cached with expiry."""

from __future__ import annotations

from web3 import AsyncHTTPProvider, AsyncWeb3

from ponos.chain.cache import TTLCache
from ponos.chain.eigenlayer import ContractAddresses, EigenLayerReader
from ponos.chain.errors import ChainError
from ponos.chain.types import CurveType, OperatorSet
from ponos.config.executor import ExecutorConfig
from ponos.crypto.bn254 import G2Point
from ponos.executor.chainview import AggregatorKey
from ponos.executor.errors import PermissionDenied, Unavailable

_CURVES = {CurveType.ECDSA: "ecdsa", CurveType.BN254: "bn254"}


class EigenLayerChainView:
    def __init__(self, reader: EigenLayerReader, registrars: dict[str, str], ttl: float) -> None:
        self.reader = reader
        self.registrars = registrars  # configured avsRegistrarAddress per AVS
        self._cache: TTLCache[object] = TTLCache(ttl)
        self._forever: TTLCache[object] = TTLCache(float("inf"))

    async def _read(self, what: str, coro):
        try:
            return await coro
        except ChainError as exc:
            raise Unavailable(f"cannot read {what} from chain: {exc.message}") from None

    async def _registrar(self, avs: str, block: int) -> str:
        configured = self.registrars.get(avs)
        if configured:
            return configured
        return await self._cache.get(
            ("registrar", avs),
            lambda: self._read("the AVS registrar", self.reader.avs_registrar(avs, block)),
        )

    async def aggregator_key(self, avs: str, aggregator: str, block: int) -> AggregatorKey:
        async def fetch() -> AggregatorKey:
            registrar = await self._registrar(avs, block)
            config = await self._read("the AVS config", self.reader.avs_config(registrar, block))
            opset = OperatorSet(avs, config.aggregator_operator_set_id)
            members = await self._read("aggregator set members", self.reader.members(opset, block))
            if aggregator not in members:
                raise PermissionDenied(
                    f"{aggregator} is not in the aggregator operator set "
                    f"{config.aggregator_operator_set_id} of AVS {avs} at block {block}"
                )
            curve = await self._read("the curve type", self.reader.curve_type(opset, block))
            if curve == CurveType.ECDSA:
                address = await self._read(
                    "the aggregator key",
                    self.reader.ecdsa_signing_address(opset, aggregator, block),
                )
                return AggregatorKey("ecdsa", ecdsa_address=address)
            if curve == CurveType.BN254:
                key = await self._read(
                    "the aggregator key", self.reader.bn254_key(opset, aggregator, block)
                )
                return AggregatorKey("bn254", bn254_g2=G2Point.from_solidity(*key.g2).to_bytes())
            raise PermissionDenied(f"the aggregator operator set of AVS {avs} has no curve type")

        return await self._cache.get(("aggregator", avs, aggregator), fetch)

    async def is_member(self, avs: str, operator_set_id: int, operator: str, block: int) -> bool:
        members = await self._cache.get(
            ("members", avs, operator_set_id),
            lambda: self._read(
                "operator set members",
                self.reader.members(OperatorSet(avs, operator_set_id), block),
            ),
        )
        return operator.lower() in members

    async def curve(self, avs: str, operator_set_id: int, block: int) -> str:
        curve = await self._cache.get(
            ("curve", avs, operator_set_id),
            lambda: self._read(
                "the curve type", self.reader.curve_type(OperatorSet(avs, operator_set_id), block)
            ),
        )
        if curve not in _CURVES:
            raise PermissionDenied(f"operator set {operator_set_id} of AVS {avs} has no curve type")
        return _CURVES[curve]

    async def task_sla(self, avs: str, operator_set_id: int) -> float:
        config = await self._cache.get(
            ("task_config", avs, operator_set_id),
            lambda: self._read(
                "the task config", self.reader.task_config(OperatorSet(avs, operator_set_id))
            ),
        )
        return float(config.task_sla)

    async def ecdsa_domain_separator(self) -> bytes:
        return await self._forever.get(
            "domain",
            lambda: self._read("the ECDSA domain separator", self.reader.ecdsa_domain_separator()),
        )


async def build_chain_view(config: ExecutorConfig) -> EigenLayerChainView:
    w3 = AsyncWeb3(AsyncHTTPProvider(config.l1_chain.rpc_url, request_kwargs={"timeout": 10}))
    contracts = ContractAddresses.from_config(config, config.l1_chain.chain_id)
    reader = EigenLayerReader(w3, contracts)
    registrars = {
        p.avs_address: p.avs_registrar_address
        for p in config.avs_performers
        if p.avs_registrar_address
    }
    return EigenLayerChainView(reader, registrars, config.tasks.key_cache_ttl)
