"""Submitting certificates with `submitResult`, exactly once per task.

Idempotence comes from the chain: before every (re)send the task's on-chain status is read,
and a task already VERIFIED is done (whoever verified it); an EXPIRED task ends here, and one
the node does not know (yet) is looked at again until the deadline (a reorg that removed it is
the poller's business). The transaction hash is recorded BEFORE the transaction is sent
(`record_tx`), so an aggregator killed right after sending finds it on restart and waits for
it (`known_tx`) instead of sending a second one. Transactions are EIP-1559, signed with the
operator's transaction key; nonces are assigned locally under a lock (concurrent submissions
do not collide) and resynchronised from the node whenever a nonce may have been lost. A
transaction without a receipt after `feeBumpAfter` is replaced with the same nonce and fees
raised by 25% (above the 10% replacement minimum), up to `maxFeeBumps` times; one that must be
abandoned (task expired) is replaced by a zero-value self-transfer so later nonces are not
stuck. Gas is estimated against the pending block: the state our transaction will meet.
Known revert reasons are decoded from EigenLayer's custom errors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import AsyncWeb3, Web3
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    TransactionNotFound,
    Web3Exception,
)

from ponos import log
from ponos.chain import abis
from ponos.chain.eigenlayer import EigenLayerReader
from ponos.chain.errors import ChainError
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
ERROR_NAMES = {"0x" + keccak(text=sig)[:4].hex(): sig.split("(")[0] for sig in _ERRORS}
RECEIPT_POLL = 0.25
BUMP_PERCENT = 125
DEADLINE_GRACE = 30.0  # seconds past the deadline before we stop trying (clock skew)
UNKNOWN_TASK_POLL = 1.0
DROPPED_CHECK_EVERY = 5.0  # seconds between "does the node still know our tx?" checks
FEE_CACHE_SECONDS = 1.0


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
    def __init__(self, w3: AsyncWeb3, address: str) -> None:
        self.w3 = w3
        self.address = address
        self._next: int | None = None
        self.lock = asyncio.Lock()

    async def take(self) -> int:
        """Call with `lock` held."""
        if self._next is None:
            self._next = await self.w3.eth.get_transaction_count(self.address, "pending")
        nonce = self._next
        self._next += 1
        return nonce

    def resync(self) -> None:
        self._next = None


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
    """One per chain: the TaskMailbox there, the tx key, its nonces."""

    def __init__(
        self,
        w3: AsyncWeb3,
        reader: EigenLayerReader,
        mailbox: str,
        tx_key: EcdsaPrivateKey,
        chain_id: int,
        config: SubmitterConfig,
        record_tx: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.w3 = w3
        self.reader = reader
        self.mailbox = Web3.to_checksum_address(mailbox)
        self.account = Account.from_key(tx_key.to_bytes())
        self.chain_id = chain_id
        self.config = config
        self.record_tx = record_tx
        self.nonces = NonceManager(w3, self.account.address)
        self._contract = w3.eth.contract(address=self.mailbox, abi=abis.ABIS_BY_USE["TaskMailbox"])
        self._fee_cache: tuple[float, int, int] | None = None

    async def status(self, task_id: str) -> TaskStatus:
        return await self.reader.task_status(task_id)

    async def submit(
        self,
        task_id: str,
        certificate: bytes,
        result: bytes,
        deadline: float,
        known_tx: str | None = None,
    ) -> SubmitOutcome:
        """Land the certificate (or learn that the task is settled). Transient RPC failures
        propagate (ChainError / Web3Exception); the caller retries with `known_tx` set to
        the task's recorded transaction."""
        if known_tx:
            adopted = await self._adopt(task_id, known_tx, deadline)
            if adopted is not None:
                return adopted
        data = bytes(
            HexBytes(
                self._contract.encode_abi(
                    "submitResult", args=[bytes.fromhex(task_id[2:]), certificate, result]
                )
            )
        )
        while True:
            if time.time() > deadline + DEADLINE_GRACE:
                return SubmitOutcome("expired", "the deadline passed before the result landed")
            status = await self.status(task_id)
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
            try:
                gas = await self.w3.eth.estimate_gas(
                    {"from": self.account.address, "to": self.mailbox, "data": data}, "pending"
                )
            except (ContractCustomError, ContractLogicError) as exc:
                reason = revert_name(exc)
                if reason == "TimestampAtCreation":  # same second as creation: try again shortly
                    await asyncio.sleep(0.5)
                    continue
                if reason == "InvalidTaskStatus":
                    # A pending transaction (ours or not) settles it: wait, then re-read.
                    await asyncio.sleep(RECEIPT_POLL)
                    continue
                return SubmitOutcome("failed", f"submitResult would revert: {reason}")
            pending = await self._send_new(task_id, data, int(gas * 1.2) + 10_000)
            if pending is None:
                continue
            outcome = await self._wait_mined(pending, deadline)
            if outcome is not None:
                return outcome

    async def _adopt(self, task_id: str, tx_hash: str, deadline: float) -> SubmitOutcome | None:
        """Wait for a transaction recorded before a restart, if the node knows it."""
        try:
            tx = await self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        logger.info("Waiting for a transaction sent before a restart", task_id=task_id, tx=tx_hash)
        pending = _Pending(task_id, int(tx["nonce"]), bytes(tx["input"]), int(tx["gas"]), [tx_hash])
        return await self._wait_mined(pending, deadline)

    async def _fees(self, bump: int) -> tuple[int, int]:
        now = time.monotonic()
        if self._fee_cache is None or now - self._fee_cache[0] > FEE_CACHE_SECONDS:
            latest = await self.w3.eth.get_block("latest")
            base = int(latest.get("baseFeePerGas", 0) or 0)
            try:
                tip = int(await self.w3.eth.max_priority_fee)
            except (Web3Exception, ValueError):
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
            "to": to or self.mailbox,
            "value": 0,
            "data": data,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
        }
        signed = self.account.sign_transaction(tx)
        return "0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction)

    async def _known(self, tx_hash: str) -> bool:
        try:
            await self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return True

    async def _broadcast(self, task_id: str, tx_hash: str, raw: bytes) -> None:
        """Record the hash first (a crash after sending must find it), then send."""
        if self.record_tx is not None:
            await self.record_tx(task_id, tx_hash)
        try:
            await self.w3.eth.send_raw_transaction(raw)
        except (Web3Exception, ValueError):
            if await self._known(tx_hash):
                return  # the node has it (an earlier attempt reached it): "already known"
            raise

    async def _send_new(self, task_id: str, data: bytes, gas: int) -> _Pending | None:
        async with self.nonces.lock:
            nonce = await self.nonces.take()
            try:
                tx_hash, raw = await self._sign(nonce, data, gas, 0)
                await self._broadcast(task_id, tx_hash, raw)
            except (Web3Exception, ValueError) as exc:
                self.nonces.resync()
                logger.warning(
                    "Sending submitResult failed; retrying", task_id=task_id, error=str(exc)
                )
                await asyncio.sleep(RECEIPT_POLL)
                return None
            except BaseException:
                self.nonces.resync()  # cancelled or RPC down mid-send: the nonce may be free
                raise
        logger.info("Submitted task result", task_id=task_id, tx_hash=tx_hash, nonce=nonce)
        return _Pending(task_id, nonce, data, gas, [tx_hash])

    async def _wait_mined(self, pending: _Pending, deadline: float) -> SubmitOutcome | None:
        """The outcome once one of our transactions is mined; None to send afresh (the
        transaction was dropped, or it reverted for a reason worth another try)."""
        task_id = pending.task_id
        sent_at = time.monotonic()
        checked_at = sent_at
        while True:
            receipt = await self._receipt(pending.hashes)
            if receipt is not None:
                mined_hash = "0x" + bytes(receipt["transactionHash"]).hex()
                if receipt["status"] == 1:
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
                queued = await self.w3.eth.get_transaction_count(self.account.address, "pending")
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
                    async with self.nonces.lock:
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
                except (Web3Exception, ValueError) as exc:
                    logger.info("Fee bump not accepted", task_id=task_id, error=str(exc))
            await asyncio.sleep(RECEIPT_POLL)

    async def _receipt(self, hashes: list[str]):
        for tx_hash in reversed(hashes):
            try:
                return await self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                continue
        return None

    async def _revert_reason(self, receipt) -> str:
        tx = await self.w3.eth.get_transaction(receipt["transactionHash"])
        try:
            await self.w3.eth.call(
                {"from": tx["from"], "to": tx["to"], "data": tx["input"]},
                receipt["blockNumber"] - 1,
            )
        except (ContractCustomError, ContractLogicError) as exc:
            return revert_name(exc)
        except (Web3Exception, ChainError, ValueError) as exc:
            return str(exc)
        return "reverted (no reason)"

    async def _cancel(self, nonce: int, bump: int) -> None:
        """Free a nonce whose transaction we abandon, so later ones are not stuck behind it."""
        try:
            async with self.nonces.lock:
                tx_hash, raw = await self._sign(
                    nonce, b"", 21_000, bump + 1, to=self.account.address
                )
                await self.w3.eth.send_raw_transaction(raw)
            logger.info("Replaced an abandoned transaction", nonce=nonce, tx_hash=tx_hash)
        except (Web3Exception, ValueError) as exc:
            logger.info("Nonce already used; no cancel needed", nonce=nonce, error=str(exc))
