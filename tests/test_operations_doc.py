"""docs/operations.md is executable: every `bash` block runs against a live devnet topology
(anvil, three executors, the aggregator, started as `make demo` does), with the document's
ports and paths mapped onto this test's own. A command that fails, or whose output does not
show what the guide says it shows, fails the test."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ponos.devnet.demo import Demo, DemoOptions
from tests.helpers import ROOT
from tests.test_demo import _free_block

DOC = ROOT / "docs" / "operations.md"
TOKEN = "doc-test-admin-token"


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def doc_commands() -> list[str]:
    return [
        line
        for block in bash_blocks(DOC.read_text())
        for line in block.splitlines()
        if line.strip()
    ]


def test_the_guide_has_commands_and_only_known_blocks():
    text = DOC.read_text()
    assert len(doc_commands()) >= 30
    fences = set(re.findall(r"^```(\w*)$", text, flags=re.M))
    assert fences <= {"bash", "compose", "yaml", ""}, fences


def test_the_guides_yaml_snippets_are_valid_config(tmp_path):
    import yaml

    from ponos.config.aggregator import AggregatorConfig

    base = yaml.safe_load((ROOT / "tests" / "support" / "minimal-aggregator.yaml").read_text())
    for snippet in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S):
        data = {**base, **yaml.safe_load(snippet)}
        AggregatorConfig.model_validate(data)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_command_of_the_operations_guide_runs(tmp_path):
    base = _free_block(12)
    work = tmp_path / "ops"
    work.mkdir()
    devnet = work / "devnet"
    options = DemoOptions(
        directory=devnet,
        tasks=2,
        hold=False,
        port=base,
        grpc_base_port=base + 1,
        ops_base_port=base + 5,
    )
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PONOS_STORAGE__ROCKSDB__GC_INTERVAL": "2s",
    }
    ports = {"8545": base, "9090": base + 1, "8080": base + 5, "8081": base + 6}
    demo = Demo(options, out=open(os.devnull, "w"))  # noqa: SIM115
    old_env = dict(os.environ)
    os.environ.update(env)  # the services inherit the token and the fast GC interval
    try:
        from ponos.devnet.manager import UpOptions, devnet_up

        devnet_up(
            UpOptions(directory=devnet, port=base, grpc_base_port=base + 1, ops_base_port=base + 5)
        )
        for i in range(3):
            demo.start_service(
                f"executor-{i}", ["executor", "run", "--config", str(devnet / f"executor-{i}.yaml")]
            )
        demo.start_service(
            "aggregator", ["aggregator", "run", "--config", str(devnet / "aggregator.yaml")]
        )
        for name, port in demo.ops_ports().items():
            demo.wait_ready(name, port)
        demo.create_and_follow_tasks()
        aggregator = dict(demo.processes)["aggregator"]
        aggregator.send_signal(signal.SIGUSR1)
        time.sleep(3)  # a GC pass (2 s interval) and the SIGUSR1 line reach the logs
        snapshot_id = None
        for command in doc_commands():
            mapped = command
            for doc_port, port in ports.items():
                mapped = re.sub(rf"\b{doc_port}\b", str(port), mapped)
            if mapped.startswith("ponos devnet up"):  # the same devnet, on this test's ports
                mapped += f" --port {base} --grpc-base-port {base + 1} --ops-base-port {base + 5}"
            if "SNAPSHOT_ID" in mapped:
                assert snapshot_id, "the guide restores a snapshot before taking one"
                mapped = mapped.replace("SNAPSHOT_ID", snapshot_id)
            result = subprocess.run(
                ["bash", "-c", mapped],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            output = result.stdout + result.stderr
            check(command, result.returncode, output)
            if "admin/snapshots?wait=true" in command:
                snapshot_id = re.search(r'"id": "([^"]+)"', output).group(1)
    finally:
        os.environ.clear()
        os.environ.update(old_env)
        demo.stop_services()
        from ponos.devnet.manager import devnet_down

        devnet_down(devnet)


def check(command: str, code: int, output: str) -> None:
    """What each kind of command must show; anything unexpected fails with the output."""
    where = f"\n$ {command}\n{output[-2000:]}"
    if "l1ChainId=0" in command:
        assert "exit code 2" in output and "l1ChainId" in output, where
        return
    assert code == 0, where
    words = shlex.split(command)
    expectations = {
        "Recovering from storage": "Recovered",
        "Loading performer states": "Loaded",
        "ListPerformers": '"status": "InService"',
        "/healthz": '"alive"',
        "/readyz": '"ready": true',
        "eigen/node/health": "200",
        "localhost:9090 list": "eigenlayer.hourglass.v1.ExecutorService",
        "Health/Check": "SERVING",
        "Processing block": "Processing block",
        "ponos_chain_": "ponos_chain_lag_blocks",
        "ponos_tasks_total": 'ponos_tasks_total{outcome="completed"}',
        "ponos_performers": 'ponos_performers{health="healthy",status="InService"}',
        "db info": "task",
        "value log GC": "value log GC",
        "admin/snapshots?wait=true": '"verified": true',
        "list-snapshots": "verified",
        "Authorization: Bearer": '"snapshots"',
        "db checkpoint": "verified",
        "db restore": "restored",
        "db verify": "ok",
        "db compact": "compact",
        "SIGUSR1 received": "SIGUSR1 received",
        "keys generate": "0x",
        "devnet up": "TaskMailbox",
        "describe": "SubmitTask",
    }
    for marker, expected in expectations.items():
        if marker in command:
            assert expected.lower() in output.lower(), (
                f"expected {expected!r} in the output:{where}"
            )
            return
    assert words[0] in ("printf", "grep", "curl", "ponos"), f"unchecked command:{where}"
