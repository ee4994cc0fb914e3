"""JSON codec for stored records (dataclasses): bytes as 0x-hex, enums by value.

JSON keeps records readable in `ponos db verify` output and across languages; field types
are checked on decode so damaged or foreign data fails loudly as CorruptRecord (naming the
key) instead of surfacing later as a TypeError. Unknown keys are ignored (forward
compatible); missing keys take the field default or fail.

Records whose fields are all scalars (every record on the hot write paths) are parsed and
serialised with orjson; the JSON is the same as the standard library's apart from non-ASCII
text, which orjson writes as UTF-8 instead of \\u escapes (both read back identically).
Whatever orjson cannot represent exactly goes through the standard library instead, so
stored data reads back as before: integers beyond 64 bits and non-finite floats on encode,
and on decode anything orjson rejects (NaN, invalid UTF-8) or an integer field that orjson
read as a float (a value beyond 64 bits). Records with list or dict fields use the standard
library only (orjson would read a big integer nested in them as a float).
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
import types
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any, Generic, TypeVar

import orjson

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


def _decode_enum(enum: type[Enum]) -> Callable[[Any], Any]:
    members = {m.value: m for m in enum}

    def decode(value: Any) -> Any:
        member = members.get(value) if value.__class__ is str else None
        return member if member is not None else enum(value)

    return decode


class _NoFastPath:
    """A class no decoded JSON value has: fields whose values always need converting."""


def _field_codec(tp: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any], bool, type]:
    """(decode, encode, optional, fast) for one annotated field type; a decoded JSON value
    whose class is exactly `fast` is already the field's value."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        decode, encode, _, fast = _field_codec(args[0])
        return decode, encode, True, fast
    if tp is bytes:
        return _decode_bytes, lambda v: "0x" + v.hex(), False, _NoFastPath
    if tp is bool:
        return _decode_as(bool), lambda v: v, False, bool
    if tp is int:
        return _decode_int, lambda v: v, False, int
    if tp is float:
        return _decode_float, lambda v: v, False, float
    if tp is str:
        return _decode_as(str), lambda v: v, False, str
    if isinstance(tp, type) and issubclass(tp, Enum):
        return _decode_enum(tp), lambda v: v.value, False, _NoFastPath
    if origin is list or tp is list:
        return _decode_as(list), list, False, list
    if origin is dict or tp is dict:
        return _decode_as(dict), dict, False, dict
    raise TypeError(f"no codec for field type {tp!r}")


