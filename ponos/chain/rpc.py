"""JSON-RPC access for the services, with the cross-cutting concerns as one layer:
timeouts, retries with capped exponential backoff and jitter, error classification and
per-method counters.

Transport is web3.py's AsyncHTTPProvider (`make_request` / `make_batch_request`) with web3's
own retries off, so the policy here is the only one. Errors are classified once:
- `RangeTooLarge`: the provider refuses an eth_getLogs span (JSON-RPC -32005 or the usual
  provider messages). Not retried: the caller must shrink the range (retrying the same range
  forever is the failure anchors.md §4.2 describes).
- transient (connection errors, timeouts, HTTP 429/5xx, rate-limit messages, -32000 server
  errors): retried with backoff, then `RpcUnavailable`.
- anything else: `RpcCallError` at once (a bad request does not get better by retrying).
Backoff sleeps are plain awaits, so cancelling the caller (shutdown) interrupts them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from web3 import AsyncHTTPProvider

from ponos import log
from ponos.aggregator.reorg import Header
from ponos.errors import PonosError

logger = log.get_logger(__name__)

_RANGE_HINTS = (
    "query returned more than",
    "block range",
    "range too large",
    "range is too large",
    "exceed maximum block range",
    "too many results",
    "log response size exceeded",
    "logs limit exceeded",
    "query timeout exceeded",
)
_RATE_HINTS = ("rate limit", "too many requests", "request limit", "capacity exceeded")


class RpcError(PonosError):
    def __init__(self, method: str, message: str, code: int | None = None) -> None:
        super().__init__(f"{method}: {message}")
        self.method = method
        self.code = code


class RangeTooLarge(RpcError):
    """The node refuses the eth_getLogs block range."""


class RpcUnavailable(RpcError):
    """The node could not be reached / kept failing through all retries."""


class RpcCallError(RpcError):
    """The node answered with an error that retrying will not fix."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial: float = 0.2
    maximum: float = 10.0
    jitter: float = 0.25

    def delay(self, attempt: int) -> float:
        base = min(self.maximum, self.initial * (2**attempt))
        return base * (1 + random.uniform(-self.jitter, self.jitter))


@dataclass
class RpcStats:
    """Per-method counters, read by the metrics exporter and the benchmarks."""

    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    http_requests: int = 0
    seconds: Counter[str] = field(default_factory=Counter)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


def classify(method: str, error: dict[str, Any]) -> RpcError:
    code = error.get("code")
    message = str(error.get("message", "unknown error"))
    lowered = message.lower()
    rate_limited = any(h in lowered for h in _RATE_HINTS)
    range_hint = code == -32005 or any(h in lowered for h in _RANGE_HINTS)
    if method == "eth_getLogs" and range_hint and not rate_limited:
        return RangeTooLarge(method, message, code)
    if code in (-32005, 429) or rate_limited:
        return RpcUnavailable(method, message, code)
    if code in (-32000, -32603) and "revert" not in lowered:
        return RpcUnavailable(method, message, code)
    return RpcCallError(method, message, code)


def _transport_error(method: str, exc: BaseException) -> RpcUnavailable:
    if isinstance(exc, aiohttp.ClientResponseError):
        return RpcUnavailable(method, f"HTTP {exc.status} {exc.message}", exc.status)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return RpcUnavailable(method, "request timed out")
    return RpcUnavailable(method, f"cannot reach the node ({type(exc).__name__}: {exc})")


def _quantity(value: int | str) -> str:
    return value if isinstance(value, str) else hex(value)


def parse_header(raw: dict[str, Any] | None) -> Header | None:
    if raw is None:
        return None
    return Header(
        int(raw["number"], 16),
        raw["hash"].lower(),
        raw["parentHash"].lower(),
        int(raw.get("timestamp", "0x0"), 16),
    )


