"""The compiled devnet contracts (contracts/artifacts/*.json, built by tools/build_contracts.py).

An installed ponos (the Docker image) has no source tree: $PONOS_CONTRACTS_DIR names the folder
that holds the artifacts there.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ponos.devnet.anvil import PROJECT_ROOT
from ponos.devnet.errors import DevnetError

ARTIFACTS_DIR = PROJECT_ROOT / "contracts" / "artifacts"
CONTRACTS_DIR_ENV = "PONOS_CONTRACTS_DIR"


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


def artifacts_dir() -> Path:
    """$PONOS_CONTRACTS_DIR when set, else contracts/artifacts of the source tree."""
    explicit = os.environ.get(CONTRACTS_DIR_ENV)
    return Path(explicit) if explicit else ARTIFACTS_DIR


def load_artifact(name: str, directory: Path | None = None) -> Artifact:
    return _load_artifact(name, directory or artifacts_dir())


@cache
def _load_artifact(name: str, directory: Path) -> Artifact:
    path = directory / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DevnetError(
            f"contract artifact {path} is missing",
            hint=f"run `make contracts` to build it, or point ${CONTRACTS_DIR_ENV} at the artifacts",
        ) from None
    except json.JSONDecodeError as exc:
        raise DevnetError(
            f"contract artifact {path} is not valid JSON ({exc.msg})",
            hint="run `make contracts` to rebuild it",
        ) from None
    return Artifact(name=data["contractName"], abi=data["abi"], bytecode=data["bytecode"])
