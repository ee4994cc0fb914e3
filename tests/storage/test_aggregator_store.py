"""AggregatorStore conformance (both backends): cursors, blocks, atomic ranges and
rollbacks, validated task transitions with their index and counters."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from ponos.storage.aggregator_store import AggregatorStore
from ponos.storage.errors import InvalidRecord, InvalidTransition, RecordExists, RecordNotFound
from ponos.storage.status import TaskStatus
from tests.storage.factories import AVS_A, AVS_B, block, task, task_id


@pytest.fixture
def store(make_engine) -> AggregatorStore:
    return AggregatorStore(make_engine("aggregator"))


async def test_cursor_is_missing_until_set_and_independent_per_chain(store):
    assert store.get_cursor(1) is None
    await store.commit_range(1, cursor=12345, blocks=[], tasks=[])
    await store.commit_range(2, cursor=54321, blocks=[], tasks=[])
    await store.commit_range(1, cursor=12346, blocks=[], tasks=[])
    assert store.get_cursor(1) == 12346
    assert store.get_cursor(2) == 54321
    assert store.get_cursor(3) is None
    assert store.list_cursors() == {1: 12346, 2: 54321}


async def test_commit_range_saves_blocks_and_inserts_new_tasks_as_pending(store):
    inserted = await store.commit_range(
        1,
        cursor=11,
        blocks=[block(1, 10), block(1, 11)],
        tasks=[task(1, block_number=10), task(2, block_number=11, avs=AVS_B)],
    )
    assert [t.task_id for t in inserted] == [task_id(1), task_id(2)]
    assert all(t.status is TaskStatus.PENDING for t in inserted)
    stored = store.get_task(task_id(1))
    assert stored == inserted[0]
    assert stored.payload == b"\x01\x02payload"
    assert stored.created_at > 0 and stored.updated_at > 0
    assert store.get_block(1, 10) == block(1, 10)
    assert store.latest_block(1) == block(1, 11)
    assert store.list_blocks(1, 10, 11) == [block(1, 10), block(1, 11)]
    assert store.list_blocks(1, 11, 20) == [block(1, 11)]
    assert store.latest_block(2) is None
    assert store.count_by_status()[TaskStatus.PENDING] == 2


async def test_commit_range_leaves_an_existing_task_untouched(store):
    await store.commit_range(1, cursor=10, blocks=[], tasks=[task(1)])
    await store.transition(task_id(1), TaskStatus.PROCESSING)
    again = await store.commit_range(
        1, cursor=11, blocks=[], tasks=[task(1, payload=b"other"), task(2)]
    )
    assert [t.task_id for t in again] == [task_id(2)]
    kept = store.get_task(task_id(1))
    assert kept.status is TaskStatus.PROCESSING
    assert kept.payload == b"\x01\x02payload"


async def test_commit_range_with_a_duplicate_in_one_call_inserts_once(store):
    inserted = await store.commit_range(1, cursor=10, blocks=[], tasks=[task(1), task(1)])
    assert len(inserted) == 1
    assert store.count_by_status()[TaskStatus.PENDING] == 1
    assert store.verify() == []


async def test_commit_range_prunes_blocks_older_than_the_window(store):
    await store.commit_range(1, cursor=20, blocks=[block(1, n) for n in range(1, 21)], tasks=[])
    await store.commit_range(
        1, cursor=25, blocks=[block(1, n) for n in range(21, 26)], tasks=[], keep_blocks=10
    )
    numbers = [b.number for b in store.list_blocks(1, 0, 100)]
    assert numbers == list(range(15, 26))
    await store.commit_range(2, cursor=5, blocks=[block(2, 5)], tasks=[], keep_blocks=0)
    assert [b.number for b in store.list_blocks(2, 0, 10)] == [5]
    assert [b.number for b in store.list_blocks(1, 0, 100)] == list(range(15, 26))


async def test_commit_range_rejects_records_of_another_chain(store):
    with pytest.raises(InvalidRecord, match="chain_id"):
        await store.commit_range(1, cursor=5, blocks=[block(2, 5)], tasks=[])
    with pytest.raises(InvalidRecord, match="chain_id"):
        await store.commit_range(1, cursor=5, blocks=[], tasks=[task(1, chain_id=2)])
    assert store.get_cursor(1) is None


async def test_rollback_removes_orphaned_blocks_and_tasks_of_that_chain_only(store):
    await store.commit_range(
        1,
        cursor=12,
        blocks=[block(1, n) for n in (10, 11, 12)],
        tasks=[task(10, block_number=10), task(11, block_number=11), task(12, block_number=12)],
    )
    await store.commit_range(
        2, cursor=12, blocks=[block(2, 12)], tasks=[task(99, chain_id=2, block_number=12)]
    )
    await store.transition(task_id(12), TaskStatus.PROCESSING)
    await store.transition(task_id(12), TaskStatus.COMPLETED, result=b"r")

    removed = await store.rollback_to(1, 10)

    assert [t.task_id for t in removed] == [task_id(11), task_id(12)]
    assert store.get_cursor(1) == 10
    assert [b.number for b in store.list_blocks(1, 0, 100)] == [10]
    assert store.get_task(task_id(10)) is not None
    assert store.get_task(task_id(11)) is None and store.get_task(task_id(12)) is None
    assert store.get_task(task_id(99)) is not None
    assert store.get_cursor(2) == 12
    counts = store.count_by_status()
    assert counts[TaskStatus.PENDING] == 2 and counts[TaskStatus.COMPLETED] == 0
    assert store.verify() == []


async def test_transitions_follow_the_state_machine(store):
    await store.commit_range(1, cursor=10, blocks=[], tasks=[task(1)])
    processing = await store.transition(task_id(1), "processing", attempts=1)
    assert processing.status is TaskStatus.PROCESSING and processing.attempts == 1
    done = await store.transition(
        task_id(1), TaskStatus.COMPLETED, result=b"out", certificate=b"cert", tx_hash="0xabc"
    )
    assert (done.result, done.certificate, done.tx_hash) == (b"out", b"cert", "0xabc")
    assert store.get_task(task_id(1)) == done
    for target in TaskStatus:
        with pytest.raises(InvalidTransition, match=f"from completed to {target.value}"):
            await store.transition(task_id(1), target)
    assert store.get_task(task_id(1)).status is TaskStatus.COMPLETED


async def test_same_state_and_backward_transitions_are_rejected(store):
    await store.commit_range(1, cursor=10, blocks=[], tasks=[task(1)])
    with pytest.raises(InvalidTransition, match="from pending to pending"):
        await store.transition(task_id(1), TaskStatus.PENDING)
    with pytest.raises(InvalidTransition, match="from pending to completed"):
        await store.transition(task_id(1), TaskStatus.COMPLETED)
    await store.transition(task_id(1), TaskStatus.PROCESSING)
    with pytest.raises(InvalidTransition, match="from processing to pending"):
        await store.transition(task_id(1), TaskStatus.PENDING)


async def test_failure_reason_is_recorded(store):
    await store.commit_range(1, cursor=10, blocks=[], tasks=[task(1)])
    failed = await store.transition(task_id(1), TaskStatus.FAILED, reason="deadline passed")
    assert store.get_task(task_id(1)).reason == "deadline passed" == failed.reason


async def test_racing_transitions_from_the_same_state_let_exactly_one_win(store):
    await store.commit_range(1, cursor=10, blocks=[], tasks=[task(1)])
    results = await asyncio.gather(
        store.transition(task_id(1), TaskStatus.PROCESSING, attempts=1),
        store.transition(task_id(1), TaskStatus.PROCESSING, attempts=2),
        return_exceptions=True,
    )
    assert sum(isinstance(r, InvalidTransition) for r in results) == 1
    winner = next(r for r in results if not isinstance(r, Exception))
    assert store.get_task(task_id(1)) == winner
    assert sum(store.count_by_status().values()) == 1


async def test_missing_tasks_and_bad_ids_are_clear_errors(store):
    with pytest.raises(RecordNotFound, match="not found"):
        await store.transition(task_id(404), TaskStatus.PROCESSING)
    with pytest.raises(RecordNotFound):
        await store.update_task(task_id(404), attempts=2)
    with pytest.raises(RecordNotFound):
        await store.delete_task(task_id(404))
    with pytest.raises(InvalidRecord, match="64 hex"):
        store.get_task("0x1234")
    with pytest.raises(InvalidRecord, match="64 hex"):
        store.get_task(task_id(404) + "\n")  # a regex `$` would let this through
    assert store.get_task(task_id(404)) is None


async def test_update_task_changes_fields_but_never_the_status(store):
    await store.commit_range(1, cursor=10, blocks=[], tasks=[task(1)])
    updated = await store.update_task(task_id(1), attempts=3, tx_hash="0xfeed")
    assert updated.attempts == 3 and updated.status is TaskStatus.PENDING
    assert store.get_task(task_id(1)).tx_hash == "0xfeed"
    with pytest.raises(InvalidRecord, match="status"):
        await store.update_task(task_id(1), status=TaskStatus.COMPLETED)
    with pytest.raises(InvalidRecord, match="unknown task field"):
        await store.update_task(task_id(1), colour="blue")


async def test_changing_indexed_fields_moves_the_index_entries(store):
    await store.commit_range(1, cursor=10, blocks=[], tasks=[task(1, block_number=10)])
    await store.update_task(task_id(1), avs_address=AVS_B.upper().replace("0X", "0x"))
    assert [t.task_id for t in store.list_tasks(TaskStatus.PENDING, avs=AVS_B)] == [task_id(1)]
    assert store.list_tasks(TaskStatus.PENDING, avs=AVS_A) == []
    await store.transition(task_id(1), TaskStatus.PROCESSING, block_number=12)
    assert [t.task_id for t in store.list_tasks(TaskStatus.PROCESSING, avs=AVS_B)] == [task_id(1)]
    assert store.list_tasks(TaskStatus.PENDING) == []
    assert store.count_by_status()[TaskStatus.PROCESSING] == 1
    assert store.count_by_status()[TaskStatus.PENDING] == 0
    assert store.verify() == []
    removed = await store.rollback_to(1, 11)  # the block index moved to 12 with the task
    assert [t.task_id for t in removed] == [task_id(1)]
    assert store.verify() == []


async def test_list_tasks_by_status_set_avs_and_limit(store):
    tasks = [task(i, avs=AVS_A if i % 2 else AVS_B) for i in range(6)]
    await store.commit_range(1, cursor=10, blocks=[], tasks=tasks)
    await store.transition(task_id(0), TaskStatus.PROCESSING)
    await store.transition(task_id(1), TaskStatus.PROCESSING)
    await store.transition(task_id(1), TaskStatus.COMPLETED)

    pending = store.list_tasks(TaskStatus.PENDING)
    assert {t.task_id for t in pending} == {task_id(i) for i in (2, 3, 4, 5)}
    assert {t.task_id for t in store.list_tasks("pending", avs=AVS_A)} == {task_id(3), task_id(5)}
    active = store.list_tasks({TaskStatus.PENDING, TaskStatus.PROCESSING})
    assert len(active) == 5
    assert len(store.list_tasks()) == 6
    assert len(store.list_tasks(limit=2)) == 2
    assert len(store.list_tasks({"pending", "processing"}, limit=5)) == 5
    assert store.list_tasks(TaskStatus.EXPIRED) == []
    assert store.count_by_status() == {
        TaskStatus.PENDING: 4,
        TaskStatus.PROCESSING: 1,
        TaskStatus.COMPLETED: 1,
        TaskStatus.FAILED: 0,
        TaskStatus.EXPIRED: 0,
    }


async def test_addresses_and_task_ids_are_stored_lowercase(store):
    mixed = dataclasses.replace(
        task(1),
        task_id=task_id(1).upper().replace("0X", "0x"),
        avs_address=AVS_A.upper().replace("0X", "0x"),
    )
    await store.save_task(mixed)
    stored = store.get_task(task_id(1).upper().replace("0X", "0x"))
    assert stored.task_id == task_id(1) and stored.avs_address == AVS_A
    assert [t.task_id for t in store.list_tasks("pending", avs=AVS_A)] == [task_id(1)]


async def test_save_task_refuses_an_existing_id_and_non_pending_status(store):
    await store.save_task(task(1))
    with pytest.raises(RecordExists):
        await store.save_task(task(1))
    with pytest.raises(InvalidRecord, match="pending"):
        await store.save_task(dataclasses.replace(task(2), status=TaskStatus.COMPLETED))


async def test_delete_task_removes_record_and_indexes(store):
    await store.commit_range(1, cursor=10, blocks=[], tasks=[task(1), task(2)])
    removed = await store.delete_task(task_id(1))
    assert removed.task_id == task_id(1)
    assert store.get_task(task_id(1)) is None
    assert [t.task_id for t in store.list_tasks()] == [task_id(2)]
    assert store.count_by_status()[TaskStatus.PENDING] == 1
    assert store.verify() == []


async def test_concurrent_writers_and_readers(store):
    async def writer(w):
        for i in range(10):
            await store.commit_range(
                w, cursor=i, blocks=[block(w, i + 1)], tasks=[task(f"{w}-{i}", chain_id=w)]
            )

    async def reader():
        for _ in range(20):
            store.list_tasks(TaskStatus.PENDING)
            store.get_cursor(1)
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(w) for w in range(1, 6)), *(reader() for _ in range(5)))
    assert store.count_by_status()[TaskStatus.PENDING] == 50
    assert len(store.list_tasks(TaskStatus.PENDING)) == 50
    assert all(store.get_cursor(w) == 9 for w in range(1, 6))
    assert store.verify() == []


async def test_store_refuses_the_other_services_engine(make_engine):
    with pytest.raises(InvalidRecord, match="aggregator"):
        AggregatorStore(make_engine("executor"))
