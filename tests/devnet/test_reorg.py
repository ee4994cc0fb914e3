"""Reorgs on anvil 1.7.1: which RPCs remove and re-include blocks with logs (ponos.devnet.reorg)."""

from __future__ import annotations

import pytest

from ponos.chain.events import TASK_CREATED_TOPIC
from ponos.chain.types import TaskStatus
from ponos.devnet.errors import DevnetError
from ponos.devnet.reorg import reorg, rollback


def test_reorg_replaces_blocks_at_the_same_height_and_drops_their_logs(devnet):
    client = devnet.client
    task = client.create_task(b"\x01")
    old_hash = client.w3.eth.get_block(task.block_number)["hash"]
    head = client.w3.eth.block_number
    result = reorg(devnet.rpc_url, depth=1)
    assert client.w3.eth.block_number == head
    assert result.first_block == task.block_number
    assert result.old_hashes == ("0x" + old_hash.hex(),)
    assert result.new_hashes[0] != result.old_hashes[0]
    assert client.task_status(task.task_hash) == TaskStatus.NONE
    logs = client.w3.eth.get_logs(
        {"fromBlock": task.block_number, "toBlock": task.block_number, "topics": [TASK_CREATED_TOPIC]}
    )
    assert logs == []


def test_reorg_can_reinclude_the_transactions_in_a_later_block(devnet):
    client = devnet.client
    task = client.create_task(b"\x02")
    client.w3.provider.make_request("evm_mine", [])
    client.w3.provider.make_request("evm_mine", [])
    result = reorg(devnet.rpc_url, depth=3, reinclude=True, shift=2)
    assert len(result.reincluded) == 1
    assert client.task_status(task.task_hash) == TaskStatus.CREATED  # same hash: same state
    moved = task.block_number + 2
    logs = client.w3.eth.get_logs(
        {"fromBlock": task.block_number, "toBlock": moved, "topics": [TASK_CREATED_TOPIC]}
    )
    assert [log["blockNumber"] for log in logs] == [moved]
    assert "0x" + logs[0]["topics"][2].hex() == task.task_hash
    assert "0x" + logs[0]["blockHash"].hex() == result.new_hashes[2]


def test_rollback_lowers_the_head(devnet):
    client = devnet.client
    task = client.create_task(b"\x03")
    head = client.w3.eth.block_number
    assert rollback(devnet.rpc_url, 1) == head - 1
    assert client.task_status(task.task_hash) == TaskStatus.NONE


def test_snapshot_and_revert_remove_blocks_and_new_blocks_get_new_hashes(devnet):
    client = devnet.client
    snapshot = devnet.snapshot()
    task = client.create_task(b"\x05")
    old_hash = client.w3.eth.get_block(task.block_number)["hash"]
    devnet.revert(snapshot)
    assert client.w3.eth.block_number == task.block_number - 1
    client.w3.provider.make_request("evm_mine", [])
    assert client.w3.eth.get_block(task.block_number)["hash"] != old_hash
    assert client.task_status(task.task_hash) == TaskStatus.NONE


def test_reorg_depth_is_validated(devnet):
    with pytest.raises(DevnetError, match="at least 1"):
        reorg(devnet.rpc_url, depth=0)
    with pytest.raises(DevnetError, match="cannot reorg"):
        reorg(devnet.rpc_url, depth=10**6)


def test_reorg_reincludes_a_raw_transaction_signed_outside_anvil(devnet):
    # The aggregator signs its own transactions; a reorg must be able to mine those again too.
    from eth_account import Account

    client = devnet.client
    aggregator = devnet.deployment.aggregator
    w3 = client.w3
    signed = Account.sign_transaction(
        {
            "to": w3.to_checksum_address(devnet.deployment.avs),
            "value": 1,
            "gas": 21000,
            "gasPrice": w3.eth.gas_price * 2,
            "nonce": w3.eth.get_transaction_count(w3.to_checksum_address(aggregator.address)),
            "chainId": devnet.deployment.chain_id,
        },
        aggregator.private_key,
    )
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    mined_in = w3.eth.wait_for_transaction_receipt(tx_hash)["blockHash"]
    result = reorg(devnet.rpc_url, depth=1, reinclude=True)
    assert result.reincluded == ("0x" + bytes(tx_hash).hex(),)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert receipt["blockHash"] != mined_in
    assert "0x" + receipt["blockHash"].hex() == result.new_hashes[0]
