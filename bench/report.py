"""Shared benchmark plumbing: timing statistics and the docs/benchmarks.md sections.

Each benchmark module in bench/ has `main(argv) -> str` returning a Markdown section (a
heading, the command that produced it, the machine, a table with medians and ratios).
`python -m bench.run` runs them all, or `python -m bench.run NAME ...` some; each section
is written between `<!-- bench:NAME -->` markers, so reruns replace only their own part.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"

HEADER = """# Benchmarks

Measured by `make bench` (or `.venv/bin/python -m bench.run NAME` for one section) on the
project's machine kind: 2 shared cores, so figures move ±30% run to run. Every comparison is
made side by side in the same run; read the medians and the ratios, not the absolute numbers.
"""


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.python_implementation()} {platform.python_version()}, {cpu}, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d', time.gmtime())}"
    )


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def update_section(name: str, markdown: str) -> None:
    """Replace (or append) the `name` section of docs/benchmarks.md."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text() if DOC.exists() else HEADER
    block = f"<!-- bench:{name} -->\n{markdown.strip()}\n<!-- /bench:{name} -->"
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)
