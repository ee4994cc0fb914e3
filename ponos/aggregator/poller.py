"""The chain poller: TaskCreated events by block RANGE, reorg-safe, exactly-once intake.

One poller per configured chain. Each round:
1. head = eth_blockNumber; process only up to head - confirmations;
2. while the cursor is inside the reorg window (`maxReorgDepth` below the head), check that
   the block we last processed is still canonical (also when idle: a reorg can replace blocks
   without the head moving); if not, walk back over stored hashes to the common ancestor
   (reorg.py), roll storage back (cursor, blocks, orphaned tasks) and rescan;
3. fetch eth_getLogs for [cursor+1, end] filtered on the TaskMailbox address and the
   TaskCreated topic; the range adapts (ranges.py): it shrinks on "range too large", settles
   under the provider's limit and grows back on success, capped by `maxBlockRange`;
4. fetch the headers of the range's blocks inside the reorg window in one batch (else only the
   last block's, which proves the node has the range), check that they link to the stored tip
   and that every log's block hash is canonical;
5. commit the cursor, the block records and the new tasks in ONE atomic batch, so a crash
   never marks a block processed whose tasks were not stored;
6. hand the newly stored tasks to the pipeline.
RPC trouble is retried with capped exponential backoff and jitter; the loop never dies on an
error (it logs and tries again), and cancellation (shutdown) interrupts any wait. A node that
answers inconsistently (a `null` block below its head, a log from a non-canonical block) gets
a short pause and a fresh look, never a hot loop.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ponos import log
from ponos.aggregator.ranges import BlockRange
from ponos.aggregator.reorg import (
    Header,
    ReorgTooDeep,
    broken_link,
    find_common_ancestor,
    heights_to_check,
)
from ponos.chain.errors import MalformedLogError
from ponos.chain.events import TASK_CREATED_TOPIC, TaskCreatedEvent, decode_task_created
from ponos.chain.rpc import JsonRpcClient, RangeTooLarge
from ponos.config.aggregator import ChainConfig
from ponos.errors import PonosError
from ponos.storage.aggregator_store import AggregatorStore
from ponos.storage.records import BlockRecord, TaskRecord

logger = log.get_logger(__name__)

MAX_BACKOFF = 15.0  # seconds between rounds while the node keeps failing

TasksCallback = Callable[[list[TaskRecord]], Awaitable[None]]
ReorgCallback = Callable[[int, float], Awaitable[None]]  # (chain id, ancestor's timestamp)


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


class Step(enum.Enum):
    """What one polling round asks the loop to do next."""

    MORE = "more"  # blocks are ready right now: poll again at once
    IDLE = "idle"  # caught up: wait the poll interval
    RETRY = "retry"  # the node gave an inconsistent view: wait a moment and look again


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
        range_probe_after: int = 32,
        on_reorg: ReorgCallback | None = None,
    ) -> None:
        self.chain = chain
        self.rpc = rpc
        self.store = store
        self.mailbox = mailbox.lower()
        self.avs_addresses = {a.lower() for a in avs_addresses}
        self.on_tasks = on_tasks
        self.on_orphaned = on_orphaned
        self.on_reorg = on_reorg
        self.keep_blocks = max(keep_blocks, chain.max_reorg_depth + 1)
        self.ranges = BlockRange(chain.max_block_range, probe_after=range_probe_after)
        self.status = PollerStatus(chain.chain_id, range_size=self.ranges.size)
        self._announced_start = False

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    async def run(self) -> None:
        """Poll until cancelled. Never returns on error: every failure is logged and retried
        with capped exponential backoff and jitter."""
        cursor = self.store.get_cursor(self.chain_id)
        if cursor is not None:
            logger.info(
                f"Resuming chain polling from block {cursor + 1}",
                chain_id=self.chain_id,
                block=cursor + 1,
            )
        failures = 0
        retries = 0
        while True:
            try:
                step = await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self.status.consecutive_errors = failures
                delay = min(MAX_BACKOFF, 0.5 * 2 ** (min(failures, 8) - 1))
                delay *= random.uniform(0.75, 1.25)
                if isinstance(exc, PonosError):
                    logger.warning(
                        "Chain poller error, retrying",
                        chain_id=self.chain_id,
                        error=exc.message,
                        retry_in_s=round(delay, 2),
                        consecutive=failures,
                    )
                else:
                    logger.exception(
                        "Chain poller error, retrying",
                        chain_id=self.chain_id,
                        retry_in_s=round(delay, 2),
                        consecutive=failures,
                    )
                await asyncio.sleep(delay)
                continue
            failures = 0
            self.status.consecutive_errors = 0
            self.status.last_success = time.time()
            if step is Step.RETRY:
                retries += 1
                pause = min(self.chain.poll_interval_seconds, 0.1 * 2 ** min(retries, 4))
                await asyncio.sleep(pause)
                continue
            retries = 0
            if step is Step.IDLE:
                await asyncio.sleep(self.chain.poll_interval_seconds)

    async def poll_once(self) -> Step:
        """One round: check the stored tip, then process at most one range."""
        head = await self.rpc.block_number()
        self.status.head = head
        target = head - self.chain.confirmations
        cursor = self.store.get_cursor(self.chain_id)
        if cursor is None:
            start = self.chain.start_block if self.chain.start_block is not None else max(target, 0)
            cursor = start - 1
            if not self._announced_start:
                self._announced_start = True
                logger.info(
                    "No stored cursor: starting chain polling", chain_id=self.chain_id, block=start
                )
        self.status.cursor = cursor
        # Blocks deeper than the reorg window are final for us: no tip check while backfilling.
        if cursor >= head - self.chain.max_reorg_depth:
            tip = await self._check_tip(cursor, head)
            if tip is not None:
                return tip
        if cursor >= target:
            return Step.IDLE
        start = cursor + 1
        end = min(start + self.ranges.size - 1, target)
        step = await self._process_range(start, end, head, cursor)
        if step is Step.MORE and end >= target:
            return Step.IDLE
        return step

    async def _check_tip(self, cursor: int, head: int) -> Step | None:
        """None when the block we processed last is still canonical (go on); MORE after a
        reorg was handled (poll again at once from the rolled-back cursor); RETRY or IDLE
        when the node cannot tell us yet."""
        stored_tip = self.store.get_block(self.chain_id, cursor)
        if stored_tip is None:
            return None  # nothing stored to compare (first range)
        if cursor > head:
            # The node is behind our cursor: either it lags (the block it has at `head` is
            # the one we stored) or the chain got shorter in a reorg.
            stored_head = self.store.get_block(self.chain_id, head)
            canonical_head = await self.rpc.header(head) if stored_head is not None else None
            if stored_head is not None and canonical_head is None:
                return Step.RETRY
            if (
                canonical_head is not None
                and stored_head is not None
                and (canonical_head.hash == stored_head.hash)
            ):
                logger.info(
                    "Node is behind our last processed block; waiting",
                    chain_id=self.chain_id,
                    head=head,
                    cursor=cursor,
                )
                return Step.IDLE
            await self._handle_reorg(cursor)
            return Step.MORE
        canonical = await self.rpc.header(cursor)
        if canonical is None:
            logger.warning(
                "Node returned no header for a block below its head; retrying",
                chain_id=self.chain_id,
                block=cursor,
                head=head,
            )
            return Step.RETRY
        if canonical.hash == stored_tip.hash:
            return None
        await self._handle_reorg(cursor)
        return Step.MORE

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
        ancestor_block = self.store.get_block(self.chain_id, ancestor)
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
        if self.on_reorg is not None:
            # Transactions in the orphaned blocks (ours verifying older tasks) are gone too.
            await self.on_reorg(
                self.chain_id, float(ancestor_block.timestamp if ancestor_block else 0)
            )

    async def _process_range(self, start: int, end: int, head: int, cursor: int) -> Step:
        started = time.monotonic()
        try:
            logs = await self.rpc.logs(self.mailbox, [TASK_CREATED_TOPIC], start, end)
        except RangeTooLarge:
            span = end - start + 1
            size = self.ranges.refused(span)
            if size == 0:
                raise  # one block is too much for this node: back off and say so
            self.status.range_size = size
            logger.info(
                "Node refused the block range; shrinking it",
                chain_id=self.chain_id,
                range=span,
                new_range=size,
            )
            return Step.MORE
        # Headers of every block in the reorg window (their hashes are stored for reorg
        # detection), else only the range's last block: it proves the node has the range
        # (some nodes answer eth_getLogs with [] for blocks they do not have yet).
        window_start = max(start, head - self.chain.max_reorg_depth)
        heights = list(range(window_start, end + 1)) or [end]
        headers = await self.rpc.headers(heights, ask_again=True)
        if any(h is None for h in headers.values()):
            logger.warning(
                "Node returned no header for a block it reported; retrying",
                chain_id=self.chain_id,
                start=start,
                end=end,
            )
            return Step.RETRY
        chain = [h for h in (headers[n] for n in heights) if h is not None]
        previous = self.store.get_block(self.chain_id, cursor)
        prev_header = (
            Header(previous.number, previous.hash, previous.parent_hash) if previous else None
        )
        if broken_link(prev_header, chain) == start:
            await self._handle_reorg(cursor)  # our tip was replaced since we checked it
            return Step.MORE
        if broken_link(None, chain) is not None:
            logger.info("Chain changed while reading the range; retrying", chain_id=self.chain_id)
            return Step.RETRY
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
            if not start <= event.block_number <= end:
                logger.warning(
                    "Node returned a log outside the requested range; retrying",
                    chain_id=self.chain_id,
                    block=event.block_number,
                )
                return Step.RETRY
            known = hashes.get(event.block_number)
            if known is not None and known != event.block_hash:
                logger.info(
                    "Log from a block that is no longer canonical; retrying",
                    chain_id=self.chain_id,
                    block=event.block_number,
                )
                return Step.RETRY
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
        self.status.range_size = self.ranges.accepted(end - start + 1)
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
        return Step.MORE
