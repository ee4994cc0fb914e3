"""Config sections both services share: operator keys, storage, contracts, ops, TLS, logging."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ponos.chain.types import CORE_CONTRACTS
from ponos.config.types import (
    CAMEL_KEYS,
    Address,
    Duration,
    Model,
    check_address,
    drop_empty_sections,
)

KNOWN_CONTRACTS = CORE_CONTRACTS


class RemoteSignerConfig(Model):
    url: str | None = None
    ca_cert: str | None = None
    cert: str | None = None
    key: SecretStr | None = None
    from_address: str | None = None
    public_key: str | None = None


class EcdsaKeyConfig(Model):
    """An ECDSA key: a hex private key, or an encrypted Ethereum keystore file + password."""

    private_key: SecretStr | None = None
    keystore_file: str | None = None
    password: SecretStr | None = None
    password_file: str | None = None
    remote_signer: bool = False
    remote_signer_config: RemoteSignerConfig | None = None

    @model_validator(mode="after")
    def _one_source(self) -> EcdsaKeyConfig:
        if self.remote_signer:
            raise ValueError(
                "remoteSigner is not supported by ponos-py yet; use privateKey or keystoreFile"
            )
        if self.private_key is not None and self.keystore_file:
            raise ValueError("set either privateKey or keystoreFile, not both")
        return self

    @property
    def configured(self) -> bool:
        return bool(self.private_key and self.private_key.get_secret_value()) or bool(
            self.keystore_file
        )


class BlsKeyConfig(Model):
    """A BN254 key: an EIP-2335-style keystore (inline JSON or file) + password, or a raw
    hex scalar for development."""

    keystore: SecretStr | None = None
    keystore_file: str | None = None
    password: SecretStr | None = None
    password_file: str | None = None
    private_key: SecretStr | None = None

    @model_validator(mode="after")
    def _one_source(self) -> BlsKeyConfig:
        sources = [bool(self.keystore), bool(self.keystore_file), bool(self.private_key)]
        if sum(sources) == 0:
            raise ValueError("one of keystore, keystoreFile or privateKey is required")
        return self


class SigningKeysConfig(Model):
    bls: BlsKeyConfig | None = None
    ecdsa: EcdsaKeyConfig | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> SigningKeysConfig:
        if self.bls is None and (self.ecdsa is None or not self.ecdsa.configured):
            raise ValueError("at least one of signingKeys.bls or signingKeys.ecdsa is required")
        return self


class OperatorConfig(Model):
    address: Address
    operator_private_key: EcdsaKeyConfig | None = None
    signing_keys: SigningKeysConfig


class RocksDBConfig(Model):
    dir: str | None = None
    sync_writes: bool = True
    gc_interval: Duration = 300.0
    min_blob_size: int = Field(default=4096, ge=0)
    blob_file_size: int = Field(default=64 * 1024 * 1024, gt=0)
    blob_gc_age_cutoff: float = Field(default=0.5, gt=0, le=1)
    blob_gc_force_threshold: float = Field(default=0.25, gt=0, le=1)
    write_buffer_size: int = Field(default=32 * 1024 * 1024, gt=0)
    max_open_files: int = -1


class BadgerConfig(Model):
    """The Go original's storage.badger block; accepted so existing files load."""

    dir: str | None = None
    in_memory: bool = False
    value_log_file_size: int | None = None
    num_versions_to_keep: int | None = None
    num_level_zero_tables: int | None = None
    num_level_zero_tables_stall: int | None = None
    value_log_max_entries: int | None = None


class SnapshotsConfig(Model):
    dir: str | None = None
    interval: Duration = 0.0
    retention: int = Field(default=7, ge=1)
    max_age: Duration = 7 * 86400.0


StorageType = Literal["memory", "rocksdb", "badger"]


