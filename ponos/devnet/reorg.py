"""Chain reorganisations on anvil, for the aggregator's reorg tests.

Measured on anvil 1.7.1 (tests/devnet/test_reorg.py keeps these true):
- `anvil_reorg(depth, [[tx, offset], ...])` replaces the last `depth` blocks with new blocks at the
  same height (new hashes); the old blocks' logs disappear, and the given transactions are mined
  again at `offset` blocks into the new branch. This is a real reorg: same height, new hashes.
- `anvil_rollback(depth)` drops the last `depth` blocks (the head goes down); nothing replaces them.
- `evm_snapshot` / `evm_revert` go back to a saved state (also lowering the head); blocks mined
  afterwards have new hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ponos.devnet.anvil import rpc_call
from ponos.devnet.errors import DevnetError


@dataclass(frozen=True)
class Reorg:
    depth: int
    first_block: int  # lowest replaced height
    old_hashes: tuple[str, ...]  # by height, first_block upward
    new_hashes: tuple[str, ...]
    reincluded: tuple[str, ...]  # hashes of the original transactions mined again


def _block(url: str, number: int) -> dict[str, Any]:
    block = rpc_call(url, "eth_getBlockByNumber", [hex(number), True])
    if not isinstance(block, dict):
        raise DevnetError(f"block {number} is not available on {url}")
    return block


def _as_reorg_tx(url: str, tx: dict[str, Any]) -> Any:
    """A transaction as anvil_reorg takes it: the raw signed bytes when the node has them (any
    sender), else a request that anvil signs (an unlocked sender)."""
    try:
        raw = rpc_call(url, "eth_getRawTransactionByHash", [tx["hash"]])
    except RuntimeError:
        raw = None
    if isinstance(raw, str) and len(raw) > 2:
        return raw
    request = {"from": tx["from"], "data": tx["input"], "value": tx["value"], "gas": tx["gas"]}
    if tx.get("to"):
        request["to"] = tx["to"]
    return request


def reorg(url: str, depth: int, reinclude: bool = False, shift: int = 0) -> Reorg:
    """Replace the last `depth` blocks with a new branch of the same height.

    With `reinclude`, every transaction of the replaced blocks is mined again in the new branch,
    `shift` blocks later than before (clamped to the branch), so its logs move to a new block
    hash (and a new height when shift > 0). Without it, they are dropped.
    """
    if depth < 1:
        raise DevnetError(f"reorg depth must be at least 1, got {depth}")
    head = int(str(rpc_call(url, "eth_blockNumber")), 16)
    if depth > head:
        raise DevnetError(f"cannot reorg {depth} blocks: the chain has {head}")
    first = head - depth + 1
    old_blocks = [_block(url, n) for n in range(first, head + 1)]
    pairs: list[list[Any]] = []
    reincluded: list[str] = []
    if reinclude:
        for offset, block in enumerate(old_blocks):
            for tx in block["transactions"]:
                pairs.append([_as_reorg_tx(url, tx), min(offset + shift, depth - 1)])
                reincluded.append(tx["hash"])
    rpc_call(url, "anvil_reorg", [depth, pairs])
    new_hashes = tuple(_block(url, n)["hash"] for n in range(first, head + 1))
    return Reorg(
        depth=depth,
        first_block=first,
        old_hashes=tuple(b["hash"] for b in old_blocks),
        new_hashes=new_hashes,
        reincluded=tuple(reincluded),
    )


def rollback(url: str, depth: int) -> int:
    """Drop the last `depth` blocks; returns the new head number."""
    if depth < 1:
        raise DevnetError(f"rollback depth must be at least 1, got {depth}")
    rpc_call(url, "anvil_rollback", [depth])
    return int(str(rpc_call(url, "eth_blockNumber")), 16)
