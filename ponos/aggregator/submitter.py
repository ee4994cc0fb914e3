"""Submitting certificates with `submitResult`, exactly once per task.

Idempotence comes from the chain: before every (re)send the task's on-chain status is read,
and a task already VERIFIED is done (whoever verified it); an EXPIRED task ends here, and one
the node does not know (yet) is looked at again until the deadline (a reorg that removed it is
the poller's business). The transaction hash is recorded BEFORE the transaction is sent
(`record_tx`), so an aggregator killed right after sending finds it on restart and waits for
it (`known_tx`) instead of sending a second one. Transactions are EIP-1559, signed with the
operator's transaction key; one sender gives queued submissions consecutive nonces and sends
them in nonce order, a burst in one batch request (concurrent submissions neither collide
nor overtake each other), and nonces are resynchronised from the node whenever one may have
been lost (a refused send, a reorg, a gap). Receipts of all pending transactions are fetched
in one batch per round. A
transaction without a receipt after `feeBumpAfter` is replaced with the same nonce and fees
raised by 25% (above the 10% replacement minimum), up to `maxFeeBumps` times; one that must be
abandoned (task expired) is replaced by a zero-value self-transfer so later nonces are not
stuck. Gas is estimated against the pending block: the state our transaction will meet.
Known revert reasons are decoded from EigenLayer's custom errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from ponos import log
from ponos.chain.rpc import (
    JsonRpcClient,
    RpcBadResponse,
    RpcCallError,
    classify,
    parse_quantity,
)
from ponos.chain.types import TaskStatus
from ponos.config.aggregator import SubmitterConfig
from ponos.crypto.ecdsa import EcdsaPrivateKey

logger = log.get_logger(__name__)

_ERRORS = (
    "TimestampAtCreation()",
    "InvalidTaskStatus(uint8,uint8)",
    "InvalidReferenceTimestamp()",
    "InvalidMessageHash()",
    "ThresholdNotMet()",
    "VerificationFailed()",
    "SignersNotOrdered()",
    "EmptyCertificateSignature()",
    "InvalidSignature()",
    "InvalidSignatureLength()",
    "InvalidOperatorIndex()",
    "ReferenceTimestampDoesNotExist()",
    "CertificateStale()",
    "ExecutorOperatorSetNotRegistered()",
    "ExecutorOperatorSetTaskConfigNotSet()",
)
SUBMIT_RESULT = keccak(text="submitResult(bytes32,bytes,bytes)")[:4]
GET_TASK_STATUS = keccak(text="getTaskStatus(bytes32)")[:4]
ERROR_NAMES = {"0x" + keccak(text=sig)[:4].hex(): sig.split("(")[0] for sig in _ERRORS}
RECEIPT_POLL = 0.25
BUMP_PERCENT = 125
DEADLINE_GRACE = 30.0  # seconds past the deadline before we stop trying (clock skew)
UNKNOWN_TASK_POLL = 1.0
DROPPED_CHECK_EVERY = 5.0  # seconds between "does the node still know our tx?" checks
FEE_CACHE_SECONDS = 1.0
SEND_BATCH = 64  # transactions sent in one batch request


def revert_name(exc: BaseException) -> str:
    """The custom error's name (e.g. "ThresholdNotMet"), or the node's message."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return ERROR_NAMES.get(data[:10].lower(), f"unknown error {data[:10]}")
    message = getattr(exc, "message", None) or str(exc)
    return message


@dataclass(frozen=True)
class SubmitOutcome:
    status: str  # "verified" | "expired" | "failed"
    reason: str
    tx_hash: str | None = None
    by_us: bool = False


class NonceManager:
    """Nonces of one sending account. Taken under `lock`; a nonce stays outstanding from
    `take` until `settled` (broadcast accepted or refused), so a resync (after a failure or
    a reorg) never hands out a nonce another submission is about to use."""

    def __init__(self, rpc: JsonRpcClient, address: str) -> None:
        self.rpc = rpc
        self.address = address
        self._next: int | None = None
        self._outstanding: set[int] = set()
        self.lock = asyncio.Lock()

    async def queued(self) -> int:
        """The node's next nonce for us, counting transactions in its pool."""
        return parse_quantity(
            "eth_getTransactionCount",
            await self.rpc.request("eth_getTransactionCount", [self.address, "pending"]),
        )

    async def take(self) -> int:
        """Call with `lock` held."""
        if self._next is None:
            self._next = max([await self.queued(), *(n + 1 for n in self._outstanding)])
        nonce = self._next
        self._next += 1
        self._outstanding.add(nonce)
        return nonce

    def settled(self, nonce: int) -> None:
        self._outstanding.discard(nonce)

    def resync(self) -> None:
        self._next = None


