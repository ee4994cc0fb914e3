"""Service configuration: pydantic-settings models and the loader (see loader.py)."""

from ponos.config.aggregator import AggregatorConfig, AvsConfig, ChainConfig
from ponos.config.common import OperatorConfig, StorageConfig
from ponos.config.executor import ExecutorConfig, PerformerConfig
from ponos.config.loader import load_config, read_config_file

__all__ = [
    "AggregatorConfig",
    "AvsConfig",
    "ChainConfig",
    "ExecutorConfig",
    "OperatorConfig",
    "PerformerConfig",
    "StorageConfig",
    "load_config",
    "read_config_file",
]