class RecordCodec(Generic[T]):
    def __init__(self, cls: type[T]) -> None:
        self.cls = cls
        hints = typing.get_type_hints(cls)
        self._fields: list[tuple[str, type, Callable, bool, bool]] = []
        self._defaults: list[Callable[[], Any] | None] = []  # makes a missing field's value
        self._plain: list[str] = []  # encoded as they are (str, int, float, bool, list, dict)
        self._special: list[tuple[str, Callable]] = []  # bytes and enums
        self._float_fields: list[str] = []
        self._bases: list[Any] = []
        scalar = True
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            tp = hints[field.name]
            decode, _encode, optional, fast = _field_codec(tp)
            has_default = field.default is not _MISSING or field.default_factory is not _MISSING
            self._fields.append((field.name, fast, decode, optional, has_default))
            if field.default_factory is not _MISSING:
                self._defaults.append(field.default_factory)
            elif field.default is not _MISSING:
                self._defaults.append(lambda value=field.default: value)
            else:
                self._defaults.append(None)
            base = _base_type(tp)
            self._bases.append(base)
            if base is bytes or (isinstance(base, type) and issubclass(base, Enum)):
                self._special.append((field.name, _encode))
            else:
                self._plain.append(field.name)
            if base is float:
                self._float_fields.append(field.name)
            elif fast is list or fast is dict:
                scalar = False
        self._orjson = scalar
        self._names = [name for name, *_ in self._fields]
        # __init__ takes every field, in order: build the record with positional arguments
        self._positional = all(
            f.init and not f.kw_only
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        )
        self._get_all = operator.attrgetter(*self._names)
        self._index = {name: i for i, name in enumerate(self._names)}
        self._build = self._compile_build()
        self._to_dict = self._compile_to_dict()

    def replace(self, record: T, changes: dict[str, Any]) -> T:
        """A copy of record with changes (field name -> value): `dataclasses.replace`
        without its per-call field introspection."""
        if self._positional:
            args = list(self._get_all(record))
            index = self._index
            for name, value in changes.items():
                i = index.get(name)
                if i is None:
                    raise TypeError(f"{self.cls.__name__} has no field {name!r}")
                args[i] = value
            return self.cls(*args)
        values = dict(zip(self._names, self._get_all(record), strict=True))
        values.update(changes)
        return self.cls(**values)

    def to_dict(self, record: T) -> dict[str, Any]:
        return self._to_dict(record)

    def _compile_to_dict(self) -> Callable[[T], dict[str, Any]]:
        """to_dict(record) as one generated dict display: plain fields as they are, then
        bytes as 0x-hex and enums by value (None stays None)."""
        bases = dict(zip(self._names, self._bases, strict=True))
        items = [f"{name!r}: r.{name}" for name in self._plain]
        for name, _encode in self._special:
            value = f"'0x' + r.{name}.hex()" if bases[name] is bytes else f"r.{name}.value"
            items.append(f"{name!r}: None if r.{name} is None else {value}")
        source = "def to_dict(r):\n    return {" + ", ".join(items) + "}"
        namespace: dict[str, Any] = {}
        exec(source, namespace)  # field names are identifiers: nothing else is pasted
        return namespace["to_dict"]

    def encode(self, record: T) -> bytes:
        data = self._to_dict(record)
        if self._orjson:
            for name in self._float_fields:
                value = data[name]
                if value.__class__ is float and not math.isfinite(value):
                    break  # orjson would write null; the standard library writes NaN/Infinity
            else:
                try:
                    return orjson.dumps(data)
                except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits
                    pass
        return _ENCODER.encode(data).encode()

    def decode(self, key: bytes, raw: bytes) -> T:
        if self._orjson:
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass  # NaN, invalid UTF-8, ...: the standard library decides below
            else:
                record = self._from_data(key, data, exact=False)
                if record is not None:
                    return record
                # orjson read an integer beyond 64 bits as a float: re-read it exactly
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptRecord(key, f"not JSON ({exc})") from None
        return self._from_data(key, data, exact=True)  # type: ignore[return-value]

    def _from_data(self, key: bytes, data: Any, *, exact: bool) -> T | None:
        """The record, or None when an integer field holds a float and data came from a
        parser that is not exact for big integers."""
        if not isinstance(data, dict):
            raise CorruptRecord(key, f"expected a JSON object for {self.cls.__name__}")
        try:
            return self._build(data, key, exact)
        except _Inexact:
            return None
        except ValueError:  # bytes.fromhex on malformed hex: find the field and say so
            values = {}
            for i, (name, fast, *_rest) in enumerate(self._fields):
                value = data.get(name, _MISSING)
                if value.__class__ is not fast:
                    value = self._convert(i, value, key, exact)
                values[name] = value
            return self.cls(**values)

    def _compile_build(self) -> Callable[[dict[str, Any], bytes, bool], T]:
        """build(data, key, exact) -> record: one generated function, straight-line over
        the fields (the way dataclasses generates __init__). A value that already has its
        field's exact type, a null optional, 0x-hex bytes and an enum value are handled
        inline; anything else goes through `_convert`, which checks it and names the
        field in the error."""
        namespace: dict[str, Any] = {
            "MISSING": _MISSING,
            "cls": self.cls,
            "slow": self._convert,
            "fromhex": bytes.fromhex,
        }
        lines = ["def build(data, key, exact):"]
        for i, (name, fast, _decode, optional, _has_default) in enumerate(self._fields):
            namespace[f"fast{i}"] = fast
            base = self._bases[i]
            lines.append(f"    v{i} = data.get({name!r}, MISSING)")
            if optional:
                lines.append(f"    if v{i} is None: pass")
                keyword = "elif"
            else:
                keyword = "if"
            if base is bytes:
                lines.append(f"    {keyword} v{i}.__class__ is str and v{i}[:2] == '0x':")
                lines.append(f"        v{i} = fromhex(v{i}[2:])")
                lines.append("    else:")
            elif isinstance(base, type) and issubclass(base, Enum):
                namespace[f"members{i}"] = {m.value: m for m in base}
                lines.append(f"    {keyword} v{i}.__class__ is str and v{i} in members{i}:")
                lines.append(f"        v{i} = members{i}[v{i}]")
                lines.append("    else:")
            else:
                lines.append(f"    {keyword} v{i}.__class__ is not fast{i}:")
            lines.append(f"        v{i} = slow({i}, v{i}, key, exact)")
        if self._positional:
            arguments = ", ".join(f"v{i}" for i in range(len(self._names)))
        else:
            arguments = ", ".join(f"{name}=v{i}" for i, name in enumerate(self._names))
        lines.append(f"    return cls({arguments})")
        exec("\n".join(lines), namespace)  # field names are identifiers: nothing else is pasted
        return namespace["build"]

    def _convert(self, index: int, value: Any, key: bytes, exact: bool) -> Any:
        """One field's value that is not already of the field's exact type: the default of a
        missing field, None for an optional one, or the checked conversion."""
        name, fast, decode, optional, _has_default = self._fields[index]
        if value is _MISSING:
            default = self._defaults[index]
            if default is not None:
                return default()
            raise CorruptRecord(key, f"{self.cls.__name__} field {name!r} is missing")
        if value is None:
            if not optional:
                raise CorruptRecord(key, f"{self.cls.__name__} field {name!r} is null")
            return None
        if not exact and fast is int and value.__class__ is float:
            raise _Inexact()
        try:
            return decode(value)
        except (ValueError, TypeError) as exc:
            raise CorruptRecord(key, f"{self.cls.__name__} field {name!r}: {exc}") from None


class _Inexact(Exception):
    """An integer field was read as a float by a parser that is not exact for big ints."""


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _base_type(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp
