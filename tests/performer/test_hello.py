"""The example performer: the Go demo's squaring function over real gRPC and as a CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ponos.devnet.anvil import free_port
from ponos.pb import performer_pb2, performer_pb2_grpc
from ponos.performer import PerformerServer
from ponos.performer.hello import HelloWorker, square_payload
from ponos.performer.server import TaskError


@pytest.mark.parametrize(
    ("payload", "result"),
    [
        (b"0x04", b"0x10"),
        (b"04", b"0x10"),
        (b"0xff", b"0xfe01"),
        (b"0X0a", b"0x64"),
        (b"\x04", b"\x10"),
        (b"\x01\x00", b"\x01\x00\x00"),
        (b"0x" + b"f" * 64, b"0x" + format(int("f" * 64, 16) ** 2, "x").encode()),
    ],
)
def test_square_payload_matches_the_go_demo(payload, result):
    assert square_payload(payload) == result


def test_empty_payload_is_refused():
    with pytest.raises(TaskError):
        square_payload(b"")


async def _serve(worker=None):
    server = PerformerServer(worker or HelloWorker(delay_ms=0), port=0, host="127.0.0.1")
    port = await server.start()
    return server, f"127.0.0.1:{port}"


async def test_execute_task_echoes_task_id_and_returns_square():
    server, target = await _serve()
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = performer_pb2_grpc.PerformerServiceStub(channel)
            reply = await stub.ExecuteTask(
                performer_pb2.TaskRequest(task_id=b"0x" + b"ab" * 32, payload=b"0x04")
            )
            assert reply.task_id == b"0x" + b"ab" * 32
            assert reply.result == b"0x10"
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.ExecuteTask(performer_pb2.TaskRequest(task_id=b"t", payload=b""))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "task is invalid" in info.value.details()
    finally:
        await server.stop(0)


async def test_both_health_protocols_answer():
    server, target = await _serve()
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            legacy = await performer_pb2_grpc.PerformerServiceStub(channel).HealthCheck(
                performer_pb2.HealthCheckRequest()
            )
            assert legacy.status == performer_pb2.READY_FOR_TASK
            standard = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="")
            )
            assert standard.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop(0)


async def test_a_task_delay_holds_tasks_but_not_health_checks():
    server, target = await _serve(HelloWorker(delay_ms=600_000))
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = performer_pb2_grpc.PerformerServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.ExecuteTask(
                    performer_pb2.TaskRequest(task_id=b"t", payload=b"0x02"), timeout=1
                )
            assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await server.stop(0)


def test_task_delay_comes_from_task_delay_ms(monkeypatch):
    monkeypatch.setenv("TASK_DELAY_MS", "300")
    assert HelloWorker().delay == 0.3
    monkeypatch.setenv("TASK_DELAY_MS", "")
    assert HelloWorker().delay == 0
    monkeypatch.setenv("TASK_DELAY_MS", "soon")
    with pytest.raises(ValueError, match="TASK_DELAY_MS"):
        HelloWorker()


def test_cli_serves_on_performer_port_and_stops_on_sigterm():
    port = free_port()
    env = {**os.environ, "PERFORMER_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ponos", "performer", "hello"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=20)
        stub = performer_pb2_grpc.PerformerServiceStub(channel)
        reply = stub.ExecuteTask(performer_pb2.TaskRequest(task_id=b"x", payload=b"0x03"))
        assert reply.result == b"0x09"
        channel.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "Performer listening" in output


def test_cli_rejects_a_bad_port_variable_cleanly():
    env = {**os.environ, "PERFORMER_PORT": "eighty"}
    result = subprocess.run(
        [sys.executable, "-m", "ponos", "performer", "hello"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "PERFORMER_PORT" in result.stderr and "Traceback" not in result.stderr


def test_cli_reports_a_busy_port_in_one_line():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "ponos", "performer", "hello", "--host", "127.0.0.1"],
            env={**os.environ, "PERFORMER_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
