"""DeployArtifact: turn the request into a spec, record the deployment, deploy blue/green."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from ponos import log
from ponos.executor import artifacts, validation
from ponos.executor.errors import FailedPrecondition, InvalidArgument
from ponos.executor.performers.manager import PerformerManager
from ponos.executor.performers.spec import PerformerSpec
from ponos.storage.executor_store import ExecutorStore
from ponos.storage.records import DeploymentRecord
from ponos.storage.status import DeploymentStatus

logger = log.get_logger(__name__)


class Deployments:
    def __init__(
        self,
        *,
        store: ExecutorStore,
        performers: PerformerManager,
        configured: dict[str, PerformerSpec],
        artifact_dir: Path,
        network_name: str | None,
        deploy_timeout: float = 60.0,
    ) -> None:
        self.store = store
        self.performers = performers
        self.configured = configured
        self.artifact_dir = artifact_dir
        self.network_name = network_name
        self.deploy_timeout = deploy_timeout

    async def spec_for(self, request) -> PerformerSpec:
        avs = validation.address(request.avs_address, "avs_address")
        digest = validation.sha256_digest(request.digest)
        if not request.registry_url:
            raise InvalidArgument("registry_url is required")
        base = self.configured.get(avs)
        runtime = artifacts.choose_runtime(request.registry_url, base.runtime if base else None)
        env = artifacts.env_from_request(request.env)
        if runtime == "endpoint":
            raise FailedPrecondition(
                f"AVS {avs} uses an endpoint performer, which is managed outside the executor"
            )
        if runtime == "process":
            stored = await asyncio.to_thread(
                artifacts.store_process_artifact, request.registry_url, digest, self.artifact_dir
            )
            return artifacts.process_spec(avs, request.registry_url, digest, stored, env, base)
        return artifacts.docker_spec(
            avs, request.registry_url, digest, env, base, self.network_name
        )

    async def deploy(self, request, context) -> tuple[str, str]:
        spec = await self.spec_for(request)
        deployment_id = f"deployment-{spec.avs_address}-{uuid.uuid4()}"
        await self.store.save_deployment(
            DeploymentRecord(
                deployment_id=deployment_id,
                avs_address=spec.avs_address,
                artifact_registry=spec.artifact_registry,
                artifact_digest=spec.artifact_digest,
                started_at=time.time(),
            )
        )
        await self.store.update_deployment_status(deployment_id, DeploymentStatus.DEPLOYING)
        remaining = context.time_remaining() if context is not None else None
        timeout = self.deploy_timeout if remaining is None else min(remaining, self.deploy_timeout)
        logger.info(
            "Deploying artifact",
            avs=spec.avs_address,
            deployment_id=deployment_id,
            runtime=spec.runtime,
            artifact=spec.artifact_registry,
            digest=spec.artifact_digest,
        )
        try:
            instance = await self.performers.deploy(spec, deployment_id, timeout)
        except Exception as exc:
            await self.store.update_deployment_status(
                deployment_id, DeploymentStatus.FAILED, error=str(exc)
            )
            logger.warning("Deployment failed", deployment_id=deployment_id, error=str(exc))
            raise
        await self.store.update_deployment_status(deployment_id, DeploymentStatus.RUNNING)
        logger.info(
            "Deployment completed", deployment_id=deployment_id, performer_id=instance.performer_id
        )
        return deployment_id, instance.performer_id
