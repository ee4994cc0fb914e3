"""Logging: structured JSON lines on stdout (default) or a human console format.

Every module logs through `get_logger(__name__)` with a fixed message and key/value context:

    log.info("Processing block", chain_id=31337, from_block=10, to_block=20, tasks=2)

The message text is what operators grep for (the operations guide's phrases), so it stays
constant and the variable parts go into fields. Standard-library loggers (grpc, web3,
aiohttp) are routed through the same renderer. Fields whose names look like secrets are
redacted before rendering, as a second line of defence: secrets should never be passed.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import structlog

LogFormat = Literal["json", "console"]

_SECRET_FIELD_PARTS = (
    "password",
    "private_key",
    "privatekey",
    "secret",
    "token",
    "keystore",
    "authorization",
)
REDACTED = "[redacted]"


def _redact_secrets(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        lowered = key.lower()
        if any(part in lowered for part in _SECRET_FIELD_PARTS):
            event[key] = REDACTED
    return event


_FIRST_KEYS = ("ts", "level", "logger", "msg")


def _order_keys(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    ordered = {key: event.pop(key) for key in _FIRST_KEYS if key in event}
    ordered.update(event)
    return ordered


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _redact_secrets,
    ]


def configure(level: str = "info", fmt: LogFormat = "json", stream: Any = None) -> None:
    """Set up structlog and the stdlib root logger; safe to call more than once."""
    out = stream or sys.stdout
    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty(), event_key="msg")
    else:
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.processors.format_exc_info],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.EventRenamer("msg"),
            _order_keys,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = getattr(logging, level.upper(), logging.INFO)
    root.setLevel(numeric)
    # Chatty libraries stay at warning unless we are debugging.
    for noisy in ("web3", "urllib3", "asyncio", "aiohttp.access", "grpc", "docker"):
        logging.getLogger(noisy).setLevel(
            logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
        )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
