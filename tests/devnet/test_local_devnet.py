"""The fixture's building block: a local devnet is torn down even when the body fails."""

from __future__ import annotations

import pytest

from ponos.devnet.local import local_devnet


def test_local_devnet_stops_anvil_when_the_body_raises():
    with pytest.raises(RuntimeError, match="boom"), local_devnet(operators=1) as net:
        process = net.anvil.process
        assert net.client.w3.eth.block_number > 0
        raise RuntimeError("boom")
    assert process is not None and process.poll() is not None


def test_same_parameters_give_the_same_deployment():
    with local_devnet(operators=2) as first:
        a = first.deployment.to_json()
    with local_devnet(operators=2) as second:
        b = second.deployment.to_json()
    for data in (a, b):
        data.pop("rpc_url")
        data.pop("reference_timestamp")
    assert a == b
