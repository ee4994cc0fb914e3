"""Test helpers: compile the Solidity probe with the project's solcjs, deploy it on an
anvil node and call it; eth_call into precompiles."""

from __future__ import annotations

import json
import subprocess
import time
from functools import cache
from pathlib import Path
from typing import Any

import eth_abi
from eth_utils import keccak

from ponos.devnet.anvil import PROJECT_ROOT, Anvil

PROBE_SOURCE = Path(__file__).parent / "solidity" / "CryptoProbe.sol"
SOLCJS = PROJECT_ROOT / "node_modules" / ".bin" / "solcjs"


@cache
def compile_probe() -> tuple[list[dict[str, Any]], str]:
    """(abi, creation bytecode hex) of CryptoProbe, compiled once per test session."""
    request = {
        "language": "Solidity",
        "sources": {"CryptoProbe.sol": {"content": PROBE_SOURCE.read_text()}},
        "settings": {
            "optimizer": {"enabled": True, "runs": 200},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    done = subprocess.run(
        [str(SOLCJS), "--standard-json"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    output = json.loads(done.stdout[done.stdout.index("{") :])
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    assert not errors, errors
    contract = output["contracts"]["CryptoProbe.sol"]["CryptoProbe"]
    return contract["abi"], contract["evm"]["bytecode"]["object"]


def deploy(node: Anvil, bytecode: str) -> str:
    sender = node.rpc("eth_accounts")[0]  # type: ignore[index]
    tx = node.rpc(
        "eth_sendTransaction", [{"from": sender, "data": "0x" + bytecode, "gas": hex(5_000_000)}]
    )
    deadline = time.monotonic() + 30
    receipt = None
    while receipt is None and time.monotonic() < deadline:  # anvil mines asynchronously
        receipt = node.rpc("eth_getTransactionReceipt", [tx])
        if receipt is None:
            time.sleep(0.02)
    assert receipt and receipt["status"] == "0x1", receipt  # type: ignore[index]
    return receipt["contractAddress"]  # type: ignore[index]


def eth_call(node: Anvil, to: str, data: bytes) -> bytes:
    result = node.rpc("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])
    return bytes.fromhex(str(result)[2:])


class Probe:
    """The deployed CryptoProbe: `call("fn(types)", [args], ["out types"])`."""

    def __init__(self, node: Anvil) -> None:
        _abi, bytecode = compile_probe()
        self.node = node
        self.address = deploy(node, bytecode)

    def call(self, signature: str, args: list[Any], returns: list[str]) -> Any:
        types = signature[signature.index("(") + 1 : -1]
        arg_types = _split_types(types)
        data = keccak(text=signature)[:4] + eth_abi.encode(arg_types, args)
        decoded = eth_abi.decode(returns, eth_call(self.node, self.address, data))
        return decoded[0] if len(returns) == 1 else decoded


def _split_types(types: str) -> list[str]:
    """Split a top-level comma-separated ABI type list (tuples nest)."""
    parts, depth, current = [], 0, ""
    for char in types:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += char == "("
        depth -= char == ")"
        current += char
    if current:
        parts.append(current)
    return parts
