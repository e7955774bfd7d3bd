"""Records to protobuf messages. The only place that knows both shapes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from google.protobuf import json_format, struct_pb2, timestamp_pb2
from google.rpc import code_pb2

from quadro.v1 import agent_pb2, board_pb2, chief_pb2, data_pb2, event_pb2, task_pb2
from quadro_server.core import names
from quadro_server.core.chiefs import ChiefRecord, CycleRecord
from quadro_server.core.errors import QuadroError
from quadro_server.core.records import (
    AgentRecord,
    AgentStatus,
    BoardRecord,
    DataRecord,
    EventRecord,
    TaskRecord,
    agent_status,
)
from quadro_server.core.taxonomy import EventType

EVENT_TYPE_TO_PROTO: dict[str, int] = {
    t.value: event_pb2.EventType.Value("EVENT_TYPE_" + t.name) for t in EventType
}
EVENT_TYPE_FROM_PROTO: dict[int, str] = {v: k for k, v in EVENT_TYPE_TO_PROTO.items()}
_AGENT_STATUS = {
    AgentStatus.IDLE: agent_pb2.AGENT_STATUS_IDLE,
    AgentStatus.BUSY: agent_pb2.AGENT_STATUS_BUSY,
    AgentStatus.OFFLINE: agent_pb2.AGENT_STATUS_OFFLINE,
}
CHIEF_STATE_FROM_PROTO: dict[int, str] = {
    chief_pb2.CHIEF_STATE_SLEEPING: "SLEEPING",
    chief_pb2.CHIEF_STATE_THINKING: "THINKING",
    chief_pb2.CHIEF_STATE_ACTING: "ACTING",
}
CYCLE_TRIGGER_FROM_PROTO: dict[int, str] = {
    chief_pb2.CYCLE_TRIGGER_SEED: "SEED",
    chief_pb2.CYCLE_TRIGGER_EVENT: "EVENT",
    chief_pb2.CYCLE_TRIGGER_STALE: "STALE",
    chief_pb2.CYCLE_TRIGGER_SCHEDULE: "SCHEDULE",
}
_CHIEF_STATE = {name: number for number, name in CHIEF_STATE_FROM_PROTO.items()}
_CYCLE_TRIGGER = {name: number for number, name in CYCLE_TRIGGER_FROM_PROTO.items()}


def timestamp(us: int | None) -> timestamp_pb2.Timestamp | None:
    if us is None:
        return None
    return timestamp_pb2.Timestamp(seconds=us // 1_000_000, nanos=(us % 1_000_000) * 1000)


def board(record: BoardRecord) -> board_pb2.Board:
    lifecycles = record.lifecycles()
    message = board_pb2.Board(
        name=record.name,
        display_name=record.display_name,
        task_types=[
            board_pb2.TaskTypeRule(pattern=p, profile=f) for p, f in record.task_type_rules
        ],
        default_profile=record.default_profile,
        head_sequence=record.head_sequence,
        create_time=timestamp(record.create_time),
        scope=record.scope,
    )
    for name, lifecycle in lifecycles.profiles.items():
        message.profiles[name].CopyFrom(
            board_pb2.LifecycleProfile(
                transitions=[
                    board_pb2.Transition(from_status=f, to_status=t) for f, t in lifecycle.declared
                ],
                statuses=sorted(lifecycle.statuses),
                terminal_statuses=sorted(lifecycle.terminals),
                built_in=lifecycle.built_in,
            )
        )
    return message


def task(record: TaskRecord) -> task_pb2.Task:
    return task_pb2.Task(
        name=record.name,
        task_type=record.task_type,
        label=record.label,
        priority=record.priority,
        status=record.status,
        assigned_to=record.assigned_to,
        output=record.output,
        notes=record.notes,
        labels=record.labels,
        profile=record.profile,
        context_snapshot_hash=record.context_snapshot_hash,
        attempt=record.attempt,
        etag=record.etag,
        archived=record.archived,
        heartbeat_time=timestamp(record.heartbeat_time),
        create_time=timestamp(record.create_time),
        update_time=timestamp(record.update_time),
        archive_time=timestamp(record.archive_time),
        scope=record.scope,
        parent_task=record.parent_task,
        origin_task=record.origin_task,
        successor_task=record.successor_task,
    )


# An event is converted twice in the usual case: for the answer of the call that wrote
# it, and for the streams (its bytes, once for all subscribers). The last events
# converted are kept, each with its record, so that converting the very same record
# again is a lookup; any other record, even of the same event, is converted afresh.
_EVENTS_KEPT = 4096
_events: OrderedDict[tuple[str, int], tuple[EventRecord, event_pb2.Event]] = OrderedDict()


def event(record: EventRecord) -> event_pb2.Event:
    """The event as a message, shared by the callers that convert the same record:
    they copy it (into an answer, or as bytes), never change it."""
    key = (record.board_id, record.sequence)
    kept = _events.get(key)
    if kept is not None and kept[0] is record:
        return kept[1]
    message = _event(record)
    _events[key] = (record, message)
    if len(_events) > _EVENTS_KEPT:
        _events.popitem(last=False)
    return message


# Payloads repeat (a task's profile and priority): each distinct one is built as a Struct
# once, a third of the cost of building it (Struct.update is Python), and copied into
# its events. Bounded: the kept ones are dropped all at once when there are too many.
_PAYLOADS_KEPT = 1024
_payloads: dict[tuple[tuple[str, type, str | int], ...], struct_pb2.Struct] = {}


def _payload(values: Mapping[str, str | int]) -> struct_pb2.Struct:
    # The type too: True and 1 are equal keys, but not the same value in a Struct.
    key = tuple((name, type(value), value) for name, value in values.items())
    found = _payloads.get(key)
    if found is None:
        if len(_payloads) >= _PAYLOADS_KEPT:
            _payloads.clear()
        found = _payloads[key] = struct_pb2.Struct()
        found.update(dict(values))
    return found


def _event(record: EventRecord) -> event_pb2.Event:
    payload = _payload(record.payload)
    return event_pb2.Event(
        sequence=record.sequence,
        board=names.board_name(record.board_id),
        task=names.task_name(record.board_id, record.task_id),
        task_type=record.task_type,
        type=EVENT_TYPE_TO_PROTO[record.type],  # type: ignore[arg-type]
        agent=record.agent,
        from_status=record.from_status,
        to_status=record.to_status,
        payload=payload,
        request_id=record.request_id,
        principal=record.principal,
        create_time=timestamp(record.create_time),
        attempt=record.attempt,
        scope=record.scope,
        etag=record.etag,
    )


def agent(record: AgentRecord, now: int, offline_after_us: int) -> agent_pb2.Agent:
    return agent_pb2.Agent(
        name=record.name,
        display_name=record.display_name,
        capabilities=record.capabilities,
        review_capabilities=record.review_capabilities,
        version=record.version,
        concurrency=record.concurrency,
        status=_AGENT_STATUS[agent_status(record, now, offline_after_us)],
        active_tasks=record.active_tasks,
        register_time=timestamp(record.register_time),
        last_seen_time=timestamp(record.last_seen_time),
        scope=record.scope,
        stale_time=timestamp(record.stale_time or None),
    )


def data_entry(record: DataRecord) -> data_pb2.DataEntry:
    value = struct_pb2.Value()
    json_format.Parse(record.value_json, value)
    return data_pb2.DataEntry(
        name=record.name, value=value, update_time=timestamp(record.update_time)
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


# Field 1 of SubscribeEventsResponse (`repeated Event events`), wire type 2 (length-
# delimited). Repeated fields concatenate, so a message is its encoded events followed by
# its positions: each event is encoded once, however many subscribers send it.
_EVENTS_FIELD_TAG = bytes([(1 << 3) | 2])


def lineage_hop(record: TaskRecord, depth: int) -> task_pb2.LineageHop:
    return task_pb2.LineageHop(
        name=record.name,
        board=names.board_name(record.board_id),
        task_type=record.task_type,
        status=record.status,
        parent_task=record.parent_task,
        depth=depth,
        create_time=timestamp(record.create_time),
        update_time=timestamp(record.update_time),
        archived=record.archived,
    )


def _entry(tag: bytes, body: bytes) -> bytes:
    """One length-delimited entry of a repeated message field: its tag, length, bytes."""
    return tag + _varint(len(body)) + body


def event_entry(record: EventRecord) -> bytes:
    """The event as one entry of SubscribeEventsResponse.events, ready to concatenate."""
    return _entry(_EVENTS_FIELD_TAG, event(record).SerializeToString())


# Field 3 of WatchAssignmentsResponse (`repeated Task tasks`), wire type 2: a message of
# an assignment stream is a subscription message followed by the tasks it names.
_TASKS_FIELD_TAG = bytes([(3 << 3) | 2])


def assigned_task_entry(record: TaskRecord) -> bytes:
    """The task as one entry of WatchAssignmentsResponse.tasks, ready to concatenate."""
    return _entry(_TASKS_FIELD_TAG, task(record).SerializeToString())


def subscription_message(entries: list[bytes], positions: dict[str, int]) -> bytes:
    """A SubscribeEventsResponse from pre-encoded events and positions by board id."""
    tail = event_pb2.SubscribeEventsResponse(
        positions={names.board_name(board): seq for board, seq in positions.items()}
    ).SerializeToString()
    return b"".join(entries) + tail


def chief(record: ChiefRecord) -> chief_pb2.Chief:
    return chief_pb2.Chief(
        name=record.name,
        display_name=record.display_name,
        task_types=record.task_types,
        boards=[names.board_name(b) for b in record.boards],
        cadence=record.cadence,
        version=record.version,
        state=_CHIEF_STATE[record.state],  # type: ignore[arg-type]
        state_time=timestamp(record.state_time),
        cycles=record.cycles,
        last_cycle_time=timestamp(record.last_cycle_time or None),
        register_time=timestamp(record.register_time),
        scope=record.scope,
    )


def chief_cycle(record: CycleRecord) -> chief_pb2.ChiefCycle:
    cycle = chief_pb2.ChiefCycle(
        chief=names.chief_name(record.board_id, record.chief_id),
        number=record.number,
        trigger=_CYCLE_TRIGGER[record.trigger],  # type: ignore[arg-type]
        start_time=timestamp(record.start_time),
        actions=record.actions,
        lost_races=record.lost_races,
        errors=record.errors,
        in_flight=record.in_flight,
        waiting=record.waiting,
        noop=record.noop,
    )
    cycle.duration.FromMicroseconds(record.duration_us)
    return cycle


def item_error(error: QuadroError) -> task_pb2.ItemError:
    """A batch item's failure, as the single call would have reported it."""
    return task_pb2.ItemError(
        code=code_pb2.Code.Value(error.code.value),
        message=error.message,
        reason=error.reason,
        metadata=error.metadata,
        field_violations=[
            task_pb2.ItemFieldViolation(field=v.field, description=v.description)
            for v in error.violations
        ],
    )