class JsonRpcClient:
    """One chain endpoint. Cheap to share between tasks."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        stats: RpcStats | None = None,
        on_call: Callable[[str, float, bool], None] | None = None,
    ) -> None:
        self.url = url
        self.retry = retry or RetryPolicy()
        self.stats = stats or RpcStats()
        self._on_call = on_call
        self._provider = AsyncHTTPProvider(
            url,
            exception_retry_configuration=None,
            request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout)},
        )
        self._id = 0

    @property
    def provider(self) -> AsyncHTTPProvider:
        return self._provider

    async def close(self) -> None:
        await self._provider.disconnect()

    def _record(self, method: str, started: float, ok: bool) -> None:
        elapsed = time.monotonic() - started
        self.stats.requests[method] += 1
        self.stats.seconds[method] += elapsed
        if not ok:
            self.stats.errors[method] += 1
        if self._on_call is not None:
            self._on_call(method, elapsed, ok)

    async def _once(self, method: str, params: Sequence[Any]) -> Any:
        started = time.monotonic()
        self.stats.http_requests += 1
        try:
            reply = await self._provider.make_request(method, list(params))
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._record(method, started, False)
            raise _transport_error(method, exc) from None
        if "error" in reply and reply["error"] is not None:
            self._record(method, started, False)
            raise classify(method, reply["error"])
        self._record(method, started, True)
        return reply.get("result")

    async def request(
        self, method: str, params: Sequence[Any] = (), *, retries: bool = True
    ) -> Any:
        attempt = 0
        while True:
            try:
                return await self._once(method, params)
            except RpcUnavailable as exc:
                attempt += 1
                if not retries or attempt >= self.retry.attempts:
                    raise
                delay = self.retry.delay(attempt - 1)
                logger.debug("Retrying RPC call", method=method, attempt=attempt, error=exc.message)
                await asyncio.sleep(delay)

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; retried as a whole on transient failure."""
        if not calls:
            return []
        attempt = 0
        while True:
            try:
                return await self._batch_once(calls)
            except RpcUnavailable:
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise
                await asyncio.sleep(self.retry.delay(attempt - 1))

    async def _batch_once(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        started = time.monotonic()
        self.stats.http_requests += 1
        try:
            replies = await self._provider.make_batch_request([(m, list(p)) for m, p in calls])
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            for method, _ in calls:
                self._record(method, started, False)
            raise _transport_error(calls[0][0], exc) from None
        if isinstance(replies, dict):  # the whole batch was refused
            for method, _ in calls:
                self._record(method, started, False)
            raise classify(calls[0][0], replies.get("error") or {"message": "batch refused"})
        by_id = sorted(replies, key=lambda r: r.get("id", 0))
        results = []
        failure: RpcError | None = None
        for (method, _), reply in zip(calls, by_id, strict=False):
            if reply.get("error"):
                self._record(method, started, False)
                failure = failure or classify(method, reply["error"])
            else:
                self._record(method, started, True)
                results.append(reply.get("result"))
        if failure is not None:
            raise failure
        if len(results) != len(calls):
            raise RpcUnavailable(
                calls[0][0], f"batch answered {len(results)} of {len(calls)} calls"
            )
        return results

    # -- typed helpers ---------------------------------------------------------------------

    async def chain_id(self) -> int:
        return int(await self.request("eth_chainId"), 16)

    async def block_number(self) -> int:
        return int(await self.request("eth_blockNumber"), 16)

    async def header(self, number: int | str) -> Header | None:
        """The block header, or None when the node does not have it (yet)."""
        return parse_header(await self.request("eth_getBlockByNumber", [_quantity(number), False]))

    async def headers(self, numbers: Sequence[int]) -> dict[int, Header | None]:
        raws = await self.batch([("eth_getBlockByNumber", [_quantity(n), False]) for n in numbers])
        return {n: parse_header(raw) for n, raw in zip(numbers, raws, strict=True)}

    async def logs(
        self, address: str, topics: Sequence[str | None], start: int, end: int
    ) -> list[dict[str, Any]]:
        flt = {
            "address": address,
            "topics": list(topics),
            "fromBlock": hex(start),
            "toBlock": hex(end),
        }
        result = await self.request("eth_getLogs", [flt])
        if not isinstance(result, list):
            raise RpcCallError(
                "eth_getLogs", f"expected a list of logs, got {type(result).__name__}"
            )
        return result