class ReceiptWatcher:
    """Receipts of all our pending transactions in one batched request per round, instead of
    one eth_getTransactionReceipt per transaction per poll (hundreds of in-flight tasks would
    otherwise flood the node). Waiters register their hashes and share the next round."""

    def __init__(self, rpc: JsonRpcClient, interval: float) -> None:
        self.rpc = rpc
        self.interval = interval
        self._wanted: dict[str, int] = {}
        self._found: dict[str, dict[str, Any]] = {}
        self._round: asyncio.Future[None] | None = None

    async def receipt(self, hashes: list[str]) -> dict[str, Any] | None:
        """After the next round: the receipt of the newest of `hashes` that has one."""
        for tx_hash in hashes:
            self._wanted[tx_hash] = self._wanted.get(tx_hash, 0) + 1
        try:
            if self._round is None or self._round.done():
                self._round = asyncio.ensure_future(self._fetch_round())
            await asyncio.shield(self._round)
        finally:
            for tx_hash in hashes:
                left = self._wanted.get(tx_hash, 1) - 1
                if left <= 0:
                    self._wanted.pop(tx_hash, None)
                else:
                    self._wanted[tx_hash] = left
        for tx_hash in reversed(hashes):
            found = self._found.pop(tx_hash, None)
            if found is not None:
                return found
        return None

    async def _fetch_round(self) -> None:
        await asyncio.sleep(self.interval)
        hashes = list(self._wanted)
        if not hashes:
            return
        replies = await self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        for tx_hash, receipt in zip(hashes, replies, strict=True):
            if isinstance(receipt, dict):
                self._found[tx_hash] = receipt
        for stale in set(self._found) - set(self._wanted):
            del self._found[stale]


class _SendAgain(Exception):
    """An earlier transaction of the same batch was refused: ours waits behind a free
    nonce and must be sent again with a fresh one."""


@dataclass
class _Outgoing:
    task_id: str
    data: bytes
    gas: int
    done: asyncio.Future[tuple[int, str]]


@dataclass
class _Pending:
    """A transaction of ours waiting for a receipt, and its replacements."""

    task_id: str
    nonce: int
    data: bytes
    gas: int
    hashes: list[str]
    bumps: int = 0


