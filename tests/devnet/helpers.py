"""Shared helpers for the devnet contract tests: task set-up and revert assertions."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from ponos.devnet.client import CreatedTask
from ponos.devnet.local import LocalDevnet


def error_selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def revert_data(function: Any, sender: str) -> str:
    """The revert data of calling `function` from `sender` (fails the test if it succeeds)."""
    try:
        function.call({"from": Web3.to_checksum_address(sender)})
    except (ContractCustomError, ContractLogicError) as exc:
        data = exc.data
        if isinstance(data, dict):  # some web3 versions wrap it
            data = data.get("data")
        return str(data or "0x")
    raise AssertionError("the call did not revert")


def assert_reverts_with(function: Any, sender: str, error_signature: str) -> None:
    data = revert_data(function, sender)
    assert data.startswith(error_selector(error_signature)), (
        f"expected {error_signature}, got revert data {data[:74]}"
    )


def ready_task(net: LocalDevnet, payload: bytes = b"\x04") -> CreatedTask:
    """Create a task and move the chain clock past its creation second (submitResult requires
    block.timestamp > creationTime, and anvil mines many blocks per second)."""
    task = net.client.create_task(payload)
    net.client.increase_time(1)
    return task


def submit(net: LocalDevnet, task: CreatedTask, certificate: bytes, result: bytes) -> Any:
    return net.client.mailbox.functions.submitResult(
        bytes.fromhex(task.task_hash[2:]), certificate, result
    )


def assert_reverts_with_one_of(function: Any, sender: str, error_signatures: list[str]) -> str:
    """For failures whose exact error depends on the (random) point a tampered value hits."""
    data = revert_data(function, sender)
    matching = [sig for sig in error_signatures if data.startswith(error_selector(sig))]
    assert matching, f"expected one of {error_signatures}, got revert data {data[:74]}"
    return matching[0]
