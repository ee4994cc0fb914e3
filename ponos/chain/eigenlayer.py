"""Async reads of the EigenLayer contracts the aggregator and executor use.

Every method takes an optional `block` (number, hash or tag; default "latest") so the aggregator
can read exactly the state the on-chain verifier uses for a task. Addresses come from the service
config (`ContractsMixin.contract_address(name, chain_id)`), ABIs from `ponos.chain.abis`.
Reverts and undecodable answers raise ContractCallError naming the contract and function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.exceptions import DecodingError
from web3 import AsyncWeb3, Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3Exception
from web3.types import BlockIdentifier

from ponos.chain import abis
from ponos.chain.errors import ContractCallError, MissingContractError
from ponos.chain.types import (
    CORE_CONTRACTS,
    AvsConfig,
    BN254OperatorInfo,
    BN254OperatorSetInfo,
    BN254PublicKey,
    ConsensusType,
    CurveType,
    ECDSAOperatorInfo,
    OperatorSet,
    OperatorWeights,
    TaskConfig,
    TaskInfo,
    TaskStatus,
)


@dataclass(frozen=True)
class ContractAddresses:
    """Addresses of the core contracts on one chain (lowercase 0x-hex)."""

    chain_id: int
    addresses: dict[str, str]

    @classmethod
    def from_config(cls, config: Any, chain_id: int) -> ContractAddresses:
        """From a service config (ContractsMixin): the names it has an address for."""
        found = {}
        for name in CORE_CONTRACTS:
            address = config.contract_address(name, chain_id)
            if address:
                found[name] = address.lower()
        return cls(chain_id, found)

    def get(self, name: str) -> str:
        address = self.addresses.get(name)
        if not address:
            raise MissingContractError(
                f"no {name} address for chain {self.chain_id}",
                hint=f"add it under `contracts` in the config (name: {name})",
            )
        return address


def _addr(value: str) -> str:
    return str(value).lower()


def _task_config(raw: tuple) -> TaskConfig:
    hook, sla, fee_token, curve, fee_collector, consensus, metadata = raw
    return TaskConfig(
        task_hook=_addr(hook),
        task_sla=int(sla),
        fee_token=_addr(fee_token),
        curve_type=CurveType(curve) if curve in CurveType._value2member_map_ else CurveType.NONE,
        fee_collector=_addr(fee_collector),
        consensus_type=ConsensusType(consensus[0])
        if consensus[0] in ConsensusType._value2member_map_
        else ConsensusType.NONE,
        consensus_value=bytes(consensus[1]),
        task_metadata=bytes(metadata),
    )


class EigenLayerReader:
    def __init__(self, w3: AsyncWeb3, contracts: ContractAddresses) -> None:
        self.w3 = w3
        self.contracts = contracts

    def _contract(self, abi_name: str, address: str) -> Any:
        return self.w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=abis.ABIS_BY_USE[abi_name]
        )

    async def _call(
        self, abi_name: str, address: str, function: str, *args: Any, block: BlockIdentifier | None
    ) -> Any:
        contract = self._contract(abi_name, address)
        try:
            return await contract.functions[function](*args).call(
                block_identifier=block if block is not None else "latest"
            )
        except (ContractLogicError, BadFunctionCallOutput, DecodingError) as exc:
            raise ContractCallError(
                f"{abi_name}.{function} at {address} failed: {exc}",
                hint="check the contract address in the config and that the node is synced",
            ) from None
        except (Web3Exception, OSError, TimeoutError) as exc:
            raise ContractCallError(
                f"{abi_name}.{function} at {address}: RPC error ({exc})"
            ) from None

    def _core(self, name: str) -> str:
        return self.contracts.get(name)

    # ------------------------------------------------------------ AVS and operator sets

    async def avs_registrar(self, avs: str, block: BlockIdentifier | None = None) -> str:
        return _addr(
            await self._call(
                "AllocationManager",
                self._core("AllocationManager"),
                "getAVSRegistrar",
                Web3.to_checksum_address(avs),
                block=block,
            )
        )

    async def avs_config(self, registrar: str, block: BlockIdentifier | None = None) -> AvsConfig:
        aggregator_id, executor_ids = await self._call(
            "TaskAVSRegistrar", registrar, "getAvsConfig", block=block
        )
        return AvsConfig(int(aggregator_id), tuple(int(i) for i in executor_ids))

    async def members(
        self, operator_set: OperatorSet, block: BlockIdentifier | None = None
    ) -> list[str]:
        result = await self._call(
            "AllocationManager",
            self._core("AllocationManager"),
            "getMembers",
            operator_set.as_tuple(),
            block=block,
        )
        return [_addr(a) for a in result]

    async def operator_socket(
        self, registrar: str, operator: str, block: BlockIdentifier | None = None
    ) -> str:
        return str(
            await self._call(
                "TaskAVSRegistrar",
                registrar,
                "getOperatorSocket",
                Web3.to_checksum_address(operator),
                block=block,
            )
        )

    # ------------------------------------------------------------ keys

    async def curve_type(
        self, operator_set: OperatorSet, block: BlockIdentifier | None = None
    ) -> CurveType:
        raw = await self._call(
            "KeyRegistrar",
            self._core("KeyRegistrar"),
            "getOperatorSetCurveType",
            operator_set.as_tuple(),
            block=block,
        )
        if raw not in CurveType._value2member_map_:
            raise ContractCallError(f"KeyRegistrar returned an unknown curve type {raw}")
        return CurveType(raw)

    async def bn254_key(
        self, operator_set: OperatorSet, operator: str, block: BlockIdentifier | None = None
    ) -> BN254PublicKey:
        g1, g2 = await self._call(
            "KeyRegistrar",
            self._core("KeyRegistrar"),
            "getBN254Key",
            operator_set.as_tuple(),
            Web3.to_checksum_address(operator),
            block=block,
        )
        return BN254PublicKey(
            g1=(int(g1[0]), int(g1[1])),
            g2=((int(g2[0][0]), int(g2[0][1])), (int(g2[1][0]), int(g2[1][1]))),
        )

    async def ecdsa_signing_address(
        self, operator_set: OperatorSet, operator: str, block: BlockIdentifier | None = None
    ) -> str:
        return _addr(
            await self._call(
                "KeyRegistrar",
                self._core("KeyRegistrar"),
                "getECDSAAddress",
                operator_set.as_tuple(),
                Web3.to_checksum_address(operator),
                block=block,
            )
        )

    # ------------------------------------------------------------ weights and tables

    async def supported_chains(self, block: BlockIdentifier | None = None) -> list[tuple[int, str]]:
        """(chain id, OperatorTableUpdater) pairs from the CrossChainRegistry."""
        chain_ids, updaters = await self._call(
            "CrossChainRegistry",
            self._core("CrossChainRegistry"),
            "getSupportedChains",
            block=block,
        )
        return [(int(c), _addr(u)) for c, u in zip(chain_ids, updaters, strict=True)]

    async def operator_table_calculator(
        self, operator_set: OperatorSet, block: BlockIdentifier | None = None
    ) -> str:
        return _addr(
            await self._call(
                "CrossChainRegistry",
                self._core("CrossChainRegistry"),
                "getOperatorTableCalculator",
                operator_set.as_tuple(),
                block=block,
            )
        )

    async def operator_set_weights(
        self, operator_set: OperatorSet, block: BlockIdentifier | None = None
    ) -> OperatorWeights:
        """The calculator's current table (operators, weights), read at `block`."""
        calculator = await self.operator_table_calculator(operator_set, block)
        operators, weights = await self._call(
            "OperatorTableCalculator",
            calculator,
            "getOperatorSetWeights",
            operator_set.as_tuple(),
            block=block,
        )
        return OperatorWeights(
            tuple(_addr(o) for o in operators), tuple(tuple(int(x) for x in w) for w in weights)
        )

    async def latest_reference_timestamp(
        self, updater: str | None = None, block: BlockIdentifier | None = None
    ) -> int:
        return int(
            await self._call(
                "OperatorTableUpdater",
                updater or self._core("OperatorTableUpdater"),
                "getLatestReferenceTimestamp",
                block=block,
            )
        )

    async def reference_block_number(
        self,
        reference_timestamp: int,
        updater: str | None = None,
        block: BlockIdentifier | None = None,
    ) -> int:
        return int(
            await self._call(
                "OperatorTableUpdater",
                updater or self._core("OperatorTableUpdater"),
                "getReferenceBlockNumberByTimestamp",
                reference_timestamp,
                block=block,
            )
        )

    async def ecdsa_operator_infos(
        self,
        operator_set: OperatorSet,
        reference_timestamp: int,
        block: BlockIdentifier | None = None,
    ) -> list[ECDSAOperatorInfo]:
        """The ECDSA verifier's table at `reference_timestamp`: signing address and weights."""
        infos = await self._call(
            "ECDSACertificateVerifier",
            self._core("ECDSACertificateVerifier"),
            "getOperatorInfos",
            operator_set.as_tuple(),
            reference_timestamp,
            block=block,
        )
        return [ECDSAOperatorInfo(_addr(p), tuple(int(w) for w in ws)) for p, ws in infos]

    async def total_stake_weights(
        self,
        curve: CurveType,
        operator_set: OperatorSet,
        reference_timestamp: int,
        block: BlockIdentifier | None = None,
    ) -> tuple[int, ...]:
        name = (
            "ECDSACertificateVerifier" if curve == CurveType.ECDSA else "BN254CertificateVerifier"
        )
        totals = await self._call(
            name,
            self._core(name),
            "getTotalStakeWeights",
            operator_set.as_tuple(),
            reference_timestamp,
            block=block,
        )
        return tuple(int(t) for t in totals)

    async def bn254_operator_set_info(
        self,
        operator_set: OperatorSet,
        reference_timestamp: int,
        block: BlockIdentifier | None = None,
    ) -> BN254OperatorSetInfo:
        root, count, apk, totals = await self._call(
            "BN254CertificateVerifier",
            self._core("BN254CertificateVerifier"),
            "getOperatorSetInfo",
            operator_set.as_tuple(),
            reference_timestamp,
            block=block,
        )
        return BN254OperatorSetInfo(
            bytes(root), int(count), (int(apk[0]), int(apk[1])), tuple(int(t) for t in totals)
        )

    async def bn254_operator_info(
        self,
        operator_set: OperatorSet,
        reference_timestamp: int,
        index: int,
        block: BlockIdentifier | None = None,
    ) -> BN254OperatorInfo:
        """The verifier's stored info at `index` (what a non-signer witness must carry)."""
        pubkey, weights = await self._call(
            "BN254CertificateVerifier",
            self._core("BN254CertificateVerifier"),
            "getNonsignerOperatorInfo",
            operator_set.as_tuple(),
            reference_timestamp,
            index,
            block=block,
        )
        return BN254OperatorInfo((int(pubkey[0]), int(pubkey[1])), tuple(int(w) for w in weights))

    async def bn254_operator_infos(
        self,
        operator_set: OperatorSet,
        reference_timestamp: int,
        block: BlockIdentifier | None = None,
    ) -> list[BN254OperatorInfo]:
        """Every operator info of the table, by index (witness `operatorIndex`)."""
        info = await self.bn254_operator_set_info(operator_set, reference_timestamp, block)
        return [
            await self.bn254_operator_info(operator_set, reference_timestamp, i, block)
            for i in range(info.num_operators)
        ]

    # ------------------------------------------------------------ digests

    async def ecdsa_domain_separator(self, block: BlockIdentifier | None = None) -> bytes:
        name = "ECDSACertificateVerifier"
        return bytes(await self._call(name, self._core(name), "domainSeparator", block=block))

    async def ecdsa_certificate_digest_bytes(
        self, reference_timestamp: int, message_hash: bytes, block: BlockIdentifier | None = None
    ) -> bytes:
        name = "ECDSACertificateVerifier"
        return bytes(
            await self._call(
                name,
                self._core(name),
                "calculateCertificateDigestBytes",
                reference_timestamp,
                message_hash,
                block=block,
            )
        )

    async def bn254_certificate_digest(
        self, reference_timestamp: int, message_hash: bytes, block: BlockIdentifier | None = None
    ) -> bytes:
        name = "BN254CertificateVerifier"
        return bytes(
            await self._call(
                name,
                self._core(name),
                "calculateCertificateDigest",
                reference_timestamp,
                message_hash,
                block=block,
            )
        )

    # ------------------------------------------------------------ tasks

    async def task_config(
        self, operator_set: OperatorSet, block: BlockIdentifier | None = None
    ) -> TaskConfig:
        raw = await self._call(
            "TaskMailbox",
            self._core("TaskMailbox"),
            "getExecutorOperatorSetTaskConfig",
            operator_set.as_tuple(),
            block=block,
        )
        return _task_config(raw)

    async def task_status(self, task_hash: str, block: BlockIdentifier | None = None) -> TaskStatus:
        raw = await self._call(
            "TaskMailbox",
            self._core("TaskMailbox"),
            "getTaskStatus",
            _hash32(task_hash),
            block=block,
        )
        return TaskStatus(raw)

    async def task_info(self, task_hash: str, block: BlockIdentifier | None = None) -> TaskInfo:
        raw = await self._call(
            "TaskMailbox", self._core("TaskMailbox"), "getTaskInfo", _hash32(task_hash), block=block
        )
        return TaskInfo(
            creator=_addr(raw[0]),
            creation_time=int(raw[1]),
            avs=_addr(raw[2]),
            avs_fee=int(raw[3]),
            refund_collector=_addr(raw[4]),
            executor_operator_set_id=int(raw[5]),
            fee_split=int(raw[6]),
            status=TaskStatus(raw[7]),
            is_fee_refunded=bool(raw[8]),
            reference_timestamp=int(raw[9]),
            config=_task_config(raw[10]),
            payload=bytes(raw[11]),
            executor_cert=bytes(raw[12]),
            result=bytes(raw[13]),
        )

    async def task_result(self, task_hash: str, block: BlockIdentifier | None = None) -> bytes:
        """The verified result; ContractCallError unless the task is VERIFIED."""
        return bytes(
            await self._call(
                "TaskMailbox", self._core("TaskMailbox"), "getTaskResult", _hash32(task_hash),
                block=block,
            )
        )  # fmt: skip


def _hash32(task_hash: str | bytes) -> bytes:
    if isinstance(task_hash, bytes):
        raw = task_hash
    else:
        text = task_hash[2:] if task_hash.lower().startswith("0x") else task_hash
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
    if len(raw) != 32:
        raise ContractCallError(f"{task_hash!r} is not a 32-byte task hash")
    return raw
