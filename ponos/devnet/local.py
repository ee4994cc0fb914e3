"""A throw-away devnet in this process: anvil + deployed contracts + operator keys.

Used by the test fixtures and the benchmarks. `local_devnet()` stops anvil on exit, also when
the body raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ponos.devnet.anvil import Anvil
from ponos.devnet.client import DevnetClient
from ponos.devnet.deploy import DevnetDeployment, deploy_devnet


@dataclass
class LocalDevnet:
    anvil: Anvil
    deployment: DevnetDeployment
    client: DevnetClient

    @property
    def rpc_url(self) -> str:
        return self.anvil.url

    def snapshot(self) -> str:
        return str(self.anvil.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        if self.anvil.rpc("evm_revert", [snapshot_id]) is not True:
            raise RuntimeError(f"evm_revert({snapshot_id}) failed")


@contextmanager
def local_devnet(**deploy_args: Any) -> Iterator[LocalDevnet]:
    """Start anvil on a free loopback port and deploy (arguments as `deploy_devnet`)."""
    node = Anvil().start()
    try:
        deployment = deploy_devnet(node.url, **deploy_args)
        yield LocalDevnet(node, deployment, DevnetClient(deployment))
    finally:
        node.stop()
