"""Reading a record's fields at once: copies with changes and stored answers keep every
field, in order, whatever the number of fields."""

from __future__ import annotations

import pytest

from quadro_server.core import codec, fields
from quadro_server.core.records import DataRecord, EventRecord, TaskRecord, evolve
from quadro_server.core.results import DataResult, HandOffResult, TaskResult


def entry() -> DataRecord:
    return DataRecord("b", "k", '{"x":1}', 5)


def test_a_reader_gives_every_field_in_order() -> None:
    assert fields.of(DataRecord).names == ("board_id", "key", "value_json", "update_time")
    assert fields.of(DataRecord).read(entry()) == ("b", "k", '{"x":1}', 5)
    # One field: still a tuple (attrgetter of one name would give the value itself).
    assert fields.of(DataResult).read(DataResult(entry())) == (entry(),)


def test_evolve_changes_the_named_fields_only() -> None:
    changed = evolve(entry(), value_json="2", update_time=6)
    assert changed == DataRecord("b", "k", "2", 6)
    assert entry() == DataRecord("b", "k", '{"x":1}', 5)
    with pytest.raises(TypeError, match="no field 'value'"):
        evolve(entry(), value="2")


def test_a_one_field_result_survives_its_stored_form() -> None:
    result = DataResult(entry())
    assert (
        codec.dumps(result)
        == '{"$":"DataResult","v":[{"$":"DataRecord","v":["b","k","{\\"x\\":1}",5]}]}'
    )
    assert codec.loads(codec.dumps(result)) == result


def test_stored_answers_nest_records_sequences_and_dicts() -> None:
    task = TaskRecord(
        board_id="b", task_id="t", task_type="noop", label="é ✓", priority=5,
        status="COMPLETE", profile="fast", assigned_to="w", output="ok",
        notes=("one", "two"), labels={"k": "ü"}, context_snapshot_hash="", attempt=1,
        version=3, archived=False, heartbeat_time=None, create_time=1, update_time=2,
        archive_time=None, scope="", parent_task="", origin_task="", created_sequence=1,
    )  # fmt: skip
    result = HandOffResult(task=task, successor=evolve(task, task_id="u"), event=event())
    text = codec.dumps(result)
    assert text.startswith('{"$":"HandOffResult","v":[{"$":"TaskRecord","v":["b","t",')
    assert '["one","two"],{"k":"ü"}' in text
    assert text.endswith(",null]}")  # the transition event, absent
    assert codec.loads(text) == result
    # An integer beyond 64 bits goes through the standard library, written the same.
    big = evolve(task, version=2**70)
    assert codec.loads(codec.dumps(TaskResult(big, None))).task.version == 2**70


def test_only_registered_records_are_stored() -> None:
    with pytest.raises(TypeError, match="register it"):
        codec.dumps(DataResult(object()))  # type: ignore[arg-type]


def event() -> EventRecord:
    return EventRecord(
        board_id="b", sequence=2, task_id="u", task_type="noop", type="task_posted",
        agent="", from_status="", to_status="UNASSIGNED", payload={"priority": 5},
        request_id="r", principal="p", create_time=2, attempt=0, scope="", etag="1",
    )  # fmt: skip
