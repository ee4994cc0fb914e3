"""Record codec: round trips through the orjson fast path and the standard-library fallbacks
read back exactly what was written; damaged records fail as CorruptRecord."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from ponos.storage.errors import CorruptRecord
from ponos.storage.records import PERFORMER_CODEC, TASK_CODEC, PerformerState
from ponos.storage.status import TaskStatus
from tests.storage.factories import task

KEY = b"task/x"


def full_task(**changes):
    record = dataclasses.replace(
        task(1),
        status=TaskStatus.PROCESSING,
        reason="retry",
        created_at=1_764_000_000.125,
        updated_at=1_764_000_001.5,
        result=b"\x00\xffresult",
        certificate=b"",
        tx_hash="0x" + "ab" * 32,
        attempts=3,
    )
    return dataclasses.replace(record, **changes)


def test_a_task_round_trips_and_is_the_standard_json_form():
    record = full_task()
    raw = TASK_CODEC.encode(record)
    assert TASK_CODEC.decode(KEY, raw) == record
    assert raw == json.dumps(TASK_CODEC.to_dict(record), separators=(",", ":")).encode()
    assert json.loads(raw)["payload"] == "0x" + record.payload.hex()
    assert json.loads(raw)["status"] == "processing"


def test_non_ascii_text_round_trips():
    record = full_task(reason="délai dépassé ✓")
    assert TASK_CODEC.decode(KEY, TASK_CODEC.encode(record)) == record


def test_integers_beyond_64_bits_round_trip_exactly():
    record = full_task(deadline=2**70 + 1, attempts=-(2**65))
    decoded = TASK_CODEC.decode(KEY, TASK_CODEC.encode(record))
    assert decoded.deadline == 2**70 + 1
    assert decoded.attempts == -(2**65)


def test_non_finite_floats_round_trip():
    record = full_task(created_at=math.inf, updated_at=math.nan)
    decoded = TASK_CODEC.decode(KEY, TASK_CODEC.encode(record))
    assert decoded.created_at == math.inf
    assert math.isnan(decoded.updated_at)


def test_records_written_by_the_standard_library_still_read():
    record = full_task(reason="ünïcode")
    escaped = json.dumps(TASK_CODEC.to_dict(record)).encode()  # \u escapes, spaces
    assert b"\\u00fc" in escaped
    assert TASK_CODEC.decode(KEY, escaped) == record


def test_records_with_list_fields_keep_nested_big_integers():
    state = PerformerState(
        performer_id="p1", avs_address="0x" + "aa" * 20, env=[{"name": "N", "value": 2**80}]
    )
    assert PERFORMER_CODEC.decode(b"performer/p1", PERFORMER_CODEC.encode(state)) == state


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"task_id": "0x01"}', "is missing"),
        (b"{", "not JSON"),
    ],
)
def test_damaged_records_are_corrupt_records(raw, message):
    with pytest.raises(CorruptRecord) as info:
        TASK_CODEC.decode(KEY, raw)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("chain_id", "1", "expected an integer"),
        ("chain_id", True, "expected an integer"),
        ("chain_id", 1.5, "expected an integer"),
        ("created_at", "now", "expected a number"),
        ("payload", "5a5a", "expected 0x-hex bytes"),
        ("payload", "0x5z", "non-hexadecimal"),
        ("result", 7, "expected 0x-hex bytes"),
        ("status", 1, "is not a valid TaskStatus"),
        ("status", "sleeping", "is not a valid TaskStatus"),
        ("task_id", None, "is null"),
    ],
)
def test_fields_of_the_wrong_type_name_the_field(field, value, message):
    data = TASK_CODEC.to_dict(full_task())
    data[field] = value
    with pytest.raises(CorruptRecord) as info:
        TASK_CODEC.decode(KEY, json.dumps(data).encode())
    assert repr(field) in str(info.value)
    assert message in str(info.value)


def test_an_integer_field_read_as_a_number_is_still_accepted_for_floats():
    data = TASK_CODEC.to_dict(full_task())
    data["created_at"] = 1_764_000_000
    decoded = TASK_CODEC.decode(KEY, json.dumps(data).encode())
    assert decoded.created_at == 1_764_000_000.0
    assert isinstance(decoded.created_at, float)


def test_replace_copies_a_record_with_changes_and_leaves_the_original():
    record = full_task()
    changed = TASK_CODEC.replace(record, {"status": TaskStatus.COMPLETED, "attempts": 4})
    assert changed == dataclasses.replace(record, status=TaskStatus.COMPLETED, attempts=4)
    assert record.status is TaskStatus.PROCESSING and record.attempts == 3
    with pytest.raises(TypeError, match="no field 'nope'"):
        TASK_CODEC.replace(record, {"nope": 1})
