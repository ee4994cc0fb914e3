"""JSON codec for stored records (dataclasses): bytes as 0x-hex, enums by value.

JSON keeps records readable in `ponos db verify` output and across languages; field types
are checked on decode so damaged or foreign data fails loudly as CorruptRecord (naming the
key) instead of surfacing later as a TypeError. Unknown keys are ignored (forward
compatible); missing keys take the field default or fail.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any, Generic, TypeVar

from ponos.storage.errors import CorruptRecord

T = TypeVar("T")

_MISSING = dataclasses.MISSING


def _decode_bytes(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError("expected 0x-hex bytes")
    return bytes.fromhex(value[2:])


def _decode_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected an integer")
    return value


def _decode_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    return float(value)


def _decode_as(kind: type) -> Callable[[Any], Any]:
    def decode(value: Any) -> Any:
        if not isinstance(value, kind):
            raise ValueError(f"expected {kind.__name__}")
        return value

    return decode


def _field_codec(tp: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any], bool]:
    """(decode, encode, optional) for one annotated field type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        decode, encode, _ = _field_codec(args[0])
        return decode, encode, True
    if tp is bytes:
        return _decode_bytes, lambda v: "0x" + v.hex(), False
    if tp is bool:
        return _decode_as(bool), lambda v: v, False
    if tp is int:
        return _decode_int, lambda v: v, False
    if tp is float:
        return _decode_float, lambda v: v, False
    if tp is str:
        return _decode_as(str), lambda v: v, False
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp, lambda v: v.value, False
    if origin is list or tp is list:
        return _decode_as(list), list, False
    if origin is dict or tp is dict:
        return _decode_as(dict), dict, False
    raise TypeError(f"no codec for field type {tp!r}")


class RecordCodec(Generic[T]):
    def __init__(self, cls: type[T]) -> None:
        self.cls = cls
        hints = typing.get_type_hints(cls)
        self._fields: list[tuple[str, Callable, Callable, bool, bool]] = []
        self._plain: list[str] = []  # encoded as they are (str, int, float, bool, list, dict)
        self._special: list[tuple[str, Callable]] = []  # bytes and enums
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            tp = hints[field.name]
            decode, encode, optional = _field_codec(tp)
            has_default = field.default is not _MISSING or field.default_factory is not _MISSING
            self._fields.append((field.name, decode, encode, optional, has_default))
            base = _base_type(tp)
            if base is bytes or (isinstance(base, type) and issubclass(base, Enum)):
                self._special.append((field.name, encode))
            else:
                self._plain.append(field.name)

    def to_dict(self, record: T) -> dict[str, Any]:
        out = {name: getattr(record, name) for name in self._plain}
        for name, encode in self._special:
            value = getattr(record, name)
            out[name] = None if value is None else encode(value)
        return out

    def encode(self, record: T) -> bytes:
        return _ENCODER.encode(self.to_dict(record)).encode()

    def decode(self, key: bytes, raw: bytes) -> T:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptRecord(key, f"not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise CorruptRecord(key, f"expected a JSON object for {self.cls.__name__}")
        values: dict[str, Any] = {}
        for name, decode, _encode, optional, has_default in self._fields:
            if name not in data:
                if has_default:
                    continue
                raise CorruptRecord(key, f"{self.cls.__name__} field {name!r} is missing")
            value = data[name]
            if value is None:
                if not optional:
                    raise CorruptRecord(key, f"{self.cls.__name__} field {name!r} is null")
                values[name] = None
                continue
            try:
                values[name] = decode(value)
            except (ValueError, TypeError) as exc:
                raise CorruptRecord(key, f"{self.cls.__name__} field {name!r}: {exc}") from None
        return self.cls(**values)


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _base_type(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp
