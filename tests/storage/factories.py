"""Record builders shared by the storage tests, the crash worker and the benchmarks."""

from __future__ import annotations

import hashlib

from ponos.storage.records import (
    BlockRecord,
    DeploymentRecord,
    InflightTask,
    PerformerState,
    ProcessedTask,
    TaskRecord,
)

AVS_A = "0x" + "aa" * 20
AVS_B = "0x" + "bb" * 20


def task_id(n: int | str) -> str:
    return "0x" + hashlib.sha256(str(n).encode()).hexdigest()


def block_hash(chain_id: int, number: int, fork: int = 0) -> str:
    return "0x" + hashlib.sha256(f"{chain_id}:{number}:{fork}".encode()).hexdigest()


def block(chain_id: int, number: int, fork: int = 0) -> BlockRecord:
    return BlockRecord(
        chain_id=chain_id,
        number=number,
        hash=block_hash(chain_id, number, fork),
        parent_hash=block_hash(chain_id, number - 1, fork),
        timestamp=1_700_000_000 + number,
    )


def task(
    n: int | str,
    *,
    chain_id: int = 1,
    block_number: int = 10,
    avs: str = AVS_A,
    payload: bytes = b"\x01\x02payload",
    log_index: int = 0,
) -> TaskRecord:
    return TaskRecord(
        task_id=task_id(n),
        avs_address=avs,
        chain_id=chain_id,
        block_number=block_number,
        block_hash=block_hash(chain_id, block_number),
        log_index=log_index,
        operator_set_id=1,
        reference_timestamp=1_700_000_000,
        deadline=1_700_000_600,
        payload=payload,
        creator="0x" + "cc" * 20,
    )


def performer(n: int | str, *, avs: str = AVS_A, status: str = "running") -> PerformerState:
    return PerformerState(
        performer_id=f"performer-{n}",
        avs_address=avs,
        runtime="docker",
        status=status,
        slot="current",
        artifact_registry="registry.local/avs",
        artifact_digest="sha256:" + "ab" * 32,
        artifact_tag="v1",
        resource_id=f"container-{n}",
        endpoint="127.0.0.1:9000",
        command=["/bin/performer", "--port", "9000"],
        env=[{"name": "MODE", "value": "fast", "value_from_env": False}],
        network_name="ponos",
        deployment_id=f"deploy-{n}",
        created_at=1_700_000_000.5,
        last_health_check=None,
        resource_healthy=True,
        application_healthy=True,
    )


def deployment(n: int | str, *, avs: str = AVS_A) -> DeploymentRecord:
    return DeploymentRecord(
        deployment_id=f"deploy-{n}",
        avs_address=avs,
        artifact_registry="registry.local/avs",
        artifact_digest="sha256:" + "cd" * 32,
    )


def inflight(n: int | str, *, avs: str = AVS_A) -> InflightTask:
    return InflightTask(
        task_id=task_id(n),
        avs_address=avs,
        operator_set_id=2,
        aggregator_address="0x" + "dd" * 20,
        received_at=1_700_000_000.25,
        deadline=1_700_000_600.0,
    )


def processed(
    n: int | str, *, expires_at: float = 1_700_001_000.0, avs: str = AVS_A
) -> ProcessedTask:
    return ProcessedTask(
        task_id=task_id(n),
        avs_address=avs,
        operator_set_id=2,
        operator_address="0x" + "ee" * 20,
        output=b"output-" + str(n).encode(),
        signature=b"\x11" * 64,
        output_digest=b"\x22" * 32,
        auth_signature=b"\x33" * 65,
        processed_at=1_700_000_100.0,
        expires_at=expires_at,
    )
