"""Key layout shared by both backends: `<kind>/<part>/<part>...`, UTF-8.

The first segment names the record kind (a RocksDB column family); numbers are zero-padded
to 20 digits so byte order is numeric order and ranges become prefix/bound scans. Keys stay
human-readable, which `ponos db verify` relies on when it names a damaged record.
"""

from __future__ import annotations

from ponos.storage.errors import InvalidRecord

SEP = b"/"
NUM_WIDTH = 20
_MAX_NUM = 10**NUM_WIDTH


def num(value: int) -> str:
    """A non-negative integer as a fixed-width, order-preserving key part."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_NUM:
        raise InvalidRecord(f"{value!r} cannot be a key number (0 <= n < 10^20)")
    return f"{value:0{NUM_WIDTH}d}"


def make_key(kind: str, *parts: str | int) -> bytes:
    text = kind
    for part in parts:
        if part.__class__ is str:
            if "/" in part:
                raise InvalidRecord(f"key part {part!r} contains '/'")
            text += "/" + part
        else:
            text += "/" + num(part)  # type: ignore[arg-type]
    return text.encode()


def make_prefix(kind: str, *parts: str | int) -> bytes:
    """The prefix of every key under kind/parts (ends with the separator)."""
    return make_key(kind, *parts) + SEP


def split_key(key: bytes) -> tuple[str, bytes]:
    """(kind, rest) of a full key; the kind must be present."""
    kind, sep, rest = key.partition(SEP)
    if not sep or not kind:
        raise InvalidRecord(f"key {key!r} has no '<kind>/' prefix")
    return kind.decode(), rest


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with prefix (None: no bound)."""
    data = bytearray(prefix)
    while data and data[-1] == 0xFF:
        data.pop()
    if not data:
        return None
    data[-1] += 1
    return bytes(data)


def parse_num(text: bytes | str) -> int:
    return int(text)
