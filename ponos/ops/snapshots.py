"""Snapshots for ops: the endpoint's and the schedule's single entry point, with counters.

Replaces the operations guide's cron + stop + tar: an online checkpoint while the service keeps
serving, verified, with retention by count and age (storage/snapshots.py does the work).
"""

from __future__ import annotations

import asyncio
import time

from ponos import log
from ponos.ops.metrics import SnapshotStats
from ponos.storage.errors import SnapshotInProgress
from ponos.storage.snapshots import SnapshotManager, SnapshotManifest

logger = log.get_logger(__name__)


class OpsSnapshots:
    def __init__(self, manager: SnapshotManager, stats: SnapshotStats) -> None:
        self.manager = manager
        self.stats = stats

    async def create(self, *, wait: bool) -> SnapshotManifest:
        try:
            manifest = await self.manager.create(wait=wait)
        except SnapshotInProgress:
            raise
        except Exception:
            self.stats.failed += 1
            raise
        if manifest.verified:
            self.stats.taken += 1
            self.stats.last_success = time.time()
        else:
            self.stats.failed += 1
        return manifest

    def list(self) -> list[SnapshotManifest]:
        return self.manager.list()

    async def run_schedule(self, interval: float) -> None:
        """One snapshot every `interval` seconds until cancelled (0 = off)."""
        if interval <= 0:
            return
        logger.info("Snapshot schedule on", interval_s=interval, directory=self.manager.directory)
        while True:
            await asyncio.sleep(interval)
            try:
                manifest = await self.create(wait=True)
                logger.info("Scheduled snapshot taken", id=manifest.id, verified=manifest.verified)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.error("Scheduled snapshot failed", error=str(exc))
