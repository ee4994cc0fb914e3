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
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ponos import log
from ponos.config.executor import ExecutorConfig
from ponos.crypto.errors import CryptoError
from ponos.crypto.signer import OperatorSigners, load_operator_signers, verify_bn254, verify_ecdsa
from ponos.executor.auth import ManagementAuth
from ponos.executor.chainview import ExecutorChainView
from ponos.executor.deployments import Deployments
from ponos.executor.errors import ServiceStartError, Unavailable
from ponos.executor.performers.base import RuntimeContext
from ponos.executor.performers.errors import PerformerError
from ponos.executor.performers.instance import PerformerInfo
from ponos.executor.performers.manager import PerformerEvents, PerformerManager
from ponos.executor.performers.slots import SlotStatus
from ponos.executor.performers.spec import PerformerSpec, spec_from_config
from ponos.executor.server import ExecutorGrpcServer
from ponos.executor.state import spec_from_state, state_from_info
from ponos.executor.tasks import TaskRunner
from ponos.storage import ExecutorStore, open_engine
from ponos.storage.errors import RecordNotFound, StoreClosed
from ponos.storage.records import InflightTask, PerformerState

logger = log.get_logger(__name__)


class ExecutorService:
    def __init__(
        self,
        config: ExecutorConfig,
        chain: ExecutorChainView | None = None,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        """`chain` replaces the chain reader built from config; `observe(outcome, seconds)`
        is called for every task (the metrics hook of TaskRunner; may be set until start())."""
        self.config = config
        self.observe = observe
        self.operator = config.operator.address.lower()
        self._chain = chain
        self._owns_chain = chain is None
        self.engine = None
        self.store: ExecutorStore | None = None
        self.signers: OperatorSigners | None = None
        self.performers: PerformerManager | None = None
        self.tasks: TaskRunner | None = None
        self.deployments: Deployments | None = None
        self.server: ExecutorGrpcServer | None = None
        self.auth: ManagementAuth | None = None
        self.ready = False
        self._stopping = False
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crypto")
        self._background: list[asyncio.Task[None]] = []
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self.configured: dict[str, PerformerSpec] = {
            p.avs_address: spec_from_config(p, config.performer_network_name)
            for p in config.avs_performers
        }

    # -- backend protocol for the gRPC handlers -------------------------------------------

    def _unavailable(self) -> Unavailable:
        if self._stopping:
            return Unavailable("executor is shutting down; submit to it again once it is back")
        return Unavailable("executor is starting; retry shortly")

    async def submit_task(self, request, context):
        if self.tasks is None or not self.ready:
            raise self._unavailable()
        return await self.tasks.submit(request, context)

    async def deploy_artifact(self, request, context) -> tuple[str, str]:
        if self.deployments is None or not self.ready:
            raise self._unavailable()
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
        self.deployments = Deployments(
            store=self.store,
            performers=self.performers,
            configured=self.configured,
            artifact_dir=context.artifact_dir,
            network_name=config.performer_network_name,
            deploy_timeout=config.deploy_timeout,
        )
        self.server = ExecutorGrpcServer(self, config.grpc_host, config.grpc_port, self._tls())
        # Listening (health NOT_SERVING) before the slow parts, so ListPerformers answers
        # during start-up as the operations guide expects.
        port = await self.server.start()
        logger.info("Executor gRPC listening", host=config.grpc_host, port=port)
        management_port = config.management_server_grpc_port
        if management_port and management_port != config.grpc_port:
            logger.warning(
                "managementServerGrpcPort is not used: the management RPCs are served on "
                "grpcPort and guarded by authentication or loopback-only access",
                management_server_grpc_port=management_port,
                grpc_port=port,
            )
        if self._chain is None:
            from ponos.executor.chain import build_chain_view

            self._chain = await build_chain_view(config)
        self.tasks = TaskRunner(
            operator_address=self.operator,
            limits=config.tasks,
            store=self.store,
            performers=self.performers,
            signers=self.signers,
            chain=self._chain,
            crypto_pool=self._pool,
            observe=self.observe,
        )
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
        """Re-adopt or restart stored performers, count in-flight tasks, reconcile config."""
        assert self.store is not None and self.performers is not None
        logger.info("Loading performer states")
        states = self.store.list_performers()
        by_avs: dict[str, list[PerformerState]] = {}
        for state in states:
            by_avs.setdefault(state.avs_address, []).append(state)
        for _avs, group in sorted(by_avs.items()):
            # The performer in service is the newest InService record: a crash between
            # promoting a new performer and marking the old one draining leaves two.
            in_service = [s for s in group if s.status == SlotStatus.IN_SERVICE.value]
            keep = max(in_service, key=lambda s: s.created_at, default=None)
            for state in group:
                if state is not keep:
                    await self._discard_state(state)
            if keep is not None:
                await self._restore(keep)
        logger.info(f"Loaded {len(states)} performer states from storage", count=len(states))
        await self._recover_inflight()
        for avs, spec in self.configured.items():
            current = self.performers.avs(avs).current
            if current is not None and current.spec.fingerprint() == spec.fingerprint():
                continue
            reason = "differs from config" if current is not None else "not running"
            logger.info("Deploying configured performer", avs=avs, reason=reason)
            try:
                await self.performers.deploy(
                    spec, f"config-{avs}-{int(time.time())}", self.config.deploy_timeout
                )
            except PerformerError as exc:
                raise ServiceStartError(
                    f"the configured performer of AVS {avs} did not start: {exc.message}"
                ) from None

    async def _restore(self, state: PerformerState) -> None:
        """Re-adopt a stored performer if it still runs and answers, else restart it from
        its stored artifact under the same performer id."""
        assert self.performers is not None
        avs = state.avs_address
        slots = self.performers.avs(avs)
        spec = spec_from_state(state, self.configured.get(avs))
        try:
            instance = await slots.adopt(
                spec,
                state.performer_id,
                state.resource_id,
                state.endpoint,
                state.deployment_id or "",
                state.created_at,
            )
            action = "re-adopted"
            configured = self.configured.get(avs)
            if (
                instance is None
                and configured is not None
                and configured.fingerprint() != spec.fingerprint()
            ):
                # Not running and no longer what the config asks for: the configured
                # performer is deployed below instead of restarting this one first.
                await self._performer_removed(state.performer_id)
                logger.info(
                    "Loaded performer",
                    performer_id=state.performer_id,
                    avs=avs,
                    runtime=state.runtime,
                    action="replaced by config",
                    resource_healthy=False,
                    application_healthy=False,
                )
                return
            if instance is None:
                action = "restarted from stored artifact"
                instance = await slots.deploy(
                    spec,
                    state.deployment_id or "",
                    self.config.deploy_timeout,
                    performer_id=state.performer_id,
                    created_at=state.created_at,
                )
        except PerformerError as exc:
            logger.error(
                "Could not restore performer",
                performer_id=state.performer_id,
                avs=avs,
                error=exc.message,
            )
            await self._performer_removed(state.performer_id)
            return
        logger.info(
            "Loaded performer",
            performer_id=state.performer_id,
            avs=avs,
            runtime=state.runtime,
            action=action,
            resource_healthy=instance.resource_healthy,
            application_healthy=instance.application_healthy,
        )

    async def _discard_state(self, state: PerformerState) -> None:
        """A performer that was staged or draining when the executor stopped serves no one:
        stop it if it still runs (no orphans) and forget it."""
        assert self.performers is not None
        spec = spec_from_state(state, self.configured.get(state.avs_address))
        stopped = False
        try:
            runtime = self.performers.make_runtime(spec, state.performer_id)
            if await runtime.adopt(state.resource_id, state.endpoint):
                await runtime.stop()
                stopped = True
        except PerformerError as exc:
            logger.warning(
                "Could not stop a stale performer",
                performer_id=state.performer_id,
                error=exc.message,
            )
        await self._performer_removed(state.performer_id)
        logger.info(
            "Loaded performer",
            performer_id=state.performer_id,
            avs=state.avs_address,
            runtime=state.runtime,
            action="discarded",
            status=state.status,
            stopped_running_process=stopped,
            resource_healthy=False,
            application_healthy=False,
        )

    async def _recover_inflight(self) -> None:
        """Tasks that were running when the executor stopped. They cannot be resumed (the
        executor does not keep payloads); the aggregator resubmits them and they run again.
        Their records stay until their deadline passes, for operators to see."""
        assert self.store is not None
        inflight = self.store.list_inflight()
        now = time.time()
        for task in inflight:
            logger.warning(
                "Task was interrupted by a restart",
                task_id=task.task_id,
                avs=task.avs_address,
                received_at=task.received_at,
            )
        expired = await self._prune_inflight(now, inflight)
        logger.info(
            f"Recovered {len(inflight)} inflight tasks from storage",
            count=len(inflight),
            expired=expired,
        )

    async def _prune_inflight(self, now: float, inflight: list[InflightTask] | None = None) -> int:
        assert self.store is not None
        removed = 0
        for task in inflight if inflight is not None else self.store.list_inflight():
            if (
                task.deadline < now
                and self.tasks is not None
                and not self.tasks.is_running(task.task_id)
            ):
                with contextlib.suppress(RecordNotFound):
                    await self.store.delete_inflight(task.task_id)
                    removed += 1
        return removed

    async def _prune_loop(self) -> None:
        assert self.store is not None
        interval = self.config.tasks.prune_interval
        while True:
            await asyncio.sleep(interval)
            try:
                now = time.time()
                processed = await self.store.prune_processed(now)
                inflight = await self._prune_inflight(now)
                if processed or inflight:
                    logger.info(
                        "Pruned expired task records", processed=processed, inflight=inflight
                    )
            except StoreClosed:
                return
            except Exception:
                logger.exception("Pruning expired task records failed")

    async def stop(self) -> None:
        """Graceful shutdown; safe after a partial start."""
        grace = self.config.shutdown_grace
        logger.info("Shutting down", grace_s=grace)
        self._stopping = True
        self.ready = False
        if self.tasks is not None:
            self.tasks.accepting = False
        if self.server is not None:
            await self.server.set_serving(False)
        if self.tasks is not None:
            running = self.tasks.running
            if not await self.tasks.drain(grace):
                logger.warning(
                    "Grace period over; cancelling tasks", still_running=self.tasks.running
                )
                await self.tasks.cancel_running()
            logger.info("In-flight tasks finished", count=running)
        if self.server is not None:
            await self.server.stop(grace=1.0)
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.performers is not None:
            await self.performers.shutdown(drain_timeout=1.0)
            logger.info("Performers stopped")
        if self._chain is not None and self._owns_chain:
            with contextlib.suppress(Exception):
                await self._chain.close()
        if self.engine is not None:
            await self.engine.stop_background()
            await self.engine.close()
            logger.info("Storage closed")
        self._pool.shutdown(wait=False)
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
        logger.info("Executor stopped")
