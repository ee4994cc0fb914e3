"""Executor config: the Go original's keys (grpcPort, l1Chain, avsPerformers, ...) plus ours."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ponos.config.common import OperatorConfig, OpsConfig, ServiceConfigMixin, TLSConfig
from ponos.config.types import Address, Duration, Model

PerformerRuntime = Literal["process", "docker", "endpoint"]


class ImageConfig(Model):
    repository: str = Field(min_length=1)
    tag: str = "latest"
    digest: str | None = None


class EnvVarConfig(Model):
    name: str = Field(min_length=1)
    value: str = ""
    value_from_env: str | None = None

    def resolve(self, environ: dict[str, str] | None = None) -> str:
        """valueFromEnv (read from the executor's environment) wins over value."""
        env = os.environ if environ is None else environ
        if self.value_from_env:
            return env.get(self.value_from_env, "")
        return self.value


class PerformerConfig(Model):
    avs_address: Address
    avs_registrar_address: Address | None = None
    process_type: str = "server"
    deployment_mode: Literal["docker", "kubernetes"] = "docker"
    runtime: PerformerRuntime | None = None
    image: ImageConfig | None = None
    command: list[str] | None = None
    endpoint: str | None = None
    envs: list[EnvVarConfig] = Field(default_factory=list)
    health_interval: Duration = 5.0
    startup_timeout: Duration = 60.0

    @field_validator("process_type")
    @classmethod
    def _process_type(cls, value: str) -> str:
        # The Go code requires "server"; its README writes "docker". Both mean a long-running
        # performer server; "one-off" was never implemented.
        if value not in ("server", "docker"):
            raise ValueError(f"{value!r} is not supported (use 'server')")
        return value

    @model_validator(mode="after")
    def _runtime(self) -> PerformerConfig:
        if self.deployment_mode == "kubernetes":
            raise ValueError(
                "deploymentMode 'kubernetes' is not supported by ponos-py; run the performer "
                "as a Kubernetes Service and use runtime 'endpoint' with its host:port"
            )
        if self.runtime is None:
            if self.command:
                self.runtime = "process"
            elif self.endpoint:
                self.runtime = "endpoint"
            elif self.image:
                self.runtime = "docker"
            else:
                raise ValueError("one of image (docker), command (process) or endpoint is required")
        needs = {
            "process": ("command", self.command),
            "docker": ("image", self.image),
            "endpoint": ("endpoint", self.endpoint),
        }
        key, value = needs[self.runtime]
        if not value:
            raise ValueError(f"runtime {self.runtime!r} needs {key}")
        return self


class AuthenticationConfig(Model):
    enabled: bool = False


class ManagementConfig(Model):
    """Who may call the mutating management RPCs when authentication is off."""

    allow_remote: bool = False


class TaskLimitsConfig(Model):
    max_timeout: Duration = 300.0
    default_timeout: Duration = 60.0
    max_result_bytes: int = Field(default=1536 * 1024, gt=0)
    processed_retention_margin: Duration = 3600.0
    key_cache_ttl: Duration = 60.0


class L1ChainConfig(Model):
    rpc_url: str
    chain_id: int = Field(gt=0)


class ExecutorConfig(ServiceConfigMixin):
    grpc_port: int = Field(default=9090, ge=0, le=65535)
    grpc_host: str = "0.0.0.0"
    management_server_grpc_port: int = Field(default=0, ge=0, le=65535)
    performer_network_name: str | None = None
    performer_dir: str | None = None  # performer logs and the artifact store
    deploy_timeout: Duration = 60.0
    shutdown_grace: Duration = 30.0
    operator: OperatorConfig
    l1_chain: L1ChainConfig
    avs_performers: list[PerformerConfig] = Field(default_factory=list)
    authentication: AuthenticationConfig = Field(default_factory=AuthenticationConfig)
    management: ManagementConfig = Field(default_factory=ManagementConfig)
    tasks: TaskLimitsConfig = Field(default_factory=TaskLimitsConfig)
    tls: TLSConfig = Field(default_factory=TLSConfig)
    tls_enabled: bool | None = None
    kubernetes: dict[str, Any] | None = None
    ops: OpsConfig = Field(default_factory=lambda: OpsConfig(port=8081))

    @model_validator(mode="after")
    def _cross_checks(self) -> ExecutorConfig:
        seen: dict[str, int] = {}
        for i, perf in enumerate(self.avs_performers):
            if perf.avs_address in seen:
                raise ValueError(
                    f"avsPerformers[{i}].avsAddress {perf.avs_address} is already configured "
                    f"by avsPerformers[{seen[perf.avs_address]}]"
                )
            seen[perf.avs_address] = i
        if self.tls_enabled is not None:  # newer Ponos flag
            self.tls.enabled = self.tls_enabled
        if self.tls.enabled and not (self.tls.cert_file and self.tls.key_file):
            raise ValueError("tls.certFile and tls.keyFile are required when TLS is enabled")
        self.storage.resolve_dirs("data/executor")
        if not self.performer_dir and self.storage.type == "rocksdb":
            base = Path(self.storage.rocksdb.dir or "data/executor")
            self.performer_dir = str(base.parent / f"{base.name}-performers")
        return self

    def performer_for(self, avs_address: str) -> PerformerConfig | None:
        wanted = avs_address.lower()
        return next((p for p in self.avs_performers if p.avs_address == wanted), None)
