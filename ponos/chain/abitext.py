"""Human-readable Solidity signatures -> JSON ABI entries.

    parse_signature("function getMembers((address avs,uint32 id) s) view returns (address[])")

The grammar is the subset EigenLayer's interfaces need: `function NAME(PARAMS)
[view|pure|payable] [returns (PARAMS)]` and `event NAME(PARAMS)`, where a parameter is
`TYPE [indexed] [NAME]` and a TYPE is an elementary type or a parenthesised tuple, each with
optional array suffixes (`[]`, `[2]`).
"""

from __future__ import annotations

import re
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARRAYS = re.compile(r"^((?:\[\d*\])*)\s*(.*)$", re.S)
_MUTABILITY = {"view", "pure", "payable", "nonpayable"}


class AbiSyntaxError(ValueError):
    pass


def _matching_paren(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise AbiSyntaxError(f"unbalanced parentheses in {text!r}")


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += char == "("
        depth -= char == ")"
        current.append(char)
    tail = "".join(current)
    if tail.strip() or parts:
        parts.append(tail)
    return [p.strip() for p in parts]


def _param(text: str, *, event: bool) -> dict[str, Any]:
    if not text:
        raise AbiSyntaxError("empty parameter")
    entry: dict[str, Any]
    if text.startswith("("):
        end = _matching_paren(text, 0)
        components = [_param(p, event=False) for p in _split_top_level(text[1:end])]
        match = _ARRAYS.match(text[end + 1 :])
        assert match is not None
        entry = {"type": "tuple" + match.group(1), "components": components}
        rest = match.group(2).split()
    else:
        words = text.split()
        entry = {"type": words[0]}
        rest = words[1:]
    indexed = False
    if rest and rest[0] == "indexed":
        indexed = True
        rest = rest[1:]
    if len(rest) > 1 or (rest and not _NAME.fullmatch(rest[0])):
        raise AbiSyntaxError(f"cannot parse parameter {text!r}")
    entry = {"name": rest[0] if rest else "", **entry}
    if event:
        entry["indexed"] = indexed
    elif indexed:
        raise AbiSyntaxError(f"'indexed' outside an event: {text!r}")
    return entry


def _params(text: str, *, event: bool = False) -> list[dict[str, Any]]:
    return [_param(p, event=event) for p in _split_top_level(text)]


def parse_signature(signature: str) -> dict[str, Any]:
    """One JSON ABI entry from a human-readable function or event signature."""
    text = " ".join(signature.split())
    kind, _, rest = text.partition(" ")
    name_match = _NAME.match(rest)
    if kind not in ("function", "event") or not name_match:
        raise AbiSyntaxError(f"expected 'function NAME(...)' or 'event NAME(...)': {signature!r}")
    name = name_match.group(0)
    open_at = name_match.end()
    if rest[open_at : open_at + 1] != "(":
        raise AbiSyntaxError(f"missing parameter list: {signature!r}")
    close_at = _matching_paren(rest, open_at)
    inputs = _params(rest[open_at + 1 : close_at], event=kind == "event")
    tail = rest[close_at + 1 :].strip()
    if kind == "event":
        if tail:
            raise AbiSyntaxError(f"unexpected text after event parameters: {tail!r}")
        return {"type": "event", "name": name, "inputs": inputs, "anonymous": False}
    mutability = "nonpayable"
    outputs: list[dict[str, Any]] = []
    words = tail.split(" ", 1)
    if words[0] in _MUTABILITY:
        mutability = words[0]
        tail = words[1].strip() if len(words) > 1 else ""
    if tail:
        if not tail.startswith("returns"):
            raise AbiSyntaxError(f"unexpected text {tail!r} in {signature!r}")
        body = tail[len("returns") :].strip()
        if not body.startswith("(") or _matching_paren(body, 0) != len(body) - 1:
            raise AbiSyntaxError(f"bad returns clause in {signature!r}")
        outputs = _params(body[1:-1])
    return {
        "type": "function",
        "name": name,
        "inputs": inputs,
        "outputs": outputs,
        "stateMutability": mutability,
    }


def canonical_type(entry: dict[str, Any]) -> str:
    """The canonical ABI type of one parameter, e.g. `(address,uint32)[]`."""
    kind = entry["type"]
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in entry["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def canonical_signature(entry: dict[str, Any]) -> str:
    """`name(type,...)`: what a selector or an event topic hashes."""
    return f"{entry['name']}({','.join(canonical_type(p) for p in entry['inputs'])})"
