"""Options shared by the service commands: config file, logging, --set overrides."""

from __future__ import annotations

import argparse
from typing import Any, TypeVar

from pydantic_settings import BaseSettings

from ponos import log
from ponos.config.loader import load_config, parse_set_option, set_path

T = TypeVar("T", bound=BaseSettings)


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", metavar="FILE", help="YAML or JSON config file")
    parser.add_argument(
        "--set",
        dest="set_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set storage.type=memory (repeatable)",
    )
    add_logging_options(parser)


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", choices=["json", "console"])
    parser.add_argument("--debug", action="store_true", default=None, help="debug logging")


def overrides_from_args(args: argparse.Namespace, flag_keys: dict[str, str]) -> dict[str, Any]:
    """Nested overrides from --set and from service flags (flag attr -> dotted key)."""
    overrides: dict[str, Any] = {}
    for option in args.set_options:
        key, value = parse_set_option(option)
        set_path(overrides, key, value)
    for attr, dotted in {
        **flag_keys,
        "log_level": "logging.level",
        "log_format": "logging.format",
        "debug": "debug",
    }.items():
        value = getattr(args, attr, None)
        if value is not None:
            set_path(overrides, dotted, value)
    return overrides


def load_service_config(cls: type[T], args: argparse.Namespace, flag_keys: dict[str, str]) -> T:
    """Load and validate the config, then set up logging and log the load warnings."""
    config, warnings = load_config(cls, args.config, overrides_from_args(args, flag_keys))
    log.configure(config.logging.level, config.logging.format)
    logger = log.get_logger("ponos.config")
    for warning in warnings:
        logger.warning(warning)
    return config
