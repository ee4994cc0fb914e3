"""The ops HTTP server of a service: /metrics, /healthz, /readyz, EigenLayer's node API,
and the admin snapshot endpoint.

Admin endpoints require `Authorization: Bearer <ops.adminToken>` when a token is configured,
and otherwise accept loopback clients only. Refusals carry no detail (401 without a token,
403 with a wrong one or from a non-loopback address without a configured token).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ponos import __version__, log
from ponos.ops.health import Verdict
from ponos.ops.metrics import ServiceMetrics
from ponos.ops.snapshots import OpsSnapshots
from ponos.storage.errors import SnapshotInProgress, SnapshotsUnsupported

logger = log.get_logger(__name__)

HealthFn = Callable[[], Awaitable[Verdict]]


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, indent=2, default=str), status=status, content_type="application/json"
    )


class OpsServer:
    def __init__(
        self,
        *,
        service: str,
        host: str,
        port: int,
        metrics: ServiceMetrics,
        health: HealthFn,
        snapshots: OpsSnapshots | None,
        admin_token: str | None,
    ) -> None:
        self.service = service
        self.host = host
        self.port = port
        self.metrics = metrics
        self.health = health
        self.snapshots = snapshots
        self._token = admin_token or None
        self._runner: web.AppRunner | None = None
        self.app = web.Application(middlewares=[self._errors])
        self.app.add_routes(
            [
                web.get("/metrics", self._metrics),
                web.get("/healthz", self._healthz),
                web.get("/readyz", self._readyz),
                web.get("/eigen/node", self._node),
                web.get("/eigen/node/health", self._eigen_health),
                web.post("/admin/snapshots", self._create_snapshot),
                web.get("/admin/snapshots", self._list_snapshots),
            ]
        )

    @web.middleware
    async def _errors(self, request: web.Request, handler):
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception:
            logger.exception("Ops endpoint failed", path=request.path)
            return _json({"error": "internal error (see the service log)"}, 500)

    async def start(self) -> int:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise OSError(
                f"ops HTTP server cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from None
        self.port = site._server.sockets[0].getsockname()[1]
        logger.info(
            "Ops HTTP listening",
            host=self.host,
            port=self.port,
            metrics=f"http://{self.host}:{self.port}/metrics",
        )
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- public endpoints --------------------------------------------------------------------

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return _json({"status": "alive", "service": self.service})

    async def _readyz(self, request: web.Request) -> web.Response:
        verdict = await self.health()
        return _json(verdict.to_dict(), 200 if verdict.ready else 503)

    async def _node(self, request: web.Request) -> web.Response:
        return _json(
            {
                "node_name": f"ponos-{self.service}",
                "spec_version": "v0.0.1",
                "node_version": __version__,
            }
        )

    async def _eigen_health(self, request: web.Request) -> web.Response:
        verdict = await self.health()
        return web.Response(status=verdict.eigen_code)

    # -- admin -------------------------------------------------------------------------------

    def _authorize(self, request: web.Request) -> web.Response | None:
        if self._token is None:
            return None if _is_loopback(request.remote) else web.Response(status=403)
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(header[len("Bearer ") :].strip().encode(), self._token.encode()):
            return web.Response(status=403)
        return None

    async def _create_snapshot(self, request: web.Request) -> web.Response:
        refused = self._authorize(request)
        if refused is not None:
            return refused
        if self.snapshots is None:
            return _json({"error": "snapshots need storage.type rocksdb"}, 501)
        wait = request.query.get("wait", "false").lower() in ("1", "true", "yes")
        try:
            manifest = await self.snapshots.create(wait=wait)
        except SnapshotInProgress:
            return _json({"error": "a snapshot is already being taken; retry when it is done"}, 409)
        except SnapshotsUnsupported as exc:
            return _json({"error": str(exc)}, 501)
        except Exception as exc:
            logger.error("Snapshot request failed", error=str(exc))
            return _json({"error": f"snapshot failed: {exc}"}, 500)
        return _json(manifest.to_dict(), 201 if manifest.verified else 500)

    async def _list_snapshots(self, request: web.Request) -> web.Response:
        refused = self._authorize(request)
        if refused is not None:
            return refused
        snapshots = self.snapshots.list() if self.snapshots is not None else []
        return _json({"snapshots": [m.to_dict() for m in snapshots]})
