"""Fixtures of the crypto tests: one anvil node with the Solidity probe deployed, shared by
the modules that check Python against the EVM (compiling takes a few seconds)."""

from __future__ import annotations

import pytest

from ponos.devnet.anvil import Anvil
from tests.crypto.evm import Probe


@pytest.fixture(scope="session")
def evm_node():
    node = Anvil().start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def probe(evm_node) -> Probe:
    return Probe(evm_node)
