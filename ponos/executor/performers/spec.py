"""What to run for an AVS: a runtime-independent description of one performer.

A spec comes from the executor config (`avsPerformers[]`) or from a DeployArtifact request,
and is stored with the performer so a restarted executor can re-adopt or restart it exactly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Runtime = Literal["process", "docker", "endpoint"]


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str = ""
    value_from_env: str | None = None

    def resolve(self, environ: dict[str, str]) -> str:
        """valueFromEnv names a variable in the executor's environment and wins over value."""
        if self.value_from_env:
            return environ.get(self.value_from_env, "")
        return self.value


@dataclass(frozen=True)
class PerformerSpec:
    avs_address: str
    runtime: Runtime
    command: tuple[str, ...] = ()
    image: str | None = None  # docker: repo:tag or repo@digest
    endpoint: str | None = None  # endpoint: host:port
    artifact_registry: str = ""
    artifact_digest: str = ""
    artifact_tag: str = ""
    env: tuple[EnvVar, ...] = field(default_factory=tuple)
    network_name: str | None = None
    health_interval: float = 5.0
    startup_timeout: float = 60.0

    def fingerprint(self) -> str:
        """Identity of what runs: equal fingerprints mean "same artifact, same settings"."""
        data = {
            k: v
            for k, v in self.to_dict().items()
            if k not in ("health_interval", "startup_timeout")
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["command"] = list(self.command)
        data["env"] = [asdict(e) for e in self.env]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerformerSpec:
        values = dict(data)
        values["command"] = tuple(values.get("command") or ())
        values["env"] = tuple(EnvVar(**e) for e in values.get("env") or ())
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in known})

    def resolved_env(self, environ: dict[str, str]) -> dict[str, str]:
        return {e.name: e.resolve(environ) for e in self.env}


def spec_from_config(perf: Any, network_name: str | None = None) -> PerformerSpec:
    """From a `ponos.config.executor.PerformerConfig`."""
    env = tuple(EnvVar(e.name, e.value, e.value_from_env) for e in perf.envs)
    common = {
        "avs_address": perf.avs_address.lower(),
        "env": env,
        "health_interval": perf.health_interval,
        "startup_timeout": perf.startup_timeout,
    }
    if perf.runtime == "process":
        command = tuple(perf.command)
        return PerformerSpec(
            runtime="process", command=command, artifact_registry=" ".join(command), **common
        )
    if perf.runtime == "endpoint":
        return PerformerSpec(
            runtime="endpoint", endpoint=perf.endpoint, artifact_registry=perf.endpoint, **common
        )
    image = perf.image
    ref = (
        f"{image.repository}@{image.digest}" if image.digest else f"{image.repository}:{image.tag}"
    )
    return PerformerSpec(
        runtime="docker",
        image=ref,
        artifact_registry=image.repository,
        artifact_digest=image.digest or "",
        artifact_tag="" if image.digest else image.tag,
        network_name=network_name,
        **common,
    )
