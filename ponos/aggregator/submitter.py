"""Submitting certificates with `submitResult`, exactly once per task.

Idempotence comes from the chain: before every (re)send the task's on-chain status is read,
and a task already VERIFIED is done (whoever verified it); EXPIRED or unknown tasks end here.
Transactions are EIP-1559, signed with the operator's transaction key; nonces are assigned
locally under a lock (concurrent submissions do not collide) and resynchronised from the
node when it says a nonce is used. A transaction without a receipt after `feeBumpAfter` is
replaced with the same nonce and fees raised by 25% (above the 10% replacement minimum), up
to `maxFeeBumps` times; one that must be abandoned (task expired, verified by another
transaction) is replaced by a zero-value self-transfer so later nonces are not stuck.
Known revert reasons are decoded from EigenLayer's custom errors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak
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

    async def status(self, task_id: str) -> TaskStatus:
        return await self.reader.task_status(task_id)

    async def submit(
        self, task_id: str, certificate: bytes, result: bytes, deadline: float
    ) -> SubmitOutcome:
        while True:
            status = await self.status(task_id)
            if status == TaskStatus.VERIFIED:
                return SubmitOutcome("verified", "already verified on chain")
            if status == TaskStatus.EXPIRED:
                return SubmitOutcome(
                    "expired", "the task expired on chain before its certificate landed"
                )
            if status == TaskStatus.NONE:
                return SubmitOutcome("failed", "the task is unknown on chain (reorged away?)")
            data = self._contract.encode_abi(
                "submitResult", args=[bytes.fromhex(task_id[2:]), certificate, result]
            )
            try:
                gas = await self.w3.eth.estimate_gas(
                    {"from": self.account.address, "to": self.mailbox, "data": data}
                )
            except (ContractCustomError, ContractLogicError) as exc:
                reason = revert_name(exc)
                if reason == "TimestampAtCreation":  # same second as creation: try again shortly
                    await asyncio.sleep(0.5)
                    continue
                if reason == "InvalidTaskStatus":
                    continue  # someone else verified it, or it expired: re-read the status
                return SubmitOutcome("failed", f"submitResult would revert: {reason}")
            outcome = await self._send_until_mined(task_id, data, int(gas * 1.2) + 10_000, deadline)
            if outcome is not None:
                return outcome

    async def _fees(self, bump: int) -> tuple[int, int]:
        latest = await self.w3.eth.get_block("latest")
        base = int(latest.get("baseFeePerGas", 0) or 0)
        try:
            tip = int(await self.w3.eth.max_priority_fee)
        except (Web3Exception, ValueError):
            tip = 1_000_000_000
        tip = max(tip, 1)
        factor = (BUMP_PERCENT / 100) ** bump
        return int((2 * base + tip) * factor) + bump, int(tip * factor) + bump

    async def _send(
        self,
        nonce: int,
        data: str | bytes,
        gas: int,
        bump: int,
        to: str | None = None,
    ) -> str:
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
        tx_hash = "0x" + bytes(signed.hash).hex()
        await self.w3.eth.send_raw_transaction(signed.raw_transaction)
        return tx_hash

    async def _send_until_mined(
        self, task_id: str, data, gas: int, deadline: float
    ) -> SubmitOutcome | None:
        async with self.nonces.lock:
            nonce = await self.nonces.take()
            try:
                tx_hash = await self._send(nonce, data, gas, 0)
            except (Web3Exception, ValueError) as exc:
                self.nonces.resync()
                logger.warning(
                    "Sending submitResult failed; retrying", task_id=task_id, error=str(exc)
                )
                return None
        if self.record_tx is not None:
            await self.record_tx(task_id, tx_hash)
        logger.info("Submitted task result", task_id=task_id, tx_hash=tx_hash, nonce=nonce)
        bumps = 0
        hashes = [tx_hash]
        sent_at = time.monotonic()
        while True:
            receipt = await self._receipt(hashes)
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
                if reason == "TimestampAtCreation":
                    return None
                return SubmitOutcome("failed", f"submitResult reverted: {reason}", mined_hash)
            if time.time() > deadline + 30:
                await self._cancel(nonce, bumps + 1)
                return SubmitOutcome(
                    "expired", "no receipt before the task deadline; transaction replaced"
                )
            if (
                time.monotonic() - sent_at > self.config.fee_bump_after
                and bumps < self.config.max_fee_bumps
            ):
                bumps += 1
                try:
                    async with self.nonces.lock:
                        hashes.append(await self._send(nonce, data, gas, bumps))
                    logger.info(
                        "Raised fees of a stuck submitResult",
                        task_id=task_id,
                        tx_hash=hashes[-1],
                        bumps=bumps,
                    )
                except (Web3Exception, ValueError) as exc:
                    logger.info("Fee bump not accepted", task_id=task_id, error=str(exc))
                sent_at = time.monotonic()
            await asyncio.sleep(RECEIPT_POLL)

    async def _receipt(self, hashes: list[str]):
        for tx_hash in reversed(hashes):
            try:
                return await self.w3.eth.get_transaction_receipt(tx_hash)
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
                await self._send(nonce, b"", 21_000, bump + 1, to=self.account.address)
        except (Web3Exception, ValueError) as exc:
            logger.info("Nonce already used; no cancel needed", nonce=nonce, error=str(exc))
