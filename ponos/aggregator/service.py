"""The aggregator service: wiring, recovery from storage, polling, graceful shutdown.

Start-up: open the store and keys; "Recovering from storage": every pending/processing task
whose deadline has not passed is resumed (executors return their stored answers for tasks
they already ran), expired ones are marked `expired` ("Recovered N pending tasks from
storage"); then one poller per configured chain resumes from its stored cursor
("Resuming chain polling from block N"). Shutdown: stop polling, let in-flight tasks finish
within the grace period (the rest stay stored and resume next time), close the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

from ponos import log
from ponos.aggregator.context import OperatorSetReader
from ponos.aggregator.executor_client import ExecutorClients
from ponos.aggregator.fanout import Fanout
from ponos.aggregator.pipeline import TaskPipeline
from ponos.aggregator.poller import ChainPoller
from ponos.aggregator.submitter import Submitter
from ponos.chain.cache import TTLCache
from ponos.chain.eigenlayer import ContractAddresses, EigenLayerReader
from ponos.chain.errors import MissingContractError
from ponos.chain.rpc import JsonRpcClient, RetryPolicy
from ponos.config.aggregator import AggregatorConfig
from ponos.crypto.signer import OperatorSigners, load_operator_signers
from ponos.errors import ConfigError
from ponos.storage import AggregatorStore, open_engine
from ponos.storage.status import TaskStatus

logger = log.get_logger(__name__)


class AggregatorService:
    def __init__(self, config: AggregatorConfig) -> None:
        if not config.avss:
            raise ConfigError("avss: at least one AVS is required (nothing to aggregate otherwise)")
        self.config = config
        self.operator = config.operator.address.lower()
        self.engine = None
        self.store: AggregatorStore | None = None
        self.signers: OperatorSigners | None = None
        self.rpcs: dict[int, JsonRpcClient] = {}
        self.readers: dict[int, EigenLayerReader] = {}
        self.pollers: dict[int, ChainPoller] = {}
        self.pipeline: TaskPipeline | None = None
        self.clients = ExecutorClients(config.executors.tls)
        self.ready = False
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crypto")
        self._poll_tasks: list[asyncio.Task[None]] = []
        self._separators: TTLCache[bytes] = TTLCache(float("inf"))
        self.started_at = time.time()
        self.on_outcome = None  # metrics hook: (status, latency_s)
        self.on_rpc_call = None  # metrics hook: (chain_id, method, seconds, ok)

    def _reader(self, chain_id: int) -> EigenLayerReader:
        return self.readers[chain_id]

    async def _domain_separator(self, chain_id: int) -> bytes:
        return await self._separators.get(chain_id, self._reader(chain_id).ecdsa_domain_separator)

    def _rpc_hook(self, chain_id: int):
        def hook(method: str, seconds: float, ok: bool) -> None:
            if self.on_rpc_call is not None:
                self.on_rpc_call(chain_id, method, seconds, ok)

        return hook

    async def start(self) -> None:
        config = self.config
        self.signers = await asyncio.to_thread(load_operator_signers, config.operator)
        if self.signers.tx_key is None:
            raise ConfigError("operator.operatorPrivateKey is required to submit results")
        self.engine = open_engine(config.storage, "aggregator")
        self.store = AggregatorStore(self.engine)
        logger.info("Storage opened", type=config.storage.type, dir=config.storage.rocksdb.dir)
        submitters: dict[int, Submitter] = {}
        for chain in config.chains:
            rpc = JsonRpcClient(
                chain.rpc_url,
                timeout=chain.rpc_timeout,
                retry=RetryPolicy(),
                on_call=self._rpc_hook(chain.chain_id),
            )
            self.rpcs[chain.chain_id] = rpc
            w3 = rpc.web3()  # contract reads share the poller's RPC layer (retries, counters)
            reader = EigenLayerReader(w3, ContractAddresses.from_config(config, chain.chain_id))
            self.readers[chain.chain_id] = reader
            mailbox = config.contract_address("TaskMailbox", chain.chain_id)
            if mailbox is None:
                raise MissingContractError(
                    f"no TaskMailbox address for chain {chain.chain_id}",
                    hint="set it under `contracts` or `overrideContracts.taskMailbox`",
                )
            submitters[chain.chain_id] = Submitter(
                rpc,
                mailbox,
                self.signers.tx_key,
                chain.chain_id,
                config.submitter,
                record_tx=self._record_tx,
            )
        registrars = {
            a.address: a.avs_registrar_address for a in config.avss if a.avs_registrar_address
        }
        contexts = OperatorSetReader(self.readers[config.l1_chain_id], self.readers, registrars)
        fanout = Fanout(
            self.clients,
            self.operator,
            self.signers.for_curve,
            self._domain_separator,
            config.executors,
            self._pool,
        )
        self.pipeline = TaskPipeline(
            self.store, contexts, fanout, submitters, config.max_concurrent_tasks, self._outcome
        )
        await self._recover()
        for chain in config.chains:
            avs = {a.address for a in config.avss if chain.chain_id in a.chain_ids}
            if not avs:
                logger.info("No AVS watches this chain; not polling it", chain_id=chain.chain_id)
                continue
            poller = ChainPoller(
                chain,
                self.rpcs[chain.chain_id],
                self.store,
                config.contract_address("TaskMailbox", chain.chain_id),
                avs,
                self.pipeline.enqueue,
                self.pipeline.cancel,
                on_reorg=self.pipeline.recheck_completed,
            )
            self.pollers[chain.chain_id] = poller
            self._poll_tasks.append(
                asyncio.create_task(poller.run(), name=f"poller:{chain.chain_id}")
            )
        self.engine.start_background()
        self.ready = True
        logger.info(
            "Aggregator is running",
            operator=self.operator,
            chains=len(self.pollers),
            avss=len(config.avss),
        )

    def _outcome(self, status: str, latency: float) -> None:
        if self.on_outcome is not None:
            self.on_outcome(status, latency)

    async def _record_tx(self, task_id: str, tx_hash: str) -> None:
        assert self.store is not None
        task = self.store.get_task(task_id)
        if task is not None:
            await self.store.update_task(task_id, tx_hash=tx_hash, attempts=task.attempts + 1)

    async def _recover(self) -> None:
        assert self.store is not None and self.pipeline is not None
        logger.info("Recovering from storage")
        for chain_id, cursor in sorted(self.store.list_cursors().items()):
            logger.info("Loaded last processed block from storage", chain_id=chain_id, block=cursor)
        open_tasks = self.store.list_tasks({TaskStatus.PENDING, TaskStatus.PROCESSING})
        now = time.time()
        # A task with a certificate may have landed before the crash: the pipeline asks the
        # chain (VERIFIED -> completed, EXPIRED -> expired) instead of guessing.
        resumed = [t for t in open_tasks if t.deadline > now or t.certificate is not None]
        for task in open_tasks:
            if task.deadline <= now and task.certificate is None:
                await self.store.transition(
                    task.task_id,
                    TaskStatus.EXPIRED,
                    reason="the deadline passed while the aggregator was down",
                )
        await self.pipeline.enqueue(resumed)
        for chain in self.config.chains:
            # Tasks completed near the head before we stopped: a reorg while we were down may
            # have orphaned their verification.
            cursor = self.store.get_cursor(chain.chain_id)
            if cursor is None:
                continue
            oldest = self.store.list_blocks(chain.chain_id, cursor - chain.max_reorg_depth, cursor)
            since = float(oldest[0].timestamp) if oldest else time.time()
            await self.pipeline.recheck_completed(chain.chain_id, since)
        logger.info(
            f"Recovered {len(resumed)} pending tasks from storage",
            count=len(resumed),
            expired=len(open_tasks) - len(resumed),
        )

    async def stop(self) -> None:
        grace = self.config.shutdown_grace
        logger.info("Shutting down", grace_s=grace)
        self.ready = False
        for task in self._poll_tasks:
            task.cancel()
        for task in self._poll_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.pipeline is not None:
            await self.pipeline.stop(grace)
            for submitter in self.pipeline.submitters.values():
                await submitter.close()
        await self.clients.close()
        for rpc in self.rpcs.values():
            await rpc.close()
        if self.engine is not None:
            await self.engine.stop_background()
            await self.engine.close()
        self._pool.shutdown(wait=False)
        logger.info("Aggregator stopped")
