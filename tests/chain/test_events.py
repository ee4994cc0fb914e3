"""decode_task_created: real logs from the devnet, raw JSON-RPC logs, and malformed input."""

from __future__ import annotations

import pytest
from eth_abi import encode

from ponos.chain.errors import MalformedLogError
from ponos.chain.events import TASK_CREATED_TOPIC, decode_task_created

AVS = "0x" + "ab" * 20
CREATOR = "0x" + "cd" * 20
TASK_HASH = "0x" + "12" * 32


def raw_log(**overrides):
    data = encode(
        ["uint32", "uint32", "address", "uint96", "uint256", "bytes"],
        [1, 1700000000, "0x" + "ef" * 20, 0, 1700000060, b"\x04"],
    )
    log = {
        "address": "0x" + "99" * 20,
        "topics": [
            TASK_CREATED_TOPIC,
            "0x" + "00" * 12 + CREATOR[2:],
            TASK_HASH,
            "0x" + "00" * 12 + AVS[2:],
        ],
        "data": "0x" + data.hex(),
        "blockNumber": "0x10",
        "blockHash": "0x" + "77" * 32,
        "logIndex": "0x2",
        "transactionHash": "0x" + "88" * 32,
        "removed": False,
    }
    log.update(overrides)
    return log


def test_raw_json_rpc_log_decodes():
    event = decode_task_created(raw_log())
    assert event.task_hash == TASK_HASH
    assert event.avs == AVS and event.creator == CREATOR
    assert event.executor_operator_set_id == 1
    assert event.reference_timestamp == 1700000000
    assert event.refund_collector == "0x" + "ef" * 20
    assert event.task_deadline == 1700000060
    assert event.payload == b"\x04"
    assert (event.block_number, event.log_index) == (16, 2)
    assert event.block_hash == "0x" + "77" * 32
    assert event.address == "0x" + "99" * 20


def test_web3_log_from_the_devnet_decodes(devnet):
    task = devnet.client.create_task(b"\x09\x09")
    logs = devnet.client.w3.eth.get_logs(
        {
            "fromBlock": task.block_number,
            "toBlock": task.block_number,
            "topics": [TASK_CREATED_TOPIC],
        }
    )
    event = decode_task_created(logs[0])
    assert event.task_hash == task.task_hash
    assert event.payload == b"\x09\x09"
    assert event.block_hash == "0x" + logs[0]["blockHash"].hex()
    assert event.tx_hash == "0x" + logs[0]["transactionHash"].hex()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"topics": [TASK_CREATED_TOPIC]}, "expected 4 topics"),
        ({"topics": ["0x" + "00" * 32] * 4}, "is not TaskCreated"),
        ({"data": "0x1234"}, "does not decode"),
        ({"data": "0xzz"}, "data is not hex"),
        ({"blockNumber": None}, "blockNumber is missing"),
        ({"blockHash": None}, "blockHash is missing"),
        ({"removed": True}, "removed by a reorg"),
        ({"address": "0x1234"}, "address is not 20 bytes"),
    ],
)
def test_malformed_logs_are_rejected_with_a_clear_error(override, message):
    with pytest.raises(MalformedLogError, match=message):
        decode_task_created(raw_log(**override))


def test_non_address_topic_is_rejected():
    log = raw_log()
    log["topics"][3] = "0x" + "ff" * 32
    with pytest.raises(MalformedLogError, match="avs topic is not an address"):
        decode_task_created(log)


def test_non_mapping_is_rejected():
    with pytest.raises(MalformedLogError, match="mapping"):
        decode_task_created(["not", "a", "log"])  # type: ignore[arg-type]
