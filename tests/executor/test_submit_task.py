"""SubmitTask against a real devnet: signed results for both curves, every field checked,
the aggregator's signature verified against its key on chain, idempotent resubmission,
concurrent duplicates run once, deadlines propagated and capped, results size-limited.

The performer records each task it receives (tests/executor/recording_performer.py), so
"the performer ran once" and "the performer got this deadline" are read from the outside.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest

from ponos.crypto.ecdsa import EcdsaPrivateKey
from ponos.crypto.signer import EcdsaSigner
from tests.executor.harness import (
    RECORDING,
    SigningAggregator,
    config_data,
    load,
    rpc_error,
    running_executor,
    signer_for,
    wait_until,
)
from tests.executor.recording_performer import recorded


@pytest.fixture
def record_file(tmp_path):
    return tmp_path / "performer-record.jsonl"


def recording_config(net, tmp_path, record_file, **extra):
    return load(
        config_data(
            net, tmp_path, command=RECORDING, envs={"RECORD_FILE": str(record_file)}, **extra
        ),
        tmp_path,
    )


def ran(record_file, task_id: str) -> int:
    return sum(1 for entry in recorded(record_file) if entry["task_id"] == task_id)


async def test_a_task_created_on_chain_returns_a_result_signed_by_the_operator_ecdsa(
    devnet, tmp_path, record_file
):
    created = devnet.client.create_task(b"0x04")
    aggregator = SigningAggregator(devnet)
    async with running_executor(recording_config(devnet, tmp_path, record_file)) as (_, client):
        submission = aggregator.submission(
            b"0x04", task_id=created.task_hash, task_block_number=created.block_number
        )
        result = await client.executor.SubmitTask(submission, timeout=30)
    assert result.task_id == created.task_hash
    aggregator.check_result(result, b"0x10")
    assert ran(record_file, created.task_hash) == 1


@pytest.mark.asyncio(loop_factories=["uvloop"])
async def test_a_task_returns_a_result_signed_by_the_operator_bn254(devnet_bn254, tmp_path):
    aggregator = SigningAggregator(devnet_bn254, executor_index=1)
    config = load(config_data(devnet_bn254, tmp_path, index=1), tmp_path)
    async with running_executor(config) as (_, client):
        submission = aggregator.submission(b"0x0c")
        result = await client.executor.SubmitTask(submission, timeout=30)
    aggregator.check_result(result, b"0x90")


async def test_every_malformed_field_is_refused_with_invalid_argument_naming_it(
    devnet, tmp_path, record_file
):
    aggregator = SigningAggregator(devnet)
    other_executor = devnet.deployment.executors[1].address
    cases = {
        "task_id": {"task_id": ""},
        "task_id ": {"task_id": "0x1234"},
        "aggregator_address": {"aggregator_address": "0xnot-an-address"},
        "avs_address": {"avs_address": "0x" + "ab" * 19},
        "executor_address": {"executor_address": ""},
        "executor_address ": {"executor_address": other_executor},
        "signature": {"signature": b""},
        "reference_timestamp": {"reference_timestamp": 0},
        "task_block_number": {"task_block_number": 0},
        "version": {"version": 2},
        # Python's `$` also matches before a final newline; these must still be refused.
        "task_id  ": {"task_id": lambda s: s.task_id + "\n"},
        "avs_address ": {"avs_address": lambda s: s.avs_address + "\n"},
    }
    async with running_executor(recording_config(devnet, tmp_path, record_file)) as (_, client):
        for field, override in cases.items():
            submission = aggregator.submission()
            for name, value in override.items():
                setattr(submission, name, value(submission) if callable(value) else value)
            error = await rpc_error(client.executor.SubmitTask(submission, timeout=10))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, error.details())
            assert field.strip() in error.details(), (field, error.details())
    assert recorded(record_file) == []


async def test_avs_lookup_is_case_insensitive_and_an_unknown_avs_is_not_found(
    devnet, tmp_path, record_file
):
    aggregator = SigningAggregator(devnet)
    avs = devnet.deployment.avs
    mixed_case = "0x" + avs[2:].upper()
    async with running_executor(recording_config(devnet, tmp_path, record_file)) as (_, client):
        result = await client.executor.SubmitTask(
            aggregator.submission(b"0x03", avs_address=mixed_case), timeout=30
        )
        assert result.output == b"0x09"
        assert result.avs_address == avs  # answered lowercase, as the newer Ponos
        unknown = "0x" + "ee" * 20
        error = await rpc_error(
            client.executor.SubmitTask(aggregator.submission(avs_address=unknown), timeout=10)
        )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert unknown in error.details()


async def test_submissions_not_signed_by_the_registered_aggregator_are_rejected(
    devnet, tmp_path, record_file
):
    aggregator = SigningAggregator(devnet)
    d = devnet.deployment
    stranger = EcdsaSigner(EcdsaPrivateKey.from_hex("0x" + "42" * 32))
    not_aggregator = d.executors[2]  # a registered operator, but not in the aggregator set
    async with running_executor(recording_config(devnet, tmp_path, record_file)) as (_, client):

        async def submit(submission):
            return await rpc_error(client.executor.SubmitTask(submission, timeout=10))

        wrong_key = await submit(aggregator.submission(signer=stranger))
        tampered = await submit(aggregator.submission(b"0x05", sign_payload=b"0x04"))
        other_executor = await submit(aggregator.submission(sign_executor=d.executors[1].address))
        outsider = await submit(
            aggregator.submission(
                signer=signer_for(not_aggregator), aggregator_address=not_aggregator.address
            )
        )
    for error in (wrong_key, tampered, other_executor):
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.details()
        assert "signature" in error.details()
    assert outsider.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "aggregator operator set" in outsider.details()
    assert recorded(record_file) == []


async def test_a_resubmitted_task_gets_the_stored_answer_without_running_again(
    devnet, tmp_path, record_file
):
    aggregator = SigningAggregator(devnet)
    async with running_executor(recording_config(devnet, tmp_path, record_file)) as (
        service,
        client,
    ):
        submission = aggregator.submission(b"0x07")
        first = await client.executor.SubmitTask(submission, timeout=30)
        again = await client.executor.SubmitTask(submission, timeout=30)
        # A fresh signature from the aggregator (a restarted aggregator) gets the same answer.
        resigned = aggregator.submission(b"0x07", task_id=submission.task_id)
        third = await client.executor.SubmitTask(resigned, timeout=30)
        stored = service.store.get_processed(submission.task_id)
    assert first == again == third
    assert first.output == b"0x31"
    assert ran(record_file, submission.task_id) == 1
    assert stored is not None and stored.signature == first.signature
    assert stored.expires_at > stored.processed_at + devnet.deployment.task_sla


async def test_concurrent_duplicates_run_once_and_all_get_the_same_answer(
    devnet, tmp_path, record_file
):
    aggregator = SigningAggregator(devnet)
    async with running_executor(recording_config(devnet, tmp_path, record_file)) as (_, client):
        submission = aggregator.submission(b"wait 500 0x02")
        results = await asyncio.gather(
            *(client.executor.SubmitTask(submission, timeout=30) for _ in range(6))
        )
    assert {r.SerializeToString() for r in results} == {results[0].SerializeToString()}
    assert results[0].output == b"0x04"
    assert ran(record_file, submission.task_id) == 1


async def test_deadlines_propagate_to_the_performer_capped_by_max_timeout(
    devnet, tmp_path, record_file
):
    aggregator = SigningAggregator(devnet)
    config = recording_config(devnet, tmp_path, record_file, tasks={"maxTimeout": "2s"})
    async with running_executor(config) as (service, client):
        quick = aggregator.submission(b"0x02")
        await client.executor.SubmitTask(quick, timeout=30)
        no_deadline = aggregator.submission(b"0x02")
        await client.executor.SubmitTask(no_deadline)
        short = aggregator.submission(b"wait 3000 0x02")
        expired = await rpc_error(client.executor.SubmitTask(short, timeout=0.8))
        too_slow = aggregator.submission(b"wait 3000 0x02")
        capped = await rpc_error(client.executor.SubmitTask(too_slow))

        # Neither failed task leaves an in-flight or a processed record behind.
        def leftovers() -> list:
            return [
                (service.store.get_inflight(t.task_id), service.store.get_processed(t.task_id))
                for t in (short, too_slow)
            ]

        await wait_until(lambda: leftovers() == [(None, None), (None, None)], timeout=10)
    remaining = {e["task_id"]: e["remaining"] for e in recorded(record_file)}
    # gRPC carries a deadline as a rounded timeout header: allow for its resolution.
    resolution = 0.05
    assert 0 < remaining[quick.task_id] <= 2.0 + resolution  # 30 s capped by maxTimeout
    assert 0 < remaining[no_deadline.task_id] <= 2.0 + resolution  # none: maxTimeout applies
    assert 0 < remaining[short.task_id] <= 0.8 + resolution  # the caller's deadline arrived
    assert expired.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert capped.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "did not answer within 2.0s" in capped.details()


async def test_a_result_over_the_size_limit_is_refused_and_not_stored(
    devnet, tmp_path, record_file
):
    aggregator = SigningAggregator(devnet)
    config = recording_config(devnet, tmp_path, record_file, tasks={"maxResultBytes": 100})
    async with running_executor(config) as (service, client):
        big = aggregator.submission(b"0x" + b"f" * 64)  # the square has 130 bytes of hex text
        error = await rpc_error(client.executor.SubmitTask(big, timeout=30))
        small = await client.executor.SubmitTask(aggregator.submission(b"0x0f"), timeout=30)
        stored = service.store.get_processed(big.task_id)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "130 bytes" in error.details() and "maxResultBytes" in error.details()
    assert stored is None
    assert small.output == b"0xe1"
