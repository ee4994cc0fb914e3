"""JSON-RPC access for the services, with the cross-cutting concerns as one layer:
timeouts, retries with capped exponential backoff and jitter, error classification and
per-method counters.

`RpcProvider` is a web3.py async provider, so the same layer carries the poller's raw calls
(`JsonRpcClient`) and every web3 call of the contract readers and the submitter
(`JsonRpcClient.web3()`): one connection pool (keep-alive) per endpoint, one retry policy,
one set of counters. Errors are classified once:
- `RangeTooLarge`: the provider refuses an eth_getLogs span (JSON-RPC -32005 or the usual
  provider messages). Not retried: the caller must shrink the range (retrying the same range
  forever is the failure anchors.md §4.2 describes).
- transient (connection errors, timeouts, HTTP 429/5xx, rate-limit messages, -32000 server
  errors, unreadable bodies): retried with backoff, then `RpcUnavailable`.
- anything else: `RpcCallError` at once (a bad request does not get better by retrying). Over
  web3, such answers go back to web3 unchanged, so reverts still surface as web3's
  `ContractLogicError` / `ContractCustomError`.
Backoff sleeps are plain awaits, so cancelling the caller (shutdown) interrupts them.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from web3 import AsyncWeb3
from web3.providers.async_base import AsyncJSONBaseProvider

from ponos import log
from ponos.aggregator.reorg import Header
from ponos.chain.errors import ChainError

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
# -32000 covers both "try again" (header not found, busy) and transaction rejections that
# retrying cannot fix.
_PERMANENT_HINTS = (
    "revert",
    "nonce",
    "already known",
    "underpriced",
    "insufficient funds",
    "intrinsic gas",
    "gas limit",
    "invalid",
)
_TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}


class RpcError(ChainError):
    def __init__(
        self, method: str, message: str, code: int | None = None, data: Any = None
    ) -> None:
        super().__init__(f"{method}: {message}")
        self.method = method
        self.code = code
        self.data = data  # the error's `data` member (revert data of a failed call)


class RangeTooLarge(RpcError):
    """The node refuses the eth_getLogs block range."""


class RpcUnavailable(RpcError):
    """The node could not be reached / kept failing through all retries."""


class RpcCallError(RpcError):
    """The node answered with an error that retrying will not fix."""


class RpcBadResponse(RpcUnavailable):
    """The node answered without error but with data that cannot be right (a null head, a
    non-list of logs); treated as transient: nodes behind load balancers do this."""


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
    """Per-method counters, read by the metrics exporter and the benchmarks. `requests`
    counts every attempt (a batch of n calls counts n), `http_requests` the HTTP posts."""

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
    data = error.get("data")
    lowered = message.lower()
    rate_limited = any(h in lowered for h in _RATE_HINTS)
    range_hint = code == -32005 or any(h in lowered for h in _RANGE_HINTS)
    if method == "eth_getLogs" and range_hint and not rate_limited:
        return RangeTooLarge(method, message, code)
    if code in (-32005, 429) or rate_limited:
        return RpcUnavailable(method, message, code)
    if code in (-32000, -32603) and not any(h in lowered for h in _PERMANENT_HINTS):
        return RpcUnavailable(method, message, code)
    return RpcCallError(method, message, code, data)


def _transport_error(method: str, exc: BaseException) -> RpcUnavailable:
    if isinstance(exc, aiohttp.ClientResponseError):
        return RpcUnavailable(method, f"HTTP {exc.status} {exc.message}", exc.status)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return RpcUnavailable(method, "request timed out")
    if isinstance(exc, ValueError):
        return RpcBadResponse(method, f"unreadable response ({exc})")
    return RpcUnavailable(method, f"cannot reach the node ({type(exc).__name__}: {exc})")


_TRANSPORT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError, ValueError)
_MISSING = object()


def _quantity(value: int | str) -> str:
    return value if isinstance(value, str) else hex(value)


def parse_quantity(method: str, value: Any) -> int:
    """A JSON-RPC quantity ("0x1a") as int; RpcBadResponse for null or garbage."""
    if isinstance(value, str) and value[:2].lower() == "0x":
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise RpcBadResponse(method, f"expected a hex quantity, got {str(value)[:40]!r}")


def parse_header(raw: dict[str, Any] | None, method: str = "eth_getBlockByNumber") -> Header | None:
    """A block header, None for a `null` block; RpcBadResponse for a malformed one."""
    if raw is None:
        return None
    try:
        return Header(
            int(raw["number"], 16),
            raw["hash"].lower(),
            raw["parentHash"].lower(),
            int(raw.get("timestamp") or "0x0", 16),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RpcBadResponse(method, "block header is malformed") from None


class RpcProvider(AsyncJSONBaseProvider):
    """web3 async provider over one keep-alive aiohttp session, with our retry policy.

    `raw_request` raises typed RpcErrors (for the poller); `make_request` (web3's entry point)
    retries transient failures the same way but hands other JSON-RPC errors back to web3 so
    its own exception mapping (reverts, custom errors) applies.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        stats: RpcStats | None = None,
        on_call: Callable[[str, float, bool], None] | None = None,
        max_connections: int = 32,
    ) -> None:
        super().__init__()
        self.endpoint_uri = url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.stats = stats or RpcStats()
        self.on_call = on_call
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._chain_id_reply: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"RpcProvider({self.endpoint_uri})"

    def _session_for_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=self.max_connections),
                headers={"Content-Type": "application/json"},
            )
            self._session_loop = loop
        return self._session

    async def _post(self, body: bytes) -> Any:
        session = self._session_for_loop()
        self.stats.http_requests += 1
        async with session.post(self.endpoint_uri, data=body) as response:
            if response.status in _TRANSIENT_HTTP or response.status >= 500:
                raise aiohttp.ClientResponseError(
                    response.request_info,
                    (),
                    status=response.status,
                    message=response.reason or "",
                )
            text = await response.read()
        return json.loads(text)

    def _record(self, method: str, started: float, ok: bool) -> None:
        elapsed = time.monotonic() - started
        self.stats.requests[method] += 1
        self.stats.seconds[method] += elapsed
        if not ok:
            self.stats.errors[method] += 1
        if self.on_call is not None:
            self.on_call(method, elapsed, ok)

    async def _attempt(self, method: str, params: Sequence[Any]) -> dict[str, Any]:
        """One request; the reply dict, or RpcUnavailable for transport/transient failures."""
        started = time.monotonic()
        body = self.encode_rpc_request(method, list(params))  # type: ignore[arg-type]
        try:
            reply = await self._post(body)
        except _TRANSPORT_ERRORS as exc:
            self._record(method, started, False)
            raise _transport_error(method, exc) from None
        if not isinstance(reply, dict):
            self._record(method, started, False)
            raise RpcBadResponse(method, "the reply is not a JSON-RPC object")
        error = reply.get("error")
        if error:
            self._record(method, started, False)
            classified = classify(method, error if isinstance(error, dict) else {})
            if isinstance(classified, RpcUnavailable):
                raise classified
            return reply
        self._record(method, started, True)
        return reply

    async def _with_retries(self, method: str, params: Sequence[Any]) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                return await self._attempt(method, params)
            except RpcUnavailable as exc:
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise
                logger.debug("Retrying RPC call", method=method, attempt=attempt, error=exc.message)
                await asyncio.sleep(self.retry.delay(attempt - 1))

    async def raw_request(self, method: str, params: Sequence[Any] = (), retries: bool = True):
        """The `result` of one call; RpcError subclasses on failure."""
        reply = (
            await self._with_retries(method, params)
            if retries
            else await self._attempt(method, params)
        )
        error = reply.get("error")
        if error:
            raise classify(method, error if isinstance(error, dict) else {})
        return reply.get("result")

    async def make_request(self, method, params):  # web3's entry point
        method = str(method)
        if method == "eth_chainId" and self._chain_id_reply is not None:
            return self._chain_id_reply  # web3 asks before every transaction; it never changes
        reply = await self._with_retries(method, params or [])
        if method == "eth_chainId" and not reply.get("error"):
            self._chain_id_reply = reply
        return reply

    async def make_batch_request(self, batch_requests):  # web3's batch entry point
        replies = await self.raw_batch([(str(m), p or []) for m, p in batch_requests], raw=True)
        return replies

    async def raw_batch(
        self, calls: Sequence[tuple[str, Sequence[Any]]], raw: bool = False
    ) -> list[Any]:
        """Several calls in one HTTP request. Transient failures are retried with backoff,
        asking again only for the calls that failed. Returns the results in call order (or
        the reply dicts with `raw`)."""
        if not calls:
            return []
        results: list[Any] = [_MISSING] * len(calls)
        todo = list(range(len(calls)))
        attempt = 0
        while True:
            try:
                failure = await self._batch_once(calls, todo, results, raw)
            except RpcUnavailable as exc:
                failure = exc
            todo = [i for i in todo if results[i] is _MISSING]
            if failure is None or not todo:
                return results
            if not isinstance(failure, RpcUnavailable):
                raise failure
            attempt += 1
            if attempt >= self.retry.attempts:
                raise failure
            await asyncio.sleep(self.retry.delay(attempt - 1))

    async def _batch_once(
        self,
        calls: Sequence[tuple[str, Sequence[Any]]],
        todo: list[int],
        results: list[Any],
        raw: bool,
    ) -> RpcError | None:
        """Ask for the calls in `todo`; fills `results`; returns the first error (transient
        ones first) or None."""
        started = time.monotonic()
        body = self.encode_batch_request_dicts(
            [
                {"jsonrpc": "2.0", "method": calls[i][0], "params": list(calls[i][1]), "id": i}  # type: ignore[misc]
                for i in todo
            ]
        )
        first = calls[todo[0]][0]
        try:
            replies = await self._post(body)
        except _TRANSPORT_ERRORS as exc:
            for i in todo:
                self._record(calls[i][0], started, False)
            raise _transport_error(first, exc) from None
        if isinstance(replies, dict):  # the whole batch was refused
            for i in todo:
                self._record(calls[i][0], started, False)
            raise classify(first, replies.get("error") or {"message": "batch refused"})
        if not isinstance(replies, list):
            raise RpcBadResponse(first, "the batch reply is not a list")
        by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
        transient: RpcError | None = None
        permanent: RpcError | None = None
        for i in todo:
            method = calls[i][0]
            reply = by_id.get(i)
            if reply is None:
                self._record(method, started, False)
                transient = transient or RpcBadResponse(method, "the batch reply misses a call")
                continue
            error = reply.get("error")
            if error:
                self._record(method, started, False)
                classified = classify(method, error if isinstance(error, dict) else {})
                if isinstance(classified, RpcUnavailable):
                    transient = transient or classified
                elif raw:
                    results[i] = reply
                else:
                    permanent = permanent or classified
                continue
            self._record(method, started, True)
            results[i] = reply if raw else reply.get("result")
        return permanent or transient

    async def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            await self.raw_request("eth_chainId", retries=False)
        except RpcError:
            if show_traceback:
                raise
            return False
        return True

    async def disconnect(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class JsonRpcClient:
    """One chain endpoint: typed helpers for the poller and an AsyncWeb3 for contract calls,
    both over the same RpcProvider. Cheap to share between tasks."""

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
        self._provider = RpcProvider(
            url, timeout=timeout, retry=retry, stats=stats, on_call=on_call
        )
        self._w3: AsyncWeb3 | None = None

    @property
    def provider(self) -> RpcProvider:
        return self._provider

    @property
    def stats(self) -> RpcStats:
        return self._provider.stats

    @property
    def retry(self) -> RetryPolicy:
        return self._provider.retry

    def web3(self) -> AsyncWeb3:
        """An AsyncWeb3 whose every call goes through this client's provider."""
        if self._w3 is None:
            self._w3 = AsyncWeb3(self._provider)
        return self._w3

    async def close(self) -> None:
        await self._provider.disconnect()

    async def request(
        self, method: str, params: Sequence[Any] = (), *, retries: bool = True
    ) -> Any:
        return await self._provider.raw_request(method, params, retries=retries)

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; retried as a whole on transient failure."""
        return await self._provider.raw_batch(calls)

    # -- typed helpers ---------------------------------------------------------------------

    async def chain_id(self) -> int:
        return parse_quantity("eth_chainId", await self.request("eth_chainId"))

    async def block_number(self) -> int:
        return parse_quantity("eth_blockNumber", await self.request("eth_blockNumber"))

    async def header(self, number: int | str) -> Header | None:
        """The block header, or None when the node does not have it (yet)."""
        return parse_header(await self.request("eth_getBlockByNumber", [_quantity(number), False]))

    async def headers(
        self, numbers: Sequence[int], ask_again: bool = False
    ) -> dict[int, Header | None]:
        """Headers by number in one batch (None for blocks the node does not have). With
        `ask_again`, blocks answered with `null` are asked for again a few times: for blocks
        at or below the node's head that is a hiccup (a load-balanced node behind), not an
        answer."""
        headers: dict[int, Header | None] = {}
        todo = list(numbers)
        attempt = 0
        while True:
            raws = await self.batch([("eth_getBlockByNumber", [_quantity(n), False]) for n in todo])
            for n, raw in zip(todo, raws, strict=True):
                header = parse_header(raw)
                if header is not None and header.number != n:
                    raise RpcBadResponse(
                        "eth_getBlockByNumber", f"asked for block {n}, got block {header.number}"
                    )
                headers[n] = header
            todo = [n for n in todo if headers[n] is None]
            attempt += 1
            if not ask_again or not todo or attempt >= self.retry.attempts:
                return {n: headers[n] for n in numbers}
            await asyncio.sleep(self.retry.delay(attempt - 1))

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
            raise RpcBadResponse(
                "eth_getLogs", f"expected a list of logs, got {type(result).__name__}"
            )
        return result
