"""Aggregator config: the Go original's keys (l1ChainId, chains, avss, ...) plus ours."""

from __future__ import annotations

from pydantic import Field, model_validator

from ponos.config.common import OperatorConfig, OpsConfig, ServiceConfigMixin, TLSConfig
from ponos.config.types import Address, Duration, Model

DEFAULT_POLL_INTERVAL = 10.0


class ChainConfig(Model):
    name: str
    version: str | None = None
    chain_id: int = Field(gt=0)
    rpc_url: str
    poll_interval_seconds: float = DEFAULT_POLL_INTERVAL
    confirmations: int = Field(default=0, ge=0)
    start_block: int | None = Field(default=None, ge=0)
    max_block_range: int = Field(default=2000, ge=1)
    max_reorg_depth: int = Field(default=64, ge=1)
    rpc_timeout: Duration = 10.0


class AvsConfig(Model):
    address: Address
    chain_ids: list[int] = Field(min_length=1)
    avs_registrar_address: Address | None = None


class ExecutorClientConfig(Model):
    """How the aggregator calls executors."""

    call_timeout: Duration = 30.0
    retry_interval: Duration = 1.0
    tls: TLSConfig = Field(default_factory=TLSConfig)
    max_result_bytes: int = Field(default=1536 * 1024, gt=0)


class SubmitterConfig(Model):
    receipt_timeout: Duration = 60.0
    fee_bump_after: Duration = 20.0
    max_fee_bumps: int = Field(default=5, ge=0)


class AggregatorConfig(ServiceConfigMixin):
    shutdown_grace: Duration = 30.0
    max_concurrent_tasks: int = Field(default=256, ge=1)
    operator: OperatorConfig
    l1_chain_id: int = Field(gt=0)
    chains: list[ChainConfig] = Field(min_length=1)
    avss: list[AvsConfig] = Field(default_factory=list)
    executors: ExecutorClientConfig = Field(default_factory=ExecutorClientConfig)
    submitter: SubmitterConfig = Field(default_factory=SubmitterConfig)
    ops: OpsConfig = Field(default_factory=lambda: OpsConfig(port=8080))

    @model_validator(mode="after")
    def _cross_checks(self) -> AggregatorConfig:
        problems = []
        ids = [c.chain_id for c in self.chains]
        if self.l1_chain_id not in ids:
            problems.append(f"l1ChainId {self.l1_chain_id} is not one of chains[].chainId {ids}")
        seen = set()
        for i, chain in enumerate(self.chains):
            if chain.chain_id in seen:
                problems.append(f"chains[{i}].chainId {chain.chain_id} is listed twice")
            seen.add(chain.chain_id)
        for i, avs in enumerate(self.avss):
            for cid in avs.chain_ids:
                if cid not in ids:
                    problems.append(f"avss[{i}].chainIds: chain {cid} is not configured in chains")
        if (
            self.operator.operator_private_key is None
            or not self.operator.operator_private_key.configured
        ):
            problems.append(
                "operator.operatorPrivateKey: a privateKey or keystoreFile is required "
                "(it signs submitResult transactions)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        for chain in self.chains:
            if chain.poll_interval_seconds <= 0:
                self.storage._warnings.append(
                    f"Invalid poll interval for chain {chain.name}: using {DEFAULT_POLL_INTERVAL}s"
                )
                chain.poll_interval_seconds = DEFAULT_POLL_INTERVAL
        self.storage.resolve_dirs("data/aggregator")
        return self

    def chain(self, chain_id: int) -> ChainConfig:
        for chain in self.chains:
            if chain.chain_id == chain_id:
                return chain
        raise KeyError(chain_id)
