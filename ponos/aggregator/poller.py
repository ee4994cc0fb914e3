"""The chain poller: TaskCreated events by block RANGE, reorg-safe, exactly-once intake.

One poller per configured chain. Each round:
1. head = eth_blockNumber; process only up to head - confirmations;
2. check that the block we last processed is still canonical; if not, walk back over stored
   hashes to the common ancestor (reorg.py), roll storage back and rescan;
3. fetch eth_getLogs for [cursor+1, end] filtered on the TaskMailbox address and the
   TaskCreated topic; the range adapts: halved on "range too large", doubled back on success,
   capped by `maxBlockRange`;
4. fetch the headers of blocks near the head (the reorg window) in one batch, check that they
   link to the stored tip and that every log's block hash is canonical;
5. commit the cursor, the block records and the new tasks in ONE atomic batch, so a crash
   never marks a block processed whose tasks were not stored;
6. hand the newly stored tasks to the pipeline.
RPC trouble is retried with capped exponential backoff and jitter; the loop never dies on an
error (it logs and tries again), and cancellation (shutdown) interrupts any wait.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ponos import log
from ponos.aggregator.reorg import (
    Header,
    ReorgTooDeep,
    broken_link,
    find_common_ancestor,
    heights_to_check,
)
from ponos.chain.errors import MalformedLogError
from ponos.chain.events import TASK_CREATED_TOPIC, TaskCreatedEvent, decode_task_created
from ponos.chain.rpc import JsonRpcClient, RangeTooLarge, RpcError
from ponos.config.aggregator import ChainConfig
from ponos.storage.aggregator_store import AggregatorStore
from ponos.storage.records import BlockRecord, TaskRecord

logger = log.get_logger(__name__)

TasksCallback = Callable[[list[TaskRecord]], Awaitable[None]]


@dataclass
class PollerStatus:
    """What the ops layer reports: head, cursor, lag, errors."""

    chain_id: int
    head: int | None = None
    cursor: int | None = None
    last_success: float | None = None
    consecutive_errors: int = 0
    reorgs: int = 0
    range_size: int = 0

    @property
    def lag(self) -> int | None:
        if self.head is None or self.cursor is None:
            return None
        return max(0, self.head - self.cursor)


def task_from_event(event: TaskCreatedEvent, chain_id: int) -> TaskRecord:
    return TaskRecord(
        task_id=event.task_hash,
        avs_address=event.avs,
        chain_id=chain_id,
        block_number=event.block_number,
        block_hash=event.block_hash,
        log_index=event.log_index,
        operator_set_id=event.executor_operator_set_id,
        reference_timestamp=event.reference_timestamp,
        deadline=event.task_deadline,
        payload=event.payload,
        creator=event.creator,
    )


class ChainPoller:
    def __init__(
        self,
        chain: ChainConfig,
        rpc: JsonRpcClient,
        store: AggregatorStore,
        mailbox: str,
        avs_addresses: set[str],
        on_tasks: TasksCallback,
        on_orphaned: TasksCallback,
        keep_blocks: int = 256,
    ) -> None:
        self.chain = chain
        self.rpc = rpc
        self.store = store
        self.mailbox = mailbox.lower()
        self.avs_addresses = {a.lower() for a in avs_addresses}
        self.on_tasks = on_tasks
        self.on_orphaned = on_orphaned
        self.keep_blocks = max(keep_blocks, chain.max_reorg_depth + 1)
        self.range_size = chain.max_block_range
        self.status = PollerStatus(chain.chain_id, range_size=self.range_size)
        self._stored_any = store.get_cursor(chain.chain_id) is not None

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    async def run(self) -> None:
        """Poll until cancelled. Never returns on error."""
        cursor = self.store.get_cursor(self.chain_id)
        if cursor is not None:
            logger.info(
                f"Resuming chain polling from block {cursor + 1}",
                chain_id=self.chain_id,
                block=cursor + 1,
            )
        backoff = 0
        while True:
            try:
                behind = await self.poll_once()
                backoff = 0
                self.status.consecutive_errors = 0
                self.status.last_success = time.time()
                if not behind:
                    await asyncio.sleep(self.chain.poll_interval_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                backoff += 1
                self.status.consecutive_errors += 1
                delay = min(30.0, 0.5 * 2 ** min(backoff, 6)) * random.uniform(0.75, 1.25)
                if isinstance(exc, RpcError):
                    logger.warning(
                        "Chain RPC error, retrying",
                        chain_id=self.chain_id,
                        error=str(exc),
                        retry_in_s=round(delay, 2),
                    )
                else:
                    logger.exception(
                        "Chain poller error, retrying",
                        chain_id=self.chain_id,
                        retry_in_s=round(delay, 2),
                    )
                await asyncio.sleep(delay)

    async def poll_once(self) -> bool:
        """One round; returns True when more blocks are ready right away (still behind)."""
        head = await self.rpc.block_number()
        self.status.head = head
        target = head - self.chain.confirmations
        cursor = self.store.get_cursor(self.chain_id)
        if cursor is None:
            start = self.chain.start_block if self.chain.start_block is not None else max(target, 0)
            cursor = start - 1
            logger.info(
                "No stored cursor: starting chain polling", chain_id=self.chain_id, block=start
            )
        self.status.cursor = cursor
        if cursor >= target:
            return False
        if not await self._tip_is_canonical(cursor):
            return True
        start = cursor + 1
        end = min(start + self.range_size - 1, target)
        return await self._process_range(start, end, head, cursor) and end < target

    async def _tip_is_canonical(self, cursor: int) -> bool:
        stored_tip = self.store.get_block(self.chain_id, cursor)
        if stored_tip is None:
            return True  # nothing stored to compare (first range, or a final region)
        canonical = await self.rpc.header(cursor)
        if canonical is None:
            logger.warning(
                "Node does not have our last processed block yet",
                chain_id=self.chain_id,
                block=cursor,
            )
            return False
        if canonical.hash == stored_tip.hash:
            return True
        await self._handle_reorg(cursor)
        return False

    async def _handle_reorg(self, tip: int) -> None:
        depth_limit = self.chain.max_reorg_depth
        stored = {
            b.number: b.hash for b in self.store.list_blocks(self.chain_id, tip - depth_limit, tip)
        }
        heights = heights_to_check(list(stored), tip, depth_limit)
        canonical_headers = await self.rpc.headers(heights)
        canonical = {n: h.hash for n, h in canonical_headers.items() if h is not None}
        try:
            reorg = find_common_ancestor(stored, canonical, tip, depth_limit)
        except ReorgTooDeep as exc:
            ancestor = max(tip - depth_limit, 0)
            logger.error(
                "Block reorganization deeper than the window; rescanning it",
                chain_id=self.chain_id,
                error=str(exc),
                ancestor=ancestor,
            )
        else:
            if reorg is None:
                return
            ancestor = reorg.ancestor
        removed = await self.store.rollback_to(self.chain_id, ancestor)
        self.status.reorgs += 1
        self.status.cursor = ancestor
        logger.warning(
            "Block reorganization detected",
            chain_id=self.chain_id,
            depth=tip - ancestor,
            ancestor=ancestor,
            previous_tip=tip,
            orphaned_tasks=len(removed),
        )
        if removed:
            await self.on_orphaned(removed)

    async def _process_range(self, start: int, end: int, head: int, cursor: int) -> bool:
        started = time.monotonic()
        window_start = max(start, head - self.chain.max_reorg_depth)
        dense = list(range(window_start, end + 1))
        heights = dense if dense else [end]
        try:
            logs = await self.rpc.logs(self.mailbox, [TASK_CREATED_TOPIC], start, end)
        except RangeTooLarge:
            self.range_size = max(1, (end - start + 1) // 2)
            self.status.range_size = self.range_size
            logger.info(
                "Node refused the block range; shrinking it",
                chain_id=self.chain_id,
                range=end - start + 1,
                new_range=self.range_size,
            )
            return True
        headers = await self.rpc.headers(heights)
        if any(h is None for h in headers.values()):
            logger.warning(
                "Node returned no header for a block it reported; retrying",
                chain_id=self.chain_id,
                start=start,
                end=end,
            )
            return False
        chain = [headers[n] for n in heights]
        previous = self.store.get_block(self.chain_id, cursor)
        prev_header = (
            Header(previous.number, previous.hash, previous.parent_hash) if previous else None
        )
        if broken_link(prev_header, chain) is not None or broken_link(None, chain) is not None:
            logger.info("Chain changed while reading the range; retrying", chain_id=self.chain_id)
            return True
        hashes = {h.number: h.hash for h in chain}
        tasks: list[TaskRecord] = []
        for raw in logs:
            try:
                event = decode_task_created(raw)
            except MalformedLogError as exc:
                logger.error(
                    "Skipping malformed TaskCreated log", chain_id=self.chain_id, error=str(exc)
                )
                continue
            known = hashes.get(event.block_number)
            if known is not None and known != event.block_hash:
                logger.info(
                    "Log from a block that is no longer canonical; retrying",
                    chain_id=self.chain_id,
                    block=event.block_number,
                )
                return True
            if event.address != self.mailbox:
                continue
            if self.avs_addresses and event.avs not in self.avs_addresses:
                continue
            tasks.append(task_from_event(event, self.chain_id))
        blocks = [
            BlockRecord(self.chain_id, h.number, h.hash, h.parent_hash, h.timestamp) for h in chain
        ]
        inserted = await self.store.commit_range(
            self.chain_id, cursor=end, blocks=blocks, tasks=tasks, keep_blocks=self.keep_blocks
        )
        self.status.cursor = end
        if self.range_size < self.chain.max_block_range:
            self.range_size = min(self.chain.max_block_range, self.range_size * 2)
            self.status.range_size = self.range_size
        logger.info(
            "Processing block",
            chain_id=self.chain_id,
            from_block=start,
            to_block=end,
            tasks=len(tasks),
            new_tasks=len(inserted),
            took_ms=round((time.monotonic() - started) * 1000, 1),
        )
        if inserted:
            await self.on_tasks(inserted)
        return True
