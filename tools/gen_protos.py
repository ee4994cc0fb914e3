"""Generate the Python gRPC modules from protos/ into ponos/proto/ (grpcio-tools).

Run by `make protos` and by the setuptools build hook, so a plain `pip install .` also
produces them. The output is a pure function of the .proto files and the pinned
grpcio-tools version, so repeated runs give identical files.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT = ROOT / "ponos" / "proto"

# `from eigenlayer.hourglass.v1.executor import executor_pb2` -> package-relative import,
# so the generated tree lives inside the ponos package instead of a top-level `eigenlayer`.
_ABS_IMPORT = re.compile(r"^from (eigenlayer(?:\.\w+)*) import (\w+_pb2)", re.MULTILINE)


def _relative(module_dir: Path, target_pkg: str) -> str:
    here = module_dir.relative_to(OUT).parts
    there = tuple(target_pkg.split("."))
    common = 0
    while common < min(len(here), len(there)) and here[common] == there[common]:
        common += 1
    dots = "." * (len(here) - common + 1)
    rest = ".".join(there[common:])
    return dots + rest


def generate() -> list[Path]:
    from grpc_tools import protoc  # imported late: only needed at build time

    protos = sorted(PROTO_ROOT.rglob("*.proto"))
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_ROOT}")
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={OUT}",
        f"--pyi_out={OUT}",
        f"--grpc_python_out={OUT}",
        *[str(p.relative_to(PROTO_ROOT)) for p in protos],
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    written = []
    for path in sorted(OUT.rglob("*.py")) + sorted(OUT.rglob("*.pyi")):
        text = path.read_text()
        fixed = _ABS_IMPORT.sub(
            lambda m, d=path.parent: f"from {_relative(d, m.group(1))} import {m.group(2)}", text
        )
        if fixed != text:
            path.write_text(fixed)
        written.append(path)
    for directory in [OUT, *[p for p in OUT.rglob("*") if p.is_dir()]]:
        (directory / "__init__.py").touch()
    return written


if __name__ == "__main__":
    files = generate()
    print(f"generated {len(files)} files into {OUT.relative_to(ROOT)}", file=sys.stderr)
