"""TaskMailbox events: topic constants and a pure decoder for TaskCreated logs.

`decode_task_created` accepts a log as web3 returns it (AttributeDict with HexBytes) or as raw
JSON-RPC (hex strings) and raises MalformedLogError naming what is wrong; it does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError

from ponos.chain.errors import MalformedLogError

TASK_CREATED_TOPIC = "0x33add0b01e02278be5459fbfa3274aee699ec47f4ee7236b59e7a2c8b5000c26"
TASK_VERIFIED_TOPIC = "0x659f23b2e7edf490e5fd6561c5148691ed0375ed7ddd3ab1bcfcfdbec4f209a9"

# Non-indexed TaskCreated fields, in order.
_TASK_CREATED_DATA = ("uint32", "uint32", "address", "uint96", "uint256", "bytes")


@dataclass(frozen=True)
class TaskCreatedEvent:
    task_hash: str  # 0x + 64 lowercase hex
    avs: str  # 0x-hex lowercase
    creator: str
    executor_operator_set_id: int
    reference_timestamp: int  # operatorTableReferenceTimestamp
    refund_collector: str
    avs_fee: int
    task_deadline: int  # absolute unix time
    payload: bytes
    block_number: int
    block_hash: str
    log_index: int
    tx_hash: str
    address: str  # the TaskMailbox that emitted it


def _hex(value: Any, what: str) -> str:
    """0x-prefixed lowercase hex of bytes / HexBytes / hex string."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, str):
        text = value.lower()
        if not text.startswith("0x"):
            text = "0x" + text
        try:
            bytes.fromhex(text[2:])
        except ValueError:
            raise MalformedLogError(f"TaskCreated log: {what} is not hex") from None
        return text
    raise MalformedLogError(f"TaskCreated log: {what} is missing or not hex")


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise MalformedLogError(f"TaskCreated log: {what} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value.lower().startswith("0x") else int(value)
        except ValueError:
            pass
    raise MalformedLogError(f"TaskCreated log: {what} is missing or not a number")


def _word_address(topic: str, what: str) -> str:
    if len(topic) != 66 or int(topic[2:26], 16) != 0:
        raise MalformedLogError(f"TaskCreated log: {what} topic is not an address word")
    return "0x" + topic[26:]


def decode_task_created(log: Mapping[str, Any]) -> TaskCreatedEvent:
    """Decode one TaskCreated log; MalformedLogError if it is not one or is malformed."""
    if not isinstance(log, Mapping):
        raise MalformedLogError("TaskCreated log: expected a mapping of log fields")
    if log.get("removed"):
        raise MalformedLogError("TaskCreated log: the log was removed by a reorg")
    topics = [_hex(t, f"topics[{i}]") for i, t in enumerate(log.get("topics") or [])]
    if len(topics) != 4:
        raise MalformedLogError(f"TaskCreated log: expected 4 topics, got {len(topics)}")
    if topics[0] != TASK_CREATED_TOPIC:
        raise MalformedLogError(f"TaskCreated log: topic0 {topics[0]} is not TaskCreated")
    for i, topic in enumerate(topics):
        if len(topic) != 66:
            raise MalformedLogError(f"TaskCreated log: topics[{i}] is not 32 bytes")
    data = bytes.fromhex(_hex(log.get("data", b""), "data")[2:])
    try:
        set_id, ref_ts, refund, fee, deadline, payload = abi_decode(_TASK_CREATED_DATA, data)
    except (DecodingError, ValueError, OverflowError) as exc:
        raise MalformedLogError(f"TaskCreated log: data does not decode ({exc})") from None
    block_hash = _hex(log.get("blockHash"), "blockHash")
    tx_hash = _hex(log.get("transactionHash"), "transactionHash")
    address = _hex(log.get("address"), "address")
    if len(address) != 42:
        raise MalformedLogError("TaskCreated log: address is not 20 bytes")
    return TaskCreatedEvent(
        task_hash=topics[2],
        avs=_word_address(topics[3], "avs"),
        creator=_word_address(topics[1], "creator"),
        executor_operator_set_id=set_id,
        reference_timestamp=ref_ts,
        refund_collector=refund.lower(),
        avs_fee=fee,
        task_deadline=deadline,
        payload=bytes(payload),
        block_number=_int(log.get("blockNumber"), "blockNumber"),
        block_hash=block_hash,
        log_index=_int(log.get("logIndex"), "logIndex"),
        tx_hash=tx_hash,
        address=address,
    )
