"""Load a service config from file + environment + CLI flags, with one clear error type.

Every problem is reported as `key.path: reason` (never with the offending value when the
key holds a secret) and raises ConfigError, which the CLI turns into exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from ponos.errors import ConfigError

T = TypeVar("T", bound=BaseSettings)

SECRET_KEY_HINTS = ("privatekey", "private_key", "password", "keystore", "token", "secret", "key")


def _squash(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def canonicalize(model: type[BaseModel], data: Any) -> Any:
    """Rename keys to field names: `grpcPort`, `grpc_port` and `GRPCPORT` all become
    `grpc_port`, so file, environment and flags merge onto the same key."""
    if not isinstance(data, dict):
        return data
    fields = {
        _squash(name): (name, _submodel(f.annotation)) for name, f in model.model_fields.items()
    }
    out: dict[str, Any] = {}
    for key, value in data.items():
        match = fields.get(_squash(str(key)))
        if match is None:
            out[key] = value
            continue
        name, sub = match
        if sub is not None:
            if isinstance(value, list):
                value = [canonicalize(sub, item) for item in value]
            else:
                value = canonicalize(sub, value)
        if isinstance(out.get(name), dict) and isinstance(value, dict):
            value = {**out[name], **value}
        out[name] = value
    return out


class _StaticSource(PydanticBaseSettingsSource):
    """Already-parsed data (the config file) as one settings source."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # pydantic-settings reads a source through __call__; this answers the same per field.
        return self().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return canonicalize(self.settings_cls, self._data)


class _CanonicalSource(_StaticSource):
    """Wraps a pydantic-settings source (environment) and canonicalizes its keys."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls, {})
        self._inner = inner

    def __call__(self) -> dict[str, Any]:
        return canonicalize(self.settings_cls, self._inner())


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a YAML or JSON file into a mapping, with errors naming the file and line."""
    file = Path(path)
    source = str(file)
    try:
        text = file.read_text()
    except FileNotFoundError:
        raise ConfigError("the file does not exist", source=source) from None
    except IsADirectoryError:
        raise ConfigError("the path is a directory, not a file", source=source) from None
    except PermissionError:
        raise ConfigError("the file is not readable (permission denied)", source=source) from None
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text", source=source) from None
    try:
        if file.suffix.lower() == ".json":
            data = json.loads(text) if text.strip() else {}
        else:
            data = yaml.safe_load(text)  # YAML is a superset of JSON
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON at line {exc.lineno}: {exc.msg}", source=source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"invalid YAML{where}: {reason}", source=source) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of keys", source=source)
    return data


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or str(part).startswith("function-"):
            continue
        else:
            out += ("." if out else "") + _camel(str(part))
    return out or "(top level)"


def format_validation_error(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        loc = _format_loc(tuple(item["loc"]))
        msg = item["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if item["type"] == "missing":
            msg = "required key is missing"
        problems.append(f"{loc}: {msg}")
    return problems


def _known_keys(model: type[BaseModel]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        sub = _submodel(annotation)
        for key in (name, _camel(name)):
            keys[key] = sub
    return keys


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _submodel(annotation: Any) -> Any:
    """The BaseModel type inside a field annotation (Optional, list[...]), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def unknown_keys(model: type[BaseModel], data: Any, path: str = "") -> list[str]:
    """Keys in the file that no config field reads (the Go original ignores them too)."""
    if not isinstance(data, dict):
        return []
    known = _known_keys(model)
    found = []
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in known:
            found.append(where)
            continue
        sub = known[key]
        if sub is None:
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                found += unknown_keys(sub, item, f"{where}[{i}]")
        else:
            found += unknown_keys(sub, value, where)
    return found


# Keys the Go original's sample files carry and nothing reads; not worth a warning.
_QUIET_UNKNOWN = {"network", "responseTimeout"}


def set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c` in a nested dict (for --set and flag overrides)."""
    parts = dotted.split(".")
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {part} is not a section")
    node[parts[-1]] = value


def parse_set_option(option: str) -> tuple[str, Any]:
    if "=" not in option:
        raise ConfigError(f"--set {option!r}: expected KEY=VALUE, e.g. storage.type=memory")
    key, raw = option.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {option!r}: the key is empty")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def load_config(
    settings_cls: type[T],
    path: str | Path | None,
    overrides: dict[str, Any] | None = None,
) -> tuple[T, list[str]]:
    """Build a validated config; returns it with warnings to log once logging is up."""
    data = read_config_file(path) if path else {}
    source = str(path) if path else None

    class _Settings(settings_cls):  # type: ignore[valid-type, misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (
                _StaticSource(settings_cls, overrides or {}),
                _CanonicalSource(settings_cls, env_settings),
                _StaticSource(settings_cls, data),
            )

    _Settings.__name__ = settings_cls.__name__
    try:
        settings = _Settings()
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc), source=source) from None
    except ValueError as exc:  # e.g. an env var with a value that is not JSON for a list
        raise ConfigError(str(exc), source=source) from None
    warnings = [
        f"Ignoring unknown config key {key}"
        for key in unknown_keys(settings_cls, data)
        if key.split(".")[0].split("[")[0] not in _QUIET_UNKNOWN
    ]
    return settings, warnings + settings.warnings
