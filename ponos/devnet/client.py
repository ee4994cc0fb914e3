"""Synchronous helpers over a deployed devnet: create tasks, read their status, change weights.

For the CLI, the test fixtures and the demo; the services use `ponos.chain.eigenlayer` instead.
Transactions are sent from anvil's first (unlocked) account, which is the devnet's AVS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception

from ponos.chain.errors import MalformedLogError
from ponos.chain.events import TASK_CREATED_TOPIC, TaskCreatedEvent, decode_task_created
from ponos.chain.types import TaskStatus
from ponos.devnet.artifacts import load_artifact
from ponos.devnet.deploy import DevnetDeployment
from ponos.devnet.errors import DevnetError

MAX_PAYLOAD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class CreatedTask:
    task_hash: str
    block_number: int
    event: TaskCreatedEvent


class DevnetClient:
    def __init__(self, deployment: DevnetDeployment, rpc_url: str | None = None) -> None:
        self.deployment = deployment
        self.rpc_url = rpc_url or deployment.rpc_url
        self.w3 = Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 30}))
        self.avs = Web3.to_checksum_address(deployment.avs)

    def contract(self, name: str, address: str | None = None) -> Any:
        target = address or self.deployment.contracts[name]
        return self.w3.eth.contract(
            address=Web3.to_checksum_address(target), abi=load_artifact(name).abi
        )

    @property
    def mailbox(self) -> Any:
        return self.contract("TaskMailbox")

    def executor_operator_set(self) -> tuple[str, int]:
        return (self.avs, self.deployment.executor_operator_set_id)

    def aggregator_operator_set(self) -> tuple[str, int]:
        return (self.avs, self.deployment.aggregator_operator_set_id)

    def transact(self, function: Any, sender: str | None = None) -> Any:
        """Send a contract call from the AVS account and return its receipt (DevnetError on revert)."""
        try:
            tx_hash = function.transact({"from": sender or self.avs})
        except (ContractLogicError, Web3Exception) as exc:
            raise DevnetError(f"{function.fn_name} failed: {exc}") from None
        except OSError as exc:
            raise DevnetError(f"cannot reach the devnet at {self.rpc_url} ({exc})") from None
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.01)
        if receipt["status"] != 1:
            raise DevnetError(f"{function.fn_name} reverted (tx 0x{bytes(tx_hash).hex()})")
        return receipt

    def create_task(self, payload: bytes, refund_collector: str | None = None) -> CreatedTask:
        if not payload:
            raise DevnetError("the task payload is empty (the TaskMailbox rejects empty payloads)")
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise DevnetError(f"the task payload is {len(payload)} bytes; the limit is 1 MiB")
        params = (
            Web3.to_checksum_address(refund_collector or self.avs),
            self.executor_operator_set(),
            payload,
        )
        receipt = self.transact(self.mailbox.functions.createTask(params))
        for raw in receipt["logs"]:
            topics = raw.get("topics") or []
            if topics and "0x" + bytes(topics[0]).hex() == TASK_CREATED_TOPIC:
                event = decode_task_created(raw)
                return CreatedTask(event.task_hash, event.block_number, event)
        raise MalformedLogError("createTask succeeded but emitted no TaskCreated log")

    def task_status(self, task_hash: str) -> TaskStatus:
        return TaskStatus(self.mailbox.functions.getTaskStatus(_hash32(task_hash)).call())

    def task_info(self, task_hash: str) -> tuple:
        return self.mailbox.functions.getTaskInfo(_hash32(task_hash)).call()

    def task_result(self, task_hash: str) -> bytes | None:
        if self.task_status(task_hash) != TaskStatus.VERIFIED:
            return None
        return bytes(self.mailbox.functions.getTaskResult(_hash32(task_hash)).call())

    def submit_result(self, task_hash: str, certificate: bytes, result: bytes) -> Any:
        """submitResult from the AVS account (tests); returns the receipt."""
        return self.transact(
            self.mailbox.functions.submitResult(_hash32(task_hash), certificate, result)
        )

    def set_operator_weight(self, index: int, weight: int, publish: bool = True) -> int | None:
        """Change executor `index`'s weight and, by default, publish new operator tables
        (returns their reference timestamp)."""
        operator = Web3.to_checksum_address(self.deployment.executors[index].address)
        self.transact(
            self.contract("AllocationManager").functions.setOperatorWeight(
                self.executor_operator_set(), operator, weight
            )
        )
        self.deployment.executors[index].weight = weight
        return self.publish_operator_tables() if publish else None

    def publish_operator_tables(self) -> int:
        """Publish both sets' current tables; returns the new reference timestamp."""
        updater = self.contract("OperatorTableUpdater")
        self.transact(
            updater.functions.publishOperatorTables(
                [self.aggregator_operator_set(), self.executor_operator_set()]
            )
        )
        return updater.functions.getLatestReferenceTimestamp().call()

    def increase_time(self, seconds: int) -> None:
        """Advance the chain clock and mine a block (anvil)."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])


def _hash32(task_hash: str) -> bytes:
    text = task_hash.lower()
    if text.startswith("0x"):
        text = text[2:]
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise DevnetError(f"{task_hash!r} is not a task hash (0x followed by 64 hex digits)")
    return raw
