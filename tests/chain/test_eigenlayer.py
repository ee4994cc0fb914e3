"""EigenLayerReader against the devnet: every read the services make, with block pinning."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from eth_utils import keccak
from web3 import AsyncHTTPProvider, AsyncWeb3

from ponos.chain.eigenlayer import CORE_CONTRACTS, ContractAddresses, EigenLayerReader
from ponos.chain.errors import ContractCallError, MissingContractError
from ponos.chain.types import ConsensusType, CurveType, OperatorSet, TaskStatus
from ponos.config.common import ContractsMixin
from ponos.devnet.keys import g1_sum


@asynccontextmanager
async def reader_for(net, addresses: ContractAddresses | None = None):
    config = ContractsMixin(
        contracts={name: net.deployment.contracts[name] for name in CORE_CONTRACTS}
    )
    w3 = AsyncWeb3(AsyncHTTPProvider(net.rpc_url))
    try:
        yield EigenLayerReader(
            w3, addresses or ContractAddresses.from_config(config, net.deployment.chain_id)
        )
    finally:
        await w3.provider.disconnect()


def sets(net):
    avs = net.deployment.avs
    return OperatorSet(avs, 0), OperatorSet(avs, 1)


async def test_avs_discovery_members_sockets_and_ecdsa_keys(devnet):
    async with reader_for(devnet) as reader:
        d = devnet.deployment
        aggregator_set, executor_set = sets(devnet)
        registrar = await reader.avs_registrar(d.avs)
        assert registrar == d.avs_registrar
        config = await reader.avs_config(registrar)
        assert (config.aggregator_operator_set_id, config.executor_operator_set_ids) == (0, (1,))
        assert await reader.members(aggregator_set) == [d.aggregator.address]
        assert await reader.members(executor_set) == [op.address for op in d.executors]
        for op in d.executors:
            assert await reader.operator_socket(registrar, op.address) == op.socket
            assert await reader.ecdsa_signing_address(executor_set, op.address) == op.ecdsa.address
            assert op.ecdsa.address != op.address
        assert await reader.curve_type(executor_set) == CurveType.ECDSA


async def test_weights_tables_and_reference_timestamps(devnet):
    async with reader_for(devnet) as reader:
        d = devnet.deployment
        _, executor_set = sets(devnet)
        chains = await reader.supported_chains()
        assert chains == [(d.chain_id, d.contracts["OperatorTableUpdater"])]
        weights = await reader.operator_set_weights(executor_set)
        assert weights.as_dict() == {op.address: (op.weight,) for op in d.executors}
        ts = await reader.latest_reference_timestamp()
        assert ts == d.reference_timestamp
        assert await reader.reference_block_number(ts) == d.deployed_block
        infos = await reader.ecdsa_operator_infos(executor_set, ts)
        assert [(i.pubkey, i.weights) for i in infos] == [
            (op.ecdsa.address, (op.weight,)) for op in d.executors
        ]
        assert await reader.total_stake_weights(CurveType.ECDSA, executor_set, ts) == (300,)


async def test_task_config_status_info_and_digests(devnet):
    async with reader_for(devnet) as reader:
        _, executor_set = sets(devnet)
        config = await reader.task_config(executor_set)
        assert config.curve_type == CurveType.ECDSA
        assert config.task_sla == 60
        assert config.consensus_type == ConsensusType.STAKE_PROPORTION_THRESHOLD
        assert config.threshold_bips == 6667
        task = devnet.client.create_task(b"\x04")
        assert await reader.task_status(task.task_hash) == TaskStatus.CREATED
        before = await reader.task_status(task.task_hash, block=task.block_number - 1)
        assert before == TaskStatus.NONE
        info = await reader.task_info(task.task_hash)
        assert (
            info.payload == b"\x04" and info.reference_timestamp == task.event.reference_timestamp
        )
        assert info.deadline == task.event.task_deadline
        with pytest.raises(ContractCallError, match="getTaskResult"):
            await reader.task_result(task.task_hash)
        separator = await reader.ecdsa_domain_separator()
        digest_bytes = await reader.ecdsa_certificate_digest_bytes(123, keccak(b"r"))
        assert digest_bytes[:2] == b"\x19\x01" and digest_bytes[2:34] == separator


async def test_bn254_keys_and_operator_infos_for_witnesses(devnet_bn254):
    async with reader_for(devnet_bn254) as reader:
        d = devnet_bn254.deployment
        _, executor_set = sets(devnet_bn254)
        assert await reader.curve_type(executor_set) == CurveType.BN254
        for op in d.executors:
            key = await reader.bn254_key(executor_set, op.address)
            assert key.g1 == op.bls.g1 and key.g2 == op.bls.g2
        ts = d.reference_timestamp
        info = await reader.bn254_operator_set_info(executor_set, ts)
        assert info.num_operators == 3 and info.total_weights == (300,)
        assert info.aggregate_pubkey == g1_sum([op.bls.g1 for op in d.executors])
        infos = await reader.bn254_operator_infos(executor_set, ts)
        assert [(i.pubkey, i.weights) for i in infos] == [
            (op.bls.g1, (op.weight,)) for op in d.executors
        ]
        digest = await reader.bn254_certificate_digest(ts, keccak(b"r"))
        assert len(digest) == 32


async def test_missing_address_and_reverting_calls_raise_clear_errors(devnet):
    async with reader_for(devnet, ContractAddresses(31337, {})) as reader:
        with pytest.raises(MissingContractError, match="no TaskMailbox address for chain 31337"):
            await reader.task_status("0x" + "00" * 32)
    wrong = ContractAddresses(31337, {"KeyRegistrar": devnet.deployment.contracts["TaskMailbox"]})
    async with reader_for(devnet, wrong) as reader:
        with pytest.raises(ContractCallError, match="getOperatorSetCurveType"):
            await reader.curve_type(OperatorSet(devnet.deployment.avs, 1))
