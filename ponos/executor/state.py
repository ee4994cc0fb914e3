"""Between live performers and their stored records: what is saved, and how a spec is
rebuilt from a record after a restart."""

from __future__ import annotations

from ponos.executor.performers.instance import PerformerInfo
from ponos.executor.performers.spec import EnvVar, PerformerSpec
from ponos.storage.records import PerformerState


def state_from_info(info: PerformerInfo) -> PerformerState:
    spec = info.spec
    return PerformerState(
        performer_id=info.performer_id,
        avs_address=info.avs_address,
        runtime=info.runtime,
        status=info.status,
        slot="current" if info.status == "InService" else info.status.lower(),
        artifact_registry=spec.artifact_registry,
        artifact_digest=spec.artifact_digest,
        artifact_tag=spec.artifact_tag,
        resource_id=info.resource_id,
        endpoint=info.endpoint,
        command=list(spec.command) or None,
        env=[
            {"name": e.name, "value": e.value, "value_from_env": e.value_from_env} for e in spec.env
        ],
        network_name=spec.network_name,
        deployment_id=info.deployment_id or None,
        created_at=info.created_at,
        last_health_check=info.last_health_check,
        resource_healthy=info.resource_healthy,
        application_healthy=info.application_healthy,
    )


def spec_from_state(state: PerformerState, defaults: PerformerSpec | None = None) -> PerformerSpec:
    """The spec a stored performer ran with; timing knobs come from the configured spec."""
    image = None
    if state.runtime == "docker":
        image = (
            f"{state.artifact_registry}@{state.artifact_digest}"
            if state.artifact_digest
            else f"{state.artifact_registry}:{state.artifact_tag or 'latest'}"
        )
    return PerformerSpec(
        avs_address=state.avs_address,
        runtime=state.runtime,  # type: ignore[arg-type]
        command=tuple(state.command or ()),
        image=image,
        endpoint=state.endpoint if state.runtime == "endpoint" else None,
        artifact_registry=state.artifact_registry,
        artifact_digest=state.artifact_digest,
        artifact_tag=state.artifact_tag,
        env=tuple(
            EnvVar(e.get("name", ""), e.get("value", ""), e.get("value_from_env"))
            for e in state.env
        ),
        network_name=state.network_name,
        health_interval=defaults.health_interval if defaults else 5.0,
        startup_timeout=defaults.startup_timeout if defaults else 60.0,
    )
