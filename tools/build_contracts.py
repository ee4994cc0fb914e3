"""Compile contracts/src/*.sol with solcjs (node_modules/solc) into contracts/artifacts/.

    python tools/build_contracts.py          # (re)write the artifacts
    python tools/build_contracts.py --check  # exit 1 if the committed artifacts are stale

Reproducible: solc's version is pinned in package.json, the compiler input is built from the
sorted sources with fixed settings, the metadata hash is left out of the bytecode, and the JSON
is written with sorted keys. One artifact per deployable contract: {"contractName", "abi",
"bytecode"}, plus `build-info.json` with the compiler version and the hash of the input.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "contracts" / "src"
ARTIFACTS = ROOT / "contracts" / "artifacts"
SOLCJS = ROOT / "node_modules" / "solc" / "solc.js"

# The contracts the devnet deploys; libraries, interfaces and bases get no artifact.
DEPLOYABLE = (
    "AVSTaskHook",
    "AllocationManager",
    "BN254CertificateVerifier",
    "BN254TableCalculator",
    "CrossChainRegistry",
    "ECDSACertificateVerifier",
    "ECDSATableCalculator",
    "KeyRegistrar",
    "OperatorTableUpdater",
    "TaskAVSRegistrar",
    "TaskMailbox",
)

SETTINGS = {
    "optimizer": {"enabled": True, "runs": 200},
    "viaIR": False,
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "none", "appendCBOR": False},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}


# solc.js's own --standard-json reads stdin with readFileSync, which fails with EAGAIN on a pipe;
# this driver streams stdin instead and adds the compiler version to the output.
_DRIVER = """
const solc = require(process.argv[1]);
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const output = JSON.parse(solc.compile(input));
  output.compilerVersion = solc.version();
  process.stdout.write(JSON.stringify(output));
});
"""


class BuildError(Exception):
    pass


def compiler_input() -> dict:
    sources = {path.name: {"content": path.read_text()} for path in sorted(SOURCES.glob("*.sol"))}
    return {"language": "Solidity", "sources": sources, "settings": SETTINGS}


def compile_sources() -> dict[str, str]:
    """Run solcjs; returns file name -> JSON text of every artifact."""
    node = shutil.which("node")
    if node is None:
        raise BuildError("node is not on PATH (Node.js is needed to run solcjs)")
    if not SOLCJS.is_file():
        raise BuildError(f"{SOLCJS} is missing: run `make bootstrap` (npm installs solc)")
    request = compiler_input()
    raw = json.dumps(request, sort_keys=True)
    proc = subprocess.run(
        [node, "-e", _DRIVER, str(SOLCJS.parent)],
        input=raw,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise BuildError(f"solcjs failed (exit {proc.returncode}): {proc.stderr.strip()[:2000]}")
    output = json.loads(proc.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise BuildError("\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
    version = output["compilerVersion"]
    files: dict[str, str] = {}
    found: dict[str, dict] = {}
    for contracts in output["contracts"].values():
        for name, data in contracts.items():
            if name in DEPLOYABLE:
                found[name] = data
    missing = sorted(set(DEPLOYABLE) - set(found))
    if missing:
        raise BuildError(f"contracts missing from the compiler output: {missing}")
    for name in DEPLOYABLE:
        data = found[name]
        artifact = {
            "contractName": name,
            "abi": data["abi"],
            "bytecode": "0x" + data["evm"]["bytecode"]["object"],
        }
        files[f"{name}.json"] = json.dumps(artifact, indent=1, sort_keys=True) + "\n"
    info = {
        "compiler": version,
        "inputSha256": hashlib.sha256(raw.encode()).hexdigest(),
        "settings": SETTINGS,
        "contracts": list(DEPLOYABLE),
    }
    files["build-info.json"] = json.dumps(info, indent=1, sort_keys=True) + "\n"
    return files


def stale_files(files: dict[str, str]) -> list[str]:
    stale = [
        name
        for name, text in files.items()
        if not (ARTIFACTS / name).is_file() or (ARTIFACTS / name).read_text() != text
    ]
    extra = {p.name for p in ARTIFACTS.glob("*.json")} - set(files) if ARTIFACTS.is_dir() else set()
    return sorted(stale + list(extra))


def main(argv: list[str]) -> int:
    try:
        files = compile_sources()
    except BuildError as exc:
        print(f"build_contracts: {exc}", file=sys.stderr)
        return 1
    if "--check" in argv:
        stale = stale_files(files)
        if stale:
            print(f"build_contracts: stale artifacts: {', '.join(stale)}", file=sys.stderr)
            return 1
        print("build_contracts: artifacts are up to date")
        return 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.json"):
        if old.name not in files:
            old.unlink()
    for name, text in files.items():
        (ARTIFACTS / name).write_text(text)
    print(f"build_contracts: wrote {len(files)} files to {ARTIFACTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
