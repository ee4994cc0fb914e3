"""The compiled devnet contracts (contracts/artifacts/*.json, built by tools/build_contracts.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ponos.devnet.anvil import PROJECT_ROOT
from ponos.devnet.errors import DevnetError

ARTIFACTS_DIR = PROJECT_ROOT / "contracts" / "artifacts"


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


@cache
def load_artifact(name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
    path = directory / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DevnetError(
            f"contract artifact {path} is missing", hint="run `make contracts` to build it"
        ) from None
    except json.JSONDecodeError as exc:
        raise DevnetError(
            f"contract artifact {path} is not valid JSON ({exc.msg})",
            hint="run `make contracts` to rebuild it",
        ) from None
    return Artifact(name=data["contractName"], abi=data["abi"], bytecode=data["bytecode"])
