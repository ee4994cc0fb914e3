"""The anvil wrapper starts a real node on loopback and stops it."""

from __future__ import annotations

from ponos.devnet.anvil import Anvil


def test_anvil_answers_json_rpc_and_mines(anvil):
    assert int(anvil.rpc("eth_chainId"), 16) == 31337
    before = int(anvil.rpc("eth_blockNumber"), 16)
    anvil.rpc("anvil_mine", ["0x3"])
    assert int(anvil.rpc("eth_blockNumber"), 16) == before + 3


def test_stop_frees_the_process():
    node = Anvil().start()
    process = node.process
    node.stop()
    assert process.poll() is not None
