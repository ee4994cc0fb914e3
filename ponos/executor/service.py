"""The executor service: wiring, start-up recovery, serving, graceful shutdown.

Start-up: open the store, load the keys, start gRPC (health NOT_SERVING), then
"Loading performer states": every stored performer is re-adopted when its process or
container is still alive and healthy, otherwise restarted from its stored artifact; stored
in-flight tasks are counted and expired ones dropped; configured performers are reconciled
(same artifact: keep; different: deploy); then health turns SERVING.
Shutdown (SIGTERM/SIGINT): health NOT_SERVING, refuse new tasks, let running tasks finish
within the grace period, stop managed performers, flush and close the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ponos import log
from ponos.config.executor import ExecutorConfig
from ponos.crypto.errors import CryptoError
from ponos.crypto.signer import OperatorSigners, load_operator_signers, verify_bn254, verify_ecdsa
from ponos.executor.auth import ManagementAuth
from ponos.executor.chainview import ExecutorChainView
from ponos.executor.deployments import Deployments
from ponos.executor.performers.base import RuntimeContext
from ponos.executor.performers.instance import PerformerInfo
from ponos.executor.performers.manager import PerformerEvents, PerformerManager
from ponos.executor.performers.spec import PerformerSpec, spec_from_config
from ponos.executor.server import ExecutorGrpcServer
from ponos.executor.state import spec_from_state, state_from_info
from ponos.executor.tasks import TaskRunner
from ponos.storage import ExecutorStore, open_engine
from ponos.storage.errors import RecordNotFound

logger = log.get_logger(__name__)

PRUNE_INTERVAL = 60.0


class ExecutorService:
    def __init__(self, config: ExecutorConfig, chain: ExecutorChainView | None = None) -> None:
        self.config = config
        self.operator = config.operator.address.lower()
        self._chain = chain
        self.engine = None
        self.store: ExecutorStore | None = None
        self.signers: OperatorSigners | None = None
        self.performers: PerformerManager | None = None
        self.tasks: TaskRunner | None = None
        self.deployments: Deployments | None = None
        self.server: ExecutorGrpcServer | None = None
        self.auth: ManagementAuth | None = None
        self.ready = False
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crypto")
        self._background: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self.configured: dict[str, PerformerSpec] = {
            p.avs_address: spec_from_config(p, config.performer_network_name)
            for p in config.avs_performers
        }

    # -- backend protocol for the gRPC handlers -------------------------------------------

    async def submit_task(self, request, context):
        if self.tasks is None or not self.ready:
            from ponos.executor.errors import Unavailable

            raise Unavailable("executor is starting; retry shortly")
        return await self.tasks.submit(request, context)

    async def deploy_artifact(self, request, context) -> tuple[str, str]:
        from ponos.executor.errors import Unavailable

        if self.deployments is None or not self.ready:
            raise Unavailable("executor is starting; retry shortly")
        return await self.deployments.deploy(request, context)

    def list_performers(self, avs_address: str | None) -> list[PerformerInfo]:
        return self.performers.list(avs_address) if self.performers else []

    async def remove_performer(self, performer_id: str) -> None:
        assert self.performers is not None
        await self.performers.remove(performer_id)

    # -- lifecycle -------------------------------------------------------------------------

    def _performer_dir(self) -> Path:
        if self.config.performer_dir:
            return Path(self.config.performer_dir)
        self._tmpdir = tempfile.TemporaryDirectory(prefix="ponos-performers-")
        return Path(self._tmpdir.name)

    async def start(self) -> None:
        config = self.config
        self.signers = await asyncio.to_thread(load_operator_signers, config.operator)
        self.engine = open_engine(config.storage, "executor")
        self.store = ExecutorStore(self.engine)
        logger.info("Storage opened", type=config.storage.type, dir=config.storage.rocksdb.dir)
        if self._chain is None:
            from ponos.executor.chain import build_chain_view

            self._chain = await build_chain_view(config)
        performer_dir = self._performer_dir()
        context = RuntimeContext(
            log_dir=performer_dir / "logs", artifact_dir=performer_dir / "artifacts"
        )
        self.performers = PerformerManager(
            context,
            PerformerEvents(changed=self._performer_changed, removed=self._performer_removed),
            drain_timeout=config.tasks.max_timeout,
        )
        self.auth = ManagementAuth(
            enabled=config.authentication.enabled,
            allow_remote=config.management.allow_remote,
            operator_address=self.operator,
            verify_signature=self._verify_own_signature,
        )
        self.tasks = TaskRunner(
            operator_address=self.operator,
            limits=config.tasks,
            store=self.store,
            performers=self.performers,
            signers=self.signers,
            chain=self._chain,
            crypto_pool=self._pool,
        )
        self.deployments = Deployments(
            store=self.store,
            performers=self.performers,
            configured=self.configured,
            artifact_dir=context.artifact_dir,
            network_name=config.performer_network_name,
            deploy_timeout=config.deploy_timeout,
        )
        self.server = ExecutorGrpcServer(self, config.grpc_host, config.grpc_port, self._tls())
        port = await self.server.start()
        await self.server.set_serving(False)
        logger.info("Executor gRPC listening", host=config.grpc_host, port=port)
        await self._recover()
        self.engine.start_background()
        self._background.append(asyncio.create_task(self._prune_loop(), name="prune"))
        self.ready = True
        await self.server.set_serving(True)
        logger.info(
            "Executor is running", operator=self.operator, performers=len(self.performers.list())
        )

    def _tls(self):
        tls = self.config.tls
        if not tls.enabled:
            return None
        import grpc

        key = Path(tls.key_file).read_bytes()
        cert = Path(tls.cert_file).read_bytes()
        ca = Path(tls.ca_file).read_bytes() if tls.ca_file else None
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=tls.require_client_cert
        )

    def _verify_own_signature(self, digest: bytes, signature: bytes) -> bool:
        """Management auth: the token must be signed with this operator's signing key."""
        assert self.signers is not None
        try:
            if self.signers.ecdsa is not None:
                verify_ecdsa(digest, signature, self.signers.ecdsa.address)
                return True
            if self.signers.bn254 is not None:
                verify_bn254(digest, signature, self.signers.bn254.public_key_g2)
                return True
        except CryptoError:
            return False
        return False

    async def _performer_changed(self, info: PerformerInfo) -> None:
        if self.store is not None and info.status != "Removed":
            await self.store.save_performer(state_from_info(info))

    async def _performer_removed(self, performer_id: str) -> None:
        if self.store is not None:
            with contextlib.suppress(RecordNotFound):
                await self.store.delete_performer(performer_id)

    async def _recover(self) -> None:
        assert self.store is not None and self.performers is not None
        logger.info("Loading performer states")
        states = sorted(self.store.list_performers(), key=lambda s: s.created_at)
        recovered: set[str] = set()
        for state in states:
            avs = state.avs_address
            if state.status != "InService" or avs in recovered:
                # Staged or draining when the executor stopped: not serving anyone; clean up.
                spec = spec_from_state(state, self.configured.get(avs))
                slots = self.performers.avs(avs)
                instance = slots._instance(spec, state.deployment_id or "", state.performer_id)
                with contextlib.suppress(Exception):
                    if await instance.runtime.adopt(state.resource_id, state.endpoint):
                        await instance.runtime.stop()
                await self._performer_removed(state.performer_id)
                logger.info(
                    "Discarded performer state",
                    performer_id=state.performer_id,
                    status=state.status,
                )
                continue
            recovered.add(avs)
            stored_spec = spec_from_state(state, self.configured.get(avs))
            instance = await self.performers.avs(avs).adopt(
                stored_spec,
                state.performer_id,
                state.resource_id,
                state.endpoint,
                state.deployment_id or "",
                state.created_at,
            )
            if instance is not None:
                action = "re-adopted"
            else:
                instance = await self.performers.avs(avs).deploy(
                    stored_spec,
                    state.deployment_id or "",
                    self.config.deploy_timeout,
                    performer_id=state.performer_id,
                )
                action = "restarted from stored artifact"
            logger.info(
                "Loaded performer",
                performer_id=state.performer_id,
                avs=avs,
                action=action,
                resource_healthy=instance.resource_healthy,
                application_healthy=instance.application_healthy,
            )
        logger.info(f"Loaded {len(recovered)} performer states from storage", count=len(recovered))
        await self._recover_inflight()
        for avs, spec in self.configured.items():
            current = self.performers.avs(avs).current
            if current is not None and current.spec.fingerprint() == spec.fingerprint():
                continue
            reason = "changed in config" if current is not None else "not running"
            logger.info("Deploying configured performer", avs=avs, reason=reason)
            await self.performers.deploy(
                spec, f"config-{avs}-{int(time.time())}", self.config.deploy_timeout
            )

    async def _recover_inflight(self) -> None:
        assert self.store is not None
        inflight = self.store.list_inflight()
        now = time.time()
        expired = [t for t in inflight if t.deadline < now]
        for task in expired:
            await self.store.delete_inflight(task.task_id)
        logger.info(
            f"Recovered {len(inflight)} inflight tasks from storage",
            count=len(inflight),
            expired=len(expired),
        )

    async def _prune_loop(self) -> None:
        assert self.store is not None
        while True:
            await asyncio.sleep(PRUNE_INTERVAL)
            try:
                pruned = await self.store.prune_processed(time.time())
                if pruned:
                    logger.info("Pruned processed-task records", count=pruned)
            except Exception:
                logger.exception("Pruning processed tasks failed")

    async def stop(self) -> None:
        grace = self.config.shutdown_grace
        logger.info("Shutting down", grace_s=grace)
        self.ready = False
        if self.tasks is not None:
            self.tasks.accepting = False
        if self.server is not None:
            await self.server.set_serving(False)
        if self.tasks is not None:
            await self.tasks.drain(grace)
        if self.server is not None:
            await self.server.stop(grace=1.0)
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.performers is not None:
            await self.performers.shutdown(drain_timeout=grace)
        if self.engine is not None:
            await self.engine.stop_background()
            await self.engine.close()
        self._pool.shutdown(wait=False)
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
        logger.info("Executor stopped")

    async def run(self) -> None:
        """Start, serve until SIGTERM/SIGINT, stop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopped.set)
        try:
            await self.start()
            await self._stopped.wait()
        finally:
            await self.stop()