class Submitter:
    """One per chain: the TaskMailbox there, the tx key, its nonces. Talks raw JSON-RPC
    through the chain's RpcProvider (retries, counters): the hot path needs no ABI machinery
    (the few selectors are encoded here)."""

    def __init__(
        self,
        rpc: JsonRpcClient,
        mailbox: str,
        tx_key: EcdsaPrivateKey,
        chain_id: int,
        config: SubmitterConfig,
        record_tx: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.rpc = rpc
        self.mailbox = mailbox.lower()
        self.account = Account.from_key(tx_key.to_bytes())
        self.sender = self.account.address.lower()
        self.chain_id = chain_id
        self.config = config
        self.record_tx = record_tx
        self.nonces = NonceManager(rpc, self.sender)
        self.receipts = ReceiptWatcher(rpc, RECEIPT_POLL)
        self._fee_cache: tuple[float, int, int] | None = None
        self._outgoing: asyncio.Queue[_Outgoing] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender

    async def status(self, task_id: str) -> TaskStatus:
        """TaskMailbox.getTaskStatus(taskHash) at the latest block."""
        raw = await self.rpc.request(
            "eth_call",
            [
                {"to": self.mailbox, "data": "0x" + (GET_TASK_STATUS + _bytes32(task_id)).hex()},
                "latest",
            ],
        )
        try:
            value = int(raw, 16)
            return TaskStatus(value)
        except (TypeError, ValueError):
            raise RpcBadResponse("eth_call", f"getTaskStatus returned {str(raw)[:40]!r}") from None

    async def _estimate(self, data: bytes) -> int:
        tx = {"from": self.sender, "to": self.mailbox, "data": "0x" + data.hex()}
        return parse_quantity(
            "eth_estimateGas", await self.rpc.request("eth_estimateGas", [tx, "pending"])
        )

    async def submit(
        self,
        task_id: str,
        certificate: bytes,
        result: bytes,
        deadline: float,
        known_tx: str | None = None,
    ) -> SubmitOutcome:
        """Land the certificate (or learn that the task is settled). Transient RPC failures
        propagate (ChainError); the caller retries with `known_tx` set to the task's recorded
        transaction."""
        if known_tx:
            adopted = await self._adopt(task_id, known_tx, deadline)
            if adopted is not None:
                return adopted
        data = submit_result_calldata(task_id, certificate, result)
        while True:
            if time.time() > deadline + DEADLINE_GRACE:
                return SubmitOutcome("expired", "the deadline passed before the result landed")
            # Both reads at once: the status explains an estimate that reverts.
            status, estimate = await asyncio.gather(
                self.status(task_id), self._estimate(data), return_exceptions=True
            )
            if isinstance(status, BaseException):
                raise status
            if status == TaskStatus.VERIFIED:
                return SubmitOutcome("verified", "already verified on chain")
            if status == TaskStatus.EXPIRED:
                return SubmitOutcome(
                    "expired", "the task expired on chain before its certificate landed"
                )
            if status == TaskStatus.NONE:
                # Not (yet) on this node's chain: it lags, or a reorg removed the task (then
                # the poller cancels us). Look again rather than fail a task that may exist.
                await asyncio.sleep(UNKNOWN_TASK_POLL)
                continue
            if isinstance(estimate, RpcCallError):
                reason = revert_name(estimate)
                if reason == "TimestampAtCreation":  # same second as creation: try again shortly
                    await asyncio.sleep(0.5)
                    continue
                if reason == "InvalidTaskStatus":
                    # A pending transaction (ours or not) settles it: wait, then re-read.
                    await asyncio.sleep(RECEIPT_POLL)
                    continue
                return SubmitOutcome("failed", f"submitResult would revert: {reason}")
            if isinstance(estimate, BaseException):
                raise estimate
            pending = await self._send_new(task_id, data, int(estimate * 1.2) + 10_000)
            if pending is None:
                continue
            outcome = await self._wait_mined(pending, deadline)
            if outcome is not None:
                return outcome

    async def _transaction(self, tx_hash: str) -> dict[str, Any] | None:
        tx = await self.rpc.request("eth_getTransactionByHash", [tx_hash])
        return tx if isinstance(tx, dict) else None

    async def _adopt(self, task_id: str, tx_hash: str, deadline: float) -> SubmitOutcome | None:
        """Wait for a transaction recorded before a restart, if the node knows it."""
        tx = await self._transaction(tx_hash)
        if tx is None:
            return None
        logger.info("Waiting for a transaction sent before a restart", task_id=task_id, tx=tx_hash)
        pending = _Pending(
            task_id,
            int(tx["nonce"], 16),
            bytes.fromhex(tx["input"][2:]),
            int(tx["gas"], 16),
            [tx_hash],
        )
        return await self._wait_mined(pending, deadline)

    async def _fees(self, bump: int) -> tuple[int, int]:
        now = time.monotonic()
        if self._fee_cache is None or now - self._fee_cache[0] > FEE_CACHE_SECONDS:
            latest = await self.rpc.request("eth_getBlockByNumber", ["latest", False])
            base = int((latest or {}).get("baseFeePerGas") or "0x0", 16)
            try:
                tip = parse_quantity(
                    "eth_maxPriorityFeePerGas", await self.rpc.request("eth_maxPriorityFeePerGas")
                )
            except RpcCallError:
                tip = 1_000_000_000
            self._fee_cache = (now, base, max(tip, 1))
        _at, base, tip = self._fee_cache
        factor = (BUMP_PERCENT / 100) ** bump
        return int((2 * base + tip) * factor) + bump, int(tip * factor) + bump

    async def _sign(
        self, nonce: int, data: bytes, gas: int, bump: int, to: str | None = None
    ) -> tuple[str, bytes]:
        max_fee, tip = await self._fees(bump)
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "to": Web3.to_checksum_address(to or self.mailbox),
            "value": 0,
            "data": data,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
        }
        # eth_account's typed-transaction signing costs milliseconds of Python: off the loop.
        signed = await asyncio.to_thread(self.account.sign_transaction, tx)
        return "0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction)

    async def _known(self, tx_hash: str) -> bool:
        return await self._transaction(tx_hash) is not None

    async def _broadcast(self, task_id: str, tx_hash: str, raw: bytes) -> None:
        """Record the hash first (a crash after sending must find it), then send."""
        if self.record_tx is not None:
            await self.record_tx(task_id, tx_hash)
        try:
            await self.rpc.request("eth_sendRawTransaction", ["0x" + raw.hex()])
        except RpcCallError:
            if await self._known(tx_hash):
                return  # the node has it (an earlier attempt reached it): "already known"
            raise

    async def _send_new(self, task_id: str, data: bytes, gas: int) -> _Pending | None:
        """Queue a new transaction; the sender sends queued ones in nonce order, in batches."""
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_loop(), name="submitter:sender")
        item = _Outgoing(task_id, data, gas, asyncio.get_running_loop().create_future())
        self._outgoing.put_nowait(item)
        try:
            nonce, tx_hash = await item.done
        except RpcCallError as exc:
            logger.warning(
                "Sending submitResult failed; retrying", task_id=task_id, error=exc.message
            )
            await asyncio.sleep(RECEIPT_POLL)
            return None
        except _SendAgain:
            return None
        logger.info("Submitted task result", task_id=task_id, tx_hash=tx_hash, nonce=nonce)
        return _Pending(task_id, nonce, data, gas, [tx_hash])

    async def _send_loop(self) -> None:
        """Group sends: take what is queued, give it consecutive nonces, sign, record every
        hash (the store commits them as one group), then send them in ONE batch request in
        nonce order. Sends never overtake each other (nodes may drop or hold back a
        transaction whose nonce arrives before its predecessor's), and a burst of tasks costs
        one store commit and one HTTP request, not one each under a lock."""
        while True:
            items = [await self._outgoing.get()]
            while not self._outgoing.empty() and len(items) < SEND_BATCH:
                items.append(self._outgoing.get_nowait())
            items = [i for i in items if not i.done.done()]  # callers cancelled meanwhile
            if not items:
                continue
            try:
                await self._send_batch(items)
            except asyncio.CancelledError:
                for item in items:
                    if not item.done.done():
                        item.done.cancel()
                raise
            except BaseException as exc:
                self.nonces.resync()
                for item in items:
                    if not item.done.done():
                        item.done.set_exception(exc)

    async def _send_batch(self, items: list[_Outgoing]) -> None:
        async with self.nonces.lock:
            nonces = [await self.nonces.take() for _ in items]
        try:
            signed = [
                await self._sign(nonce, item.data, item.gas, 0)
                for nonce, item in zip(nonces, items, strict=True)
            ]
            if self.record_tx is not None:  # write-ahead: a crash after sending finds them
                await asyncio.gather(
                    *(
                        self.record_tx(item.task_id, tx_hash)
                        for item, (tx_hash, _raw) in zip(items, signed, strict=True)
                    )
                )
            replies = await self.rpc.provider.raw_batch(
                [("eth_sendRawTransaction", ["0x" + raw.hex()]) for _hash, raw in signed],
                raw=True,
            )
        finally:
            for nonce in nonces:
                self.nonces.settled(nonce)
        gap = False
        for item, nonce, (tx_hash, _raw), reply in zip(items, nonces, signed, replies, strict=True):
            error = reply.get("error")
            if error and not await self._known(tx_hash):
                gap = True  # this nonce is free: every later one in the batch waits behind it
                self.nonces.resync()
                item.done.set_exception(classify("eth_sendRawTransaction", error))
            elif gap:
                item.done.set_exception(_SendAgain())
            else:
                item.done.set_result((nonce, tx_hash))

    async def _wait_mined(self, pending: _Pending, deadline: float) -> SubmitOutcome | None:
        """The outcome once one of our transactions is mined; None to send afresh (the
        transaction was dropped, or it reverted for a reason worth another try)."""
        task_id = pending.task_id
        sent_at = time.monotonic()
        checked_at = sent_at
        while True:
            receipt = await self.receipts.receipt(pending.hashes)
            if receipt is not None:
                mined_hash = str(receipt["transactionHash"]).lower()
                if int(receipt["status"], 16) == 1:
                    return SubmitOutcome(
                        "verified", "certificate verified on chain", mined_hash, by_us=True
                    )
                status = await self.status(task_id)
                if status == TaskStatus.VERIFIED:
                    return SubmitOutcome("verified", "already verified on chain", mined_hash)
                reason = await self._revert_reason(receipt)
                if reason in ("TimestampAtCreation", "InvalidTaskStatus"):
                    return None
                return SubmitOutcome("failed", f"submitResult reverted: {reason}", mined_hash)
            if time.time() > deadline + DEADLINE_GRACE:
                await self._cancel(pending.nonce, pending.bumps + 1)
                return SubmitOutcome(
                    "expired", "no receipt before the task deadline; transaction replaced"
                )
            now = time.monotonic()
            if now - checked_at > DROPPED_CHECK_EVERY:
                checked_at = now
                if not any([await self._known(h) for h in pending.hashes]):
                    logger.warning(
                        "Our submitResult transaction was dropped; sending again",
                        task_id=task_id,
                        nonce=pending.nonce,
                    )
                    self.nonces.resync()
                    return None
                queued = await self.nonces.queued()
                if queued < pending.nonce:
                    # A nonce below ours is free (a reorg dropped our earlier transaction):
                    # ours can never be mined. Send again with a fresh nonce; the stuck one
                    # reverts harmlessly if it is ever mined.
                    logger.warning(
                        "Nonce gap below our submitResult; sending again",
                        task_id=task_id,
                        nonce=pending.nonce,
                        next_free=queued,
                    )
                    self.nonces.resync()
                    return None
            if (
                now - sent_at > self.config.fee_bump_after
                and pending.bumps < self.config.max_fee_bumps
            ):
                pending.bumps += 1
                sent_at = now
                try:
                    tx_hash, raw = await self._sign(
                        pending.nonce, pending.data, pending.gas, pending.bumps
                    )
                    pending.hashes.append(tx_hash)
                    await self._broadcast(task_id, tx_hash, raw)
                    logger.info(
                        "Raised fees of a stuck submitResult",
                        task_id=task_id,
                        tx_hash=tx_hash,
                        bumps=pending.bumps,
                    )
                except RpcCallError as exc:
                    logger.info("Fee bump not accepted", task_id=task_id, error=exc.message)

    async def _revert_reason(self, receipt: dict[str, Any]) -> str:
        tx = await self._transaction(str(receipt["transactionHash"]))
        if tx is None:
            return "reverted (transaction no longer known)"
        block = hex(int(receipt["blockNumber"], 16) - 1)
        try:
            await self.rpc.request(
                "eth_call", [{"from": tx["from"], "to": tx["to"], "data": tx["input"]}, block]
            )
        except RpcCallError as exc:
            return revert_name(exc)
        return "reverted (no reason)"

    async def _cancel(self, nonce: int, bump: int) -> None:
        """Free a nonce whose transaction we abandon, so later ones are not stuck behind it."""
        try:
            tx_hash, raw = await self._sign(nonce, b"", 21_000, bump + 1, to=self.sender)
            await self.rpc.request("eth_sendRawTransaction", ["0x" + raw.hex()])
            logger.info("Replaced an abandoned transaction", nonce=nonce, tx_hash=tx_hash)
        except RpcCallError as exc:
            logger.info("Nonce already used; no cancel needed", nonce=nonce, error=exc.message)


def _bytes32(task_id: str) -> bytes:
    raw = bytes.fromhex(task_id[2:] if task_id[:2].lower() == "0x" else task_id)
    if len(raw) != 32:
        raise ValueError(f"task id {task_id!r} is not 32 bytes")
    return raw


def submit_result_calldata(task_id: str, certificate: bytes, result: bytes) -> bytes:
    """`submitResult(bytes32 taskHash, bytes executorCert, bytes result)` calldata."""
    return SUBMIT_RESULT + abi_encode(
        ["bytes32", "bytes", "bytes"], [_bytes32(task_id), certificate, result]
    )
