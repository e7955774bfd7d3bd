"""Records to messages: an event converted again is the same message, for the very same
record only."""

from __future__ import annotations

import dataclasses

from quadro.v1 import event_pb2
from quadro_server.api import convert
from quadro_server.core.records import EventRecord


def record(sequence: int, etag: str = "2") -> EventRecord:
    return EventRecord(
        board_id="b", sequence=sequence, task_id="t1", task_type="noop",
        type="task_assigned", agent="w", from_status="UNASSIGNED", to_status="IN_PROGRESS",
        payload={"profile": "fast"}, request_id="r", principal="p", create_time=1_000_001,
        attempt=1, scope="", etag=etag,
    )  # fmt: skip


def test_an_event_is_converted_once_for_its_answer_and_its_streams() -> None:
    written = record(7)
    first = convert.event(written)
    assert first.sequence == 7
    assert first.task == "boards/b/tasks/t1"
    assert first.type == event_pb2.EVENT_TYPE_TASK_ASSIGNED
    assert dict(first.payload) == {"profile": "fast"}
    assert first.create_time.ToMicroseconds() == 1_000_001
    assert convert.event(written) is first
    # Its bytes for the streams are the message's.
    entry = convert.event_entry(written)
    assert entry.endswith(first.SerializeToString())


def test_another_record_of_the_same_event_is_converted_afresh() -> None:
    # An answer stored before the log kept etags is a record of the same event with
    # another etag: it never takes the place of the record the log holds.
    logged = record(8)
    message = convert.event(logged)
    stored = dataclasses.replace(logged, etag="")
    assert convert.event(stored).etag == ""
    assert convert.event(stored) is not message
    assert convert.event(logged).etag == "2"


def test_the_events_kept_are_bounded() -> None:
    records = [record(100 + i) for i in range(convert._EVENTS_KEPT + 10)]
    messages = [convert.event(r) for r in records]
    assert len(convert._events) == convert._EVENTS_KEPT
    # The oldest were let go (converted afresh, equal), the newest are kept.
    assert convert.event(records[0]) is not messages[0]
    assert convert.event(records[0]) == messages[0]
    assert convert.event(records[-1]) is messages[-1]


def test_payloads_alike_share_one_struct_and_a_type_is_part_of_the_value() -> None:
    posted = dataclasses.replace(record(200), payload={"profile": "fast", "priority": 1})
    flagged = dataclasses.replace(record(201), payload={"profile": "fast", "priority": True})
    assert convert.event(posted).payload.fields["priority"].number_value == 1
    assert convert.event(flagged).payload.fields["priority"].bool_value is True
    # A message's payload is its own copy: changing one leaves the next alike intact.
    convert.event(posted).payload.fields["profile"].string_value = "changed"
    again = dataclasses.replace(record(202), payload={"profile": "fast", "priority": 1})
    assert dict(convert.event(again).payload) == {"profile": "fast", "priority": 1}


def test_the_payloads_kept_are_bounded() -> None:
    for i in range(convert._PAYLOADS_KEPT + 10):
        convert.event(dataclasses.replace(record(300 + i), payload={"note": f"n{i}"}))
    assert len(convert._payloads) <= convert._PAYLOADS_KEPT
