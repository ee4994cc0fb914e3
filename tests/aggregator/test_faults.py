"""The whole aggregator behind the fault-injecting JSON-RPC proxy: every kind of RPC fault on
every method (polling, contract reads, gas estimation, sending, receipts), at rates far above
what a decent provider has. Every task is still verified exactly once, with one transaction
per task."""

from __future__ import annotations

import asyncio

import pytest

from ponos.storage.status import TaskStatus
from tests.support.cluster import (
    account,
    aggregator_settings,
    load_aggregator_config,
    running_aggregator,
    wait_until,
    write_config,
)
from tests.support.counts import report_counts
from tests.support.rpc_proxy import Fault, RpcFaultProxy

pytestmark = [pytest.mark.devnet, pytest.mark.asyncio(loop_factories=["uvloop"])]


async def test_rpc_faults_on_every_method_leave_every_task_verified_exactly_once(ecdsa, tmp_path):
    cluster = ecdsa
    proxy = await RpcFaultProxy(cluster.rpc_url, seed=11).start()
    # Each kind once for certain, on the first matching request (which requests come when is
    # up to timing, so the random faults below alone could miss a kind), then at random.
    for method, kind in (
        ("eth_getLogs", "http_429"),
        ("eth_call", "rpc_error"),
        ("eth_getBlockByNumber", "null_result"),
        ("eth_blockNumber", "null_result"),
        ("eth_call", "drop"),
        ("eth_blockNumber", "stall"),
        ("eth_sendRawTransaction", "drop_after"),
    ):
        proxy.add(Fault(method, kind, times=1, message="header not found", delay=2.0))
    proxy.add(Fault("*", "http_429", probability=0.08))
    proxy.add(Fault("*", "rpc_error", probability=0.08, message="header not found"))
    proxy.add(Fault("*", "http_500", probability=0.04))
    proxy.add(Fault("*", "drop", probability=0.04))
    proxy.add(Fault("*", "drop_after", probability=0.04))  # the node acted, we never heard
    proxy.add(Fault("*", "stall", probability=0.04, delay=2.0))  # beyond the 1 s timeout
    proxy.add(Fault("eth_sendRawTransaction", "drop_after", probability=0.3))
    proxy.add(Fault("eth_getBlockByNumber", "null_result", probability=0.08))
    proxy.add(Fault("eth_blockNumber", "null_result", probability=0.05))
    proxy.add(Fault("eth_getLogs", "range_limit", max_range=4))
    client = cluster.net.client
    sender = client.w3.to_checksum_address(cluster.deployment.aggregator.address)
    sent_before = client.w3.eth.get_transaction_count(sender)
    start = await asyncio.to_thread(cluster.head) + 1
    settings = aggregator_settings(
        cluster, tmp_path / "agg", rpc_url=proxy.url, start_block=start, rpcTimeout="1s"
    )
    config = load_aggregator_config(write_config(tmp_path / "aggregator.yaml", settings))
    ids: list[str] = []
    try:
        async with running_aggregator(config) as service:
            for batch in range(3):
                created = await asyncio.to_thread(
                    cluster.create_tasks, [bytes([batch * 4 + i + 1]) for i in range(4)]
                )
                ids += [t.task_hash for t in created]
                await asyncio.sleep(1.0)
            await wait_until(
                lambda: all(
                    (r := service.store.get_task(i)) is not None
                    and r.status == TaskStatus.COMPLETED
                    for i in ids
                ),
                120,
                what="every task completed",
            )
            stats = service.rpcs[31337].stats
    finally:
        await proxy.stop()
    counts = account(cluster, ids, start)
    sent = client.w3.eth.get_transaction_count(sender) - sent_before
    report_counts(
        counts.line("aggregator under RPC faults")
        + f" submitResult transactions={sent} faults injected={sum(proxy.injected.values())}"
        + f" rpc errors seen={sum(stats.errors.values())}"
    )
    assert (counts.verified, counts.duplicates, counts.lost) == (12, 0, 0)
    assert sent == 12
    kinds = {key.split(":")[1] for key in proxy.injected}
    assert {"http_429", "rpc_error", "drop", "drop_after", "stall", "null_result"} <= kinds
    methods = {key.split(":")[0] for key in proxy.injected}
    assert {"eth_call", "eth_getLogs", "eth_blockNumber", "eth_sendRawTransaction"} <= methods
