"""The generated protocol keeps the Go original's (m7) message field numbers: the wire
contract with existing aggregators, executors and grpcurl users."""

from __future__ import annotations

import pytest

from ponos.pb import executor_pb2, performer_pb2

M7_FIELDS = {
    "TaskSubmission": {
        1: "task_id",
        2: "aggregator_address",
        3: "avs_address",
        4: "payload",
        5: "signature",
        6: "operator_set_id",
        7: "reference_timestamp",
        8: "executor_address",
        9: "task_block_number",
        10: "version",
    },
    "TaskResult": {
        1: "task_id",
        2: "operator_address",
        3: "output",
        4: "signature",
        5: "avs_address",
        6: "operator_set_id",
        7: "output_digest",
    },
    "DeployArtifactRequest": {1: "avs_address", 2: "digest", 3: "registry_url", 4: "env"},
    "PerformerEnv": {1: "name", 2: "value", 3: "value_from_env"},
    "DeployArtifactResponse": {1: "success", 2: "message", 3: "deployment_id"},
    "ListPerformersRequest": {1: "avs_address"},
    "Performer": {
        1: "performer_id",
        2: "avs_address",
        3: "status",
        4: "artifact_registry",
        5: "artifact_digest",
        6: "resource_healthy",
        7: "application_healthy",
        8: "last_health_check",
        9: "container_id",
        10: "artifact_tag",
    },
    "ListPerformersResponse": {1: "performers"},
    "RemovePerformerRequest": {1: "performer_id"},
    "RemovePerformerResponse": {1: "success", 2: "message"},
}


@pytest.mark.parametrize("message", sorted(M7_FIELDS))
def test_executor_messages_keep_m7_field_numbers(message):
    descriptor = executor_pb2.DESCRIPTOR.message_types_by_name[message]
    numbers = {f.number: f.name for f in descriptor.fields}
    for number, name in M7_FIELDS[message].items():
        assert numbers.get(number) == name


def test_executor_services_and_package_names():
    services = executor_pb2.DESCRIPTOR.services_by_name
    assert services["ExecutorService"].full_name == "eigenlayer.hourglass.v1.ExecutorService"
    assert [m.name for m in services["ExecutorService"].methods] == [
        "SubmitTask",
        "DeployArtifact",
        "ListPerformers",
        "RemovePerformer",
    ]
    management = services["ExecutorManagementService"]
    assert {"DeployArtifact", "ListPerformers", "RemovePerformer"} <= {
        m.name for m in management.methods
    }


def test_performer_protocol_matches_protocol_apis_v1_14():
    service = performer_pb2.DESCRIPTOR.services_by_name["PerformerService"]
    assert service.full_name == "eigenlayer.hourglass.v1.performer.PerformerService"
    assert [m.name for m in service.methods] == ["HealthCheck", "StartSync", "ExecuteTask"]
    request = performer_pb2.TaskRequest(task_id=b"0x01", payload=b"0x04")
    assert performer_pb2.TaskRequest.FromString(request.SerializeToString()) == request
    assert performer_pb2.READY_FOR_TASK == 1


def test_generation_is_reproducible(tmp_path):
    """Regenerating from protos/ yields byte-identical modules."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = root / "ponos" / "proto"
    before = {
        p.relative_to(out): p.read_bytes()
        for p in out.rglob("*.py*")
        if "__pycache__" not in p.parts
    }
    spec = importlib.util.spec_from_file_location("gen", root / "tools" / "gen_protos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate()
    after = {
        p.relative_to(out): p.read_bytes()
        for p in out.rglob("*.py*")
        if "__pycache__" not in p.parts
    }
    (out / ".generated").touch()
    assert before == after
