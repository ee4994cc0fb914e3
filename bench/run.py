"""Run benchmarks and record them in docs/benchmarks.md.

python -m bench.run            # every module in bench/ with a main()
python -m bench.run storage    # only bench/storage.py
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench
from bench.report import update_section

SKIP = {"report", "run"}


def discover() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name not in SKIP and not m.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    names = argv or discover()
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        started = time.monotonic()
        print(f"== bench {name}", flush=True)
        section = module.main([])
        update_section(name, section)
        print(section, flush=True)
        print(f"== bench {name} done in {time.monotonic() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
