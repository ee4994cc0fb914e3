"""Value types shared by the config models: durations, addresses, camelCase keys."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasGenerator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    model_validator,
)
from pydantic.alias_generators import to_camel

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h|d)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
}
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\Z")


def parse_duration(value: Any) -> float:
    """Seconds from a number or a Go-style duration string ("500ms", "5m", "1h30m", "7d")."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 24h")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return float(text)
        pos, total = 0, 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos == len(text) and text:
            return total
    raise ValueError(f"{value!r} is not a duration (examples: 30s, 5m, 24h, 1h30m)")


def check_address(value: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise ValueError(f"{value!r} is not an Ethereum address (0x followed by 40 hex digits)")
    return value.lower()


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A duration in seconds; accepts numbers (seconds) and strings like "5m"."""

Address = Annotated[str, AfterValidator(check_address)]
"""A 20-byte hex address, normalised to lowercase."""


def _validation_alias(name: str) -> AliasChoices:
    camel = to_camel(name)
    return AliasChoices(camel, name) if camel != name else AliasChoices(name)


CAMEL_KEYS = AliasGenerator(validation_alias=_validation_alias, serialization_alias=to_camel)


class Model(BaseModel):
    """Config section: keys in camelCase as the Go original writes them, snake_case accepted."""

    model_config = ConfigDict(alias_generator=CAMEL_KEYS, populate_by_name=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_take_defaults(cls, data: Any) -> Any:
        return drop_empty_sections(cls, data)


def drop_empty_sections(model: type[BaseModel], data: Any) -> Any:
    """`storage:` with nothing under it (YAML null) means "defaults", not an error."""
    if not isinstance(data, dict):
        return data
    empty = [k for k, v in data.items() if v is None]
    if not empty:
        return data
    with_factory = {
        key
        for name, field in model.model_fields.items()
        if field.default_factory is not None
        for key in (name, to_camel(name))
    }
    return {k: v for k, v in data.items() if not (v is None and k in with_factory)}