class StorageConfig(Model):
    type: StorageType = "rocksdb"
    rocksdb: RocksDBConfig = Field(default_factory=RocksDBConfig)
    badger: BadgerConfig | None = None
    snapshots: SnapshotsConfig = Field(default_factory=SnapshotsConfig)

    _warnings: list[str] = PrivateAttr(default_factory=list)

    @field_validator("type", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip() == "":
            return "memory"  # the Go original treats an empty type as memory
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _badger_alias(self) -> StorageConfig:
        if self.type == "badger":
            badger = self.badger or BadgerConfig()
            if badger.in_memory:
                self._warnings.append(
                    "storage.badger.inMemory is set: using the in-memory store (nothing persists)"
                )
                self.type = "memory"
                return self
            if not self.rocksdb.dir:
                if not badger.dir:
                    raise ValueError("storage.badger.dir is required when storage.type is badger")
                self.rocksdb.dir = badger.dir
            self._warnings.append(
                f"storage.type 'badger' is an alias of 'rocksdb' in ponos-py; "
                f"RocksDB data lives in {self.rocksdb.dir} (Badger files there are not read)"
            )
            self.type = "rocksdb"
        return self

    def resolve_dirs(self, default_dir: str) -> None:
        """Fill the service's default data and snapshot directories."""
        if self.type == "rocksdb" and not self.rocksdb.dir:
            self.rocksdb.dir = default_dir
        if not self.snapshots.dir:
            base = Path(self.rocksdb.dir or default_dir)
            self.snapshots.dir = str(base.parent / f"{base.name}-snapshots")

    @property
    def warnings(self) -> list[str]:
        return list(self._warnings)


class ContractEntry(Model):
    name: str
    address: Address
    chain_id: int | None = None
    abi_versions: list[Any] | None = None


def _contract_list(value: Any) -> Any:
    """Accept the Go shapes: a JSON string, {"contracts": [...]}, or a plain list."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg})") from None
    if isinstance(value, dict) and "contracts" in value:
        value = value["contracts"]
    if isinstance(value, dict):  # our short form: {TaskMailbox: 0x..., ...}
        value = [{"name": k, "address": v} for k, v in value.items()]
    return value


class TaskMailboxOverride(Model):
    contract: str
    chain_ids: list[int] = Field(default_factory=list)

    @field_validator("contract")
    @classmethod
    def _address_or_descriptor(cls, value: str) -> str:
        text = value.strip()
        if text.startswith("{"):
            try:
                text = json.loads(text)["address"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ValueError(
                    "must be an address or a JSON descriptor with an address"
                ) from None
        return check_address(text)


class OverrideContractsConfig(Model):
    task_mailbox: TaskMailboxOverride | None = None


class ContractsMixin(Model):
    contracts: list[ContractEntry] = Field(default_factory=list)
    override_contracts: OverrideContractsConfig | None = None

    @field_validator("contracts", mode="before")
    @classmethod
    def _parse_contracts(cls, value: Any) -> Any:
        return _contract_list(value) if value is not None else []

    def contract_address(self, name: str, chain_id: int) -> str | None:
        """Address of a core contract on a chain: overrides first, then `contracts`."""
        override = self.override_contracts.task_mailbox if self.override_contracts else None
        if (
            name == "TaskMailbox"
            and override
            and (not override.chain_ids or chain_id in override.chain_ids)
        ):
            return override.contract
        for entry in self.contracts:
            if entry.name == name and (entry.chain_id is None or entry.chain_id == chain_id):
                return entry.address
        return None


class LoggingConfig(Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"

    @field_validator("level", "format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.lower()
            return "warning" if value == "warn" else value
        return value


class OpsConfig(Model):
    """The ops HTTP server (metrics, health, admin snapshots)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    admin_token: SecretStr | None = None
    ready_max_lag_blocks: int = Field(default=20, ge=0)


class TLSConfig(Model):
    enabled: bool = False
    cert_file: str | None = None
    key_file: str | None = None
    ca_file: str | None = None
    require_client_cert: bool = False


class ServiceConfigMixin(ContractsMixin, BaseSettings):
    """Top level of a service's config: a pydantic-settings model.

    Sources, highest first: CLI flags, PONOS_* environment variables (nested with "__",
    e.g. PONOS_STORAGE__TYPE=memory), the config file, then the defaults below.
    """

    model_config = SettingsConfigDict(
        alias_generator=CAMEL_KEYS,
        populate_by_name=True,
        extra="ignore",
        env_prefix="PONOS_",
        env_prefix_target="all",
        env_nested_delimiter="__",
        case_sensitive=False,
        nested_model_default_partial_update=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_take_defaults(cls, data: Any) -> Any:
        return drop_empty_sections(cls, data)

    debug: bool = False
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)

    @model_validator(mode="after")
    def _debug_level(self) -> ServiceConfigMixin:
        if self.debug and "level" not in self.logging.model_fields_set:
            self.logging.level = "debug"
        return self

    @property
    def warnings(self) -> list[str]:
        return self.storage.warnings


__all__ = [
    "KNOWN_CONTRACTS",
    "Address",
    "BlsKeyConfig",
    "EcdsaKeyConfig",
    "LoggingConfig",
    "OperatorConfig",
    "OpsConfig",
    "RocksDBConfig",
    "ServiceConfigMixin",
    "SnapshotsConfig",
    "StorageConfig",
    "TLSConfig",
]
