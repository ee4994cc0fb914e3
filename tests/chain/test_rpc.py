"""The JSON-RPC layer against a real anvil, with faults injected by a proxy in front of it."""

from __future__ import annotations

import asyncio

import pytest

from ponos.chain.rpc import (
    JsonRpcClient,
    RangeTooLarge,
    RetryPolicy,
    RpcBadResponse,
    RpcCallError,
    RpcUnavailable,
    classify,
)
from tests.support.rpc_proxy import Fault, RpcFaultProxy

FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)


@pytest.fixture
async def proxy(anvil):
    proxy = await RpcFaultProxy(anvil.url).start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def client(proxy):
    client = JsonRpcClient(proxy.url, timeout=2, retry=FAST)
    yield client
    await client.close()


async def test_reads_head_and_headers(anvil, client):
    anvil.rpc("anvil_mine", ["0x5"])
    assert await client.block_number() == 5
    headers = await client.headers([1, 2, 3])
    assert [h.number for h in headers.values()] == [1, 2, 3]
    assert headers[2].parent_hash == headers[1].hash
    assert await client.header(99) is None  # a block the node does not have yet


async def test_transient_faults_are_retried(proxy, client):
    proxy.add(Fault("eth_blockNumber", "http_429", times=2))
    proxy.add(Fault("eth_chainId", "rpc_error", times=1, message="header not found"))
    assert await client.block_number() == 0
    assert await client.chain_id() == 31337
    assert proxy.injected["eth_blockNumber:http_429"] == 2
    assert client.stats.errors["eth_blockNumber"] == 2
    assert client.stats.requests["eth_blockNumber"] == 3


async def test_retries_give_up_with_rpc_unavailable(proxy, client):
    proxy.add(Fault("eth_blockNumber", "http_500"))
    with pytest.raises(RpcUnavailable, match="HTTP 500"):
        await client.block_number()
    assert proxy.calls["eth_blockNumber"] == FAST.attempts


async def test_range_errors_are_not_retried(proxy, client):
    proxy.add(Fault("eth_getLogs", "range_limit", max_range=10))
    assert await client.logs("0x" + "00" * 20, [], 0, 5) == []
    with pytest.raises(RangeTooLarge):
        await client.logs("0x" + "00" * 20, [], 0, 50)
    assert proxy.calls["eth_getLogs"] == 2


async def test_unreachable_node_is_rpc_unavailable():
    client = JsonRpcClient("http://127.0.0.1:1", timeout=1, retry=FAST)
    with pytest.raises(RpcUnavailable, match="cannot reach the node"):
        await client.block_number()
    await client.close()


async def test_stall_beyond_the_timeout_is_a_timeout(proxy, client):
    proxy.add(Fault("eth_blockNumber", "stall", delay=5, times=1))
    started = asyncio.get_running_loop().time()
    assert await client.block_number() == 0  # first attempt times out at 2 s, retry answers
    assert asyncio.get_running_loop().time() - started < 4.5


def test_classification_of_provider_messages():
    assert isinstance(
        classify(
            "eth_getLogs", {"code": -32005, "message": "query returned more than 10000 results"}
        ),
        RangeTooLarge,
    )
    assert isinstance(
        classify("eth_getLogs", {"code": -32005, "message": "rate limit exceeded"}), RpcUnavailable
    )
    assert isinstance(
        classify("eth_getLogs", {"code": -32602, "message": "block range is too large"}),
        RangeTooLarge,
    )
    assert isinstance(
        classify("eth_call", {"code": 3, "message": "execution reverted"}), RpcCallError
    )
    assert isinstance(
        classify("eth_blockNumber", {"code": 429, "message": "Too Many Requests"}), RpcUnavailable
    )


async def test_a_null_head_is_a_bad_response_not_a_crash(proxy, client):
    proxy.add(Fault("eth_blockNumber", "null_result"))
    with pytest.raises(RpcBadResponse, match="expected a hex quantity"):
        await client.block_number()


async def test_a_batch_asks_again_only_for_the_calls_that_failed(anvil, proxy, client):
    anvil.rpc("anvil_mine", ["0x8"])
    proxy.add(Fault("eth_getBlockByNumber", "rpc_error", times=3, message="header not found"))
    headers = await client.headers(list(range(1, 9)))
    assert sorted(headers) == list(range(1, 9)) and all(headers.values())
    # 8 calls, 3 failed once: 11 calls in all, not 8 per attempt.
    assert proxy.calls["eth_getBlockByNumber"] == 11
    assert proxy.http_requests == 2


async def test_null_headers_below_the_head_are_asked_for_again(anvil, proxy, client):
    anvil.rpc("anvil_mine", ["0x4"])
    proxy.add(Fault("eth_getBlockByNumber", "null_result", times=2))
    assert all((await client.headers([1, 2, 3, 4], ask_again=True)).values())
    proxy.add(Fault("eth_getBlockByNumber", "null_result", times=1))
    assert None in (await client.headers([1, 2], ask_again=False)).values()


async def test_web3_calls_share_the_retrying_layer_and_keep_reverts_typed(anvil, proxy, client):
    from web3.exceptions import ContractLogicError

    w3 = client.web3()
    proxy.add(Fault("eth_blockNumber", "http_429", times=2))
    assert await w3.eth.block_number == 0
    assert client.stats.errors["eth_blockNumber"] == 2
    proxy.add(Fault("eth_call", "rpc_error", times=1, message="execution reverted"))
    with pytest.raises(ContractLogicError):  # a revert reaches web3 unchanged, not retried
        await w3.eth.call({"to": "0x" + "11" * 20, "data": "0x"})
    assert proxy.calls["eth_call"] == 1
    await w3.eth.chain_id
    await w3.eth.chain_id
    assert proxy.calls["eth_chainId"] == 1  # asked once, then cached


async def test_retries_stop_when_the_caller_is_cancelled(proxy):
    slow = JsonRpcClient(proxy.url, timeout=2, retry=RetryPolicy(attempts=50, initial=1.0))
    proxy.add(Fault("eth_blockNumber", "http_500"))
    call = asyncio.create_task(slow.block_number())
    await asyncio.sleep(0.3)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert proxy.calls["eth_blockNumber"] <= 2
    await slow.close()
