"""Ready-to-run service configs for a devnet: aggregator.yaml and executor-<i>.yaml.

Keys are the Go original's (`operator`, `l1ChainId`, `chains`, `avss`, `grpcPort`, `l1Chain`,
`avsPerformers`, `storage`) plus ours (`contracts`, `ops`). Ports: executor i serves gRPC on
grpc_base_port + i (the socket registered on chain) and ops on ops_base_port + 1 + i; the
aggregator's ops port is ops_base_port. Data lives under <devnet dir>/data/.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from ponos.chain.types import CORE_CONTRACTS
from ponos.devnet.deploy import DevnetDeployment, OperatorKeys
from ponos.devnet.errors import DevnetError

POLL_INTERVAL_SECONDS = 1


def check_ports(operators: int, grpc_base_port: int, ops_base_port: int) -> None:
    grpc = set(range(grpc_base_port, grpc_base_port + operators))
    ops = set(range(ops_base_port, ops_base_port + operators + 1))
    for name, ports in (("--grpc-base-port", grpc), ("--ops-base-port", ops)):
        if min(ports) < 1 or max(ports) > 65535:
            raise DevnetError(f"{name} gives ports outside 1-65535 for {operators} operators")
    if grpc & ops:
        raise DevnetError(
            f"gRPC ports {min(grpc)}-{max(grpc)} overlap ops ports {min(ops)}-{max(ops)}: "
            "choose another --grpc-base-port or --ops-base-port"
        )


def _signing_keys(op: OperatorKeys) -> dict[str, Any]:
    if op.ecdsa is not None:
        return {"ecdsa": {"privateKey": op.ecdsa.private_key}}
    assert op.bls is not None
    return {"bls": {"privateKey": op.bls.private_key}}


def _operator(op: OperatorKeys) -> dict[str, Any]:
    return {
        "address": op.address,
        "operatorPrivateKey": {"privateKey": op.private_key},
        "signingKeys": _signing_keys(op),
    }


def _contracts(deployment: DevnetDeployment) -> list[dict[str, Any]]:
    return [
        {"name": name, "address": deployment.contracts[name], "chainId": deployment.chain_id}
        for name in CORE_CONTRACTS
    ]


def aggregator_config(
    deployment: DevnetDeployment, data_dir: Path, ops_port: int
) -> dict[str, Any]:
    return {
        "l1ChainId": deployment.chain_id,
        "operator": _operator(deployment.aggregator),
        "chains": [
            {
                "name": "devnet",
                "chainId": deployment.chain_id,
                "rpcUrl": deployment.rpc_url,
                "pollIntervalSeconds": POLL_INTERVAL_SECONDS,
            }
        ],
        "avss": [
            {
                "address": deployment.avs,
                "chainIds": [deployment.chain_id],
                "avsRegistrarAddress": deployment.avs_registrar,
            }
        ],
        "contracts": _contracts(deployment),
        "storage": {"type": "rocksdb", "rocksdb": {"dir": str(data_dir / "aggregator")}},
        "ops": {"port": ops_port},
    }


def executor_config(
    deployment: DevnetDeployment, index: int, data_dir: Path, grpc_port: int, ops_port: int
) -> dict[str, Any]:
    op = deployment.executors[index]
    return {
        "grpcPort": grpc_port,
        "grpcHost": "127.0.0.1",
        "operator": _operator(op),
        "l1Chain": {"rpcUrl": deployment.rpc_url, "chainId": deployment.chain_id},
        "avsPerformers": [
            {
                "avsAddress": deployment.avs,
                "avsRegistrarAddress": deployment.avs_registrar,
                "processType": "server",
                "runtime": "process",
                "command": [sys.executable, "-m", "ponos", "performer", "hello"],
            }
        ],
        "contracts": _contracts(deployment),
        "storage": {"type": "rocksdb", "rocksdb": {"dir": str(data_dir / f"executor-{index}")}},
        "ops": {"port": ops_port},
    }


def write_configs(
    deployment: DevnetDeployment, directory: Path, grpc_base_port: int, ops_base_port: int
) -> list[Path]:
    """Write aggregator.yaml and executor-<i>.yaml into `directory`; returns their paths."""
    operators = len(deployment.executors)
    check_ports(operators, grpc_base_port, ops_base_port)
    for i, op in enumerate(deployment.executors):
        expected = f"127.0.0.1:{grpc_base_port + i}"
        if op.socket != expected:
            raise DevnetError(
                f"executor {i} is registered on chain at {op.socket}, not {expected}: "
                "use the --grpc-base-port the devnet was deployed with"
            )
    data_dir = directory.resolve() / "data"
    files = {
        "aggregator.yaml": aggregator_config(deployment, data_dir, ops_base_port),
        **{
            f"executor-{i}.yaml": executor_config(
                deployment, i, data_dir, grpc_base_port + i, ops_base_port + 1 + i
            )
            for i in range(operators)
        },
    }
    paths = []
    header = "# Written by `ponos devnet up`: development keys only, never use them elsewhere.\n"
    for name, content in files.items():
        path = directory / name
        path.write_text(header + yaml.safe_dump(content, sort_keys=False))
        path.chmod(0o600)  # holds private keys
        paths.append(path)
    return paths
