"""A fault-injecting JSON-RPC proxy in front of a real node (anvil).

Faults that cannot be produced for real on a local node (provider errors, HTTP 429, range
limits, stalls, `null` blocks) are injected here; every other request goes through to the real
node unchanged. Tests program it with rules and read its per-method call counts.

    proxy = RpcFaultProxy(anvil.url)
    await proxy.start()
    proxy.add(Fault("eth_getLogs", "range_limit", max_range=10))
    proxy.add(Fault("eth_blockNumber", "http_429", times=3))
    proxy.add(Fault("*", "rpc_error", probability=0.1))   # seeded: runs are repeatable
    ... point the service at proxy.url ...

Kinds: `rpc_error` (-32000), `http_429`, `http_500`, `range_limit` (-32005 for eth_getLogs
spanning more than `max_range` blocks), `stall` (answer after `delay` seconds), `null_result`
(`"result": null`), `drop` (close the connection before forwarding) and `drop_after` (forward,
then close the connection: the node acted, the client never hears).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from aiohttp import web

FaultKind = Literal[
    "rpc_error",
    "http_429",
    "http_500",
    "range_limit",
    "stall",
    "null_result",
    "drop",
    "drop_after",
]


_TRANSPORT_KINDS = frozenset({"http_429", "http_500", "drop", "drop_after", "stall"})
_CALL_KINDS = frozenset({"rpc_error", "range_limit", "null_result"})


@dataclass
class Fault:
    method: str  # JSON-RPC method name, or "*" for all
    kind: FaultKind
    times: int | None = None  # how many matching requests to hit; None = until removed
    max_range: int = 0  # range_limit: eth_getLogs spanning more blocks than this fails
    delay: float = 0.0  # stall: seconds before the real answer
    message: str = "injected fault"
    probability: float = 1.0  # chance that a matching request is hit (seeded RNG)

    def matches(self, method: str) -> bool:
        return (self.method == "*" or self.method == method) and (
            self.times is None or self.times > 0
        )


def _span(params: list[Any]) -> int:
    flt = params[0] if params else {}
    start, end = flt.get("fromBlock", "0x0"), flt.get("toBlock", "latest")
    if not (
        isinstance(start, str)
        and start.startswith("0x")
        and isinstance(end, str)
        and end.startswith("0x")
    ):
        return 1 << 30
    return int(end, 16) - int(start, 16) + 1


class RpcFaultProxy:
    def __init__(
        self, upstream: str, host: str = "127.0.0.1", port: int = 0, seed: int = 7
    ) -> None:
        self.upstream = upstream
        self.random = random.Random(seed)
        self.log_spans: list[tuple[int, bool]] = []  # eth_getLogs spans, and whether refused
        self.host = host
        self.port = port
        self.faults: list[Fault] = []
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.http_requests = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.blackhole = False  # when set, every request fails at the connection level

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    async def start(self) -> RpcFaultProxy:
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _take(self, method: str, params: list[Any], kinds: frozenset[str]) -> Fault | None:
        for fault in self.faults:
            if fault.kind not in kinds or not fault.matches(method):
                continue
            if fault.kind == "range_limit" and (
                method != "eth_getLogs" or _span(params) <= fault.max_range
            ):
                continue
            if fault.probability < 1.0 and self.random.random() >= fault.probability:
                continue
            if fault.times is not None:
                fault.times -= 1
            self.injected[f"{method}:{fault.kind}"] += 1
            return fault
        return None

    @staticmethod
    def _close(request: web.Request) -> None:
        if request.transport is not None:
            request.transport.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.blackhole:
            self._close(request)
            raise web.HTTPServiceUnavailable()
        self.http_requests += 1
        body = await request.json()
        batch = isinstance(body, list)
        items = body if batch else [body]
        # Transport faults hit the HTTP request (a batch as a whole), named by its first call;
        # JSON-RPC faults hit each call.
        for item in items:
            self.calls[item.get("method", "")] += 1
        first = items[0].get("method", "") if items else ""
        transport = self._take(first, items[0].get("params") or [], _TRANSPORT_KINDS)
        if transport is not None:
            if transport.kind == "http_429":
                return web.Response(status=429, text="Too Many Requests")
            if transport.kind == "http_500":
                return web.Response(status=500, text="Internal Server Error")
            if transport.kind == "drop":
                self._close(request)
                raise web.HTTPServiceUnavailable()
            if transport.kind == "stall":
                await asyncio.sleep(transport.delay)
        answers = []
        for item in items:
            method = item.get("method", "")
            fault = self._take(method, item.get("params") or [], _CALL_KINDS)
            if method == "eth_getLogs":
                refused = fault is not None and fault.kind == "range_limit"
                self.log_spans.append((_span(item.get("params") or []), refused))
            if fault is not None and fault.kind == "rpc_error":
                answers.append(_error(item, -32000, fault.message))
            elif fault is not None and fault.kind == "range_limit":
                answers.append(_error(item, -32005, "query returned more than 10000 results"))
            elif fault is not None and fault.kind == "null_result":
                answers.append({"jsonrpc": "2.0", "id": item.get("id"), "result": None})
            else:
                answers.append(await self._forward(item))
        if transport is not None and transport.kind == "drop_after":
            self._close(request)  # the node acted on every call; the client hears nothing
            raise web.HTTPServiceUnavailable()
        payload = answers if batch else answers[0]
        return web.Response(text=json.dumps(payload), content_type="application/json")

    async def _forward(self, item: dict[str, Any]) -> dict[str, Any]:
        assert self._session is not None
        async with self._session.post(self.upstream, json=item) as response:
            return await response.json(content_type=None)


def _error(item: dict[str, Any], code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": item.get("id"), "error": {"code": code, "message": message}}


class ProxyThread:
    """The proxy on its own event loop in a thread, for synchronous and module-scoped fixtures."""

    def __init__(self, upstream: str) -> None:
        import threading

        self.proxy = RpcFaultProxy(upstream)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> RpcFaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(10)
        return self.proxy

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
