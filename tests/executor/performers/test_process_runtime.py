"""Process performers: started with their port in the environment, found again by pid after
an executor restart, never confused with a recycled pid, stopped with their process group."""

from __future__ import annotations

import os
import signal

import pytest

from ponos.executor.performers.client import PerformerClient
from ponos.executor.performers.errors import DeploymentFailed
from ponos.executor.performers.process import ProcessRuntime, _proc_start_time
from tests.executor.performers.conftest import LEGACY, hello_spec


async def _healthy(client: PerformerClient, attempts: int = 200) -> bool:
    import asyncio

    for _ in range(attempts):
        if await client.check_health(timeout=0.5):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_started_process_serves_tasks_and_stops(context):
    runtime = ProcessRuntime(hello_spec(), "performer-test-1", context)
    await runtime.start()
    client = PerformerClient(runtime.endpoint)
    try:
        assert await _healthy(client)
        assert await runtime.is_alive()
        echoed, result = await client.execute("0x01", b"0x05", timeout=5)
        assert (echoed, result) == (b"0x01", b"0x19")
    finally:
        await client.close()
        await runtime.stop()
    assert not await runtime.is_alive()
    assert runtime.log_path.exists()


async def test_environment_has_port_and_config_env_but_not_executor_secrets(context, tmp_path):
    import asyncio
    import json
    import sys

    from ponos.executor.performers.spec import EnvVar, PerformerSpec

    context.environ = {
        "PATH": os.environ["PATH"],
        "PONOS_OPS__ADMIN_TOKEN": "s3cret",
        "MY_LEVEL": "7",
    }
    out = tmp_path / "env.json"
    script = f"import json, os; open({str(out)!r}, 'w').write(json.dumps(dict(os.environ)))"
    spec = PerformerSpec(
        avs_address="0x" + "a1" * 20,
        runtime="process",
        command=(sys.executable, "-c", script),
        env=(EnvVar("LEVEL", value_from_env="MY_LEVEL"), EnvVar("MODE", "prod")),
    )
    runtime = ProcessRuntime(spec, "performer-env", context)
    await runtime.start()
    port = runtime.endpoint.rsplit(":", 1)[1]
    for _ in range(100):
        if out.exists() and out.read_text():
            break
        await asyncio.sleep(0.05)
    await runtime.stop()
    env = json.loads(out.read_text())
    assert (env["LEVEL"], env["MODE"]) == ("7", "prod")
    assert env["PERFORMER_PORT"] == env["PORT"] == port
    assert env["AVS_ADDRESS"] == spec.avs_address
    assert "PONOS_OPS__ADMIN_TOKEN" not in env


async def test_a_new_runtime_adopts_the_running_process(context):
    first = ProcessRuntime(hello_spec(), "performer-adopt", context)
    await first.start()
    try:
        second = ProcessRuntime(hello_spec(), "performer-adopt", context)
        assert await second.adopt(first.resource_id, first.endpoint)
        assert await second.is_alive()
        client = PerformerClient(second.endpoint)
        assert await _healthy(client)
        await client.close()
        # A wrong start time (a recycled pid) or another command line is never adopted.
        pid = first.resource_id.split(":")[0]
        assert not await ProcessRuntime(hello_spec(), "x", context).adopt(
            f"{pid}:1", first.endpoint
        )
        other = ProcessRuntime(hello_spec(command=LEGACY), "x", context)
        assert not await other.adopt(first.resource_id, first.endpoint)
        assert not await other.adopt("not-a-pid", first.endpoint)
        await second.stop()
        assert not await first.is_alive()
    finally:
        await first.stop()


async def test_stop_kills_the_whole_process_group(context, tmp_path):
    import asyncio
    import sys

    pidfile = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time;"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    runtime = ProcessRuntime(hello_spec(command=(sys.executable, "-c", script)), "p-group", context)
    await runtime.start()
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text():
            break
        await asyncio.sleep(0.05)
    grandchild = int(pidfile.read_text())
    await runtime.stop(timeout=5)
    for _ in range(100):
        if _proc_start_time(grandchild) is None:
            break
        await asyncio.sleep(0.05)
    assert _proc_start_time(grandchild) is None


async def test_missing_command_is_a_clear_deployment_error(context):
    runtime = ProcessRuntime(hello_spec(command=("/nonexistent/performer",)), "p-missing", context)
    with pytest.raises(DeploymentFailed, match="not found or not executable"):
        await runtime.start()


async def test_sigkilled_performer_is_seen_as_dead(context):
    runtime = ProcessRuntime(hello_spec(), "p-kill", context)
    await runtime.start()
    os.kill(int(runtime.resource_id.split(":")[0]), signal.SIGKILL)
    import asyncio

    for _ in range(100):
        if not await runtime.is_alive():
            break
        await asyncio.sleep(0.05)
    assert not await runtime.is_alive()
    assert "exited with code -9" in runtime.describe_failure()
    await runtime.stop()
