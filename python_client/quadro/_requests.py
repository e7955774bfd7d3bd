"""Request construction shared by the async and sync clients (pure, no I/O)."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2

from quadro import limits
from quadro.v1 import board_pb2, event_pb2, task_pb2

EventTypeLike = str | int


class _RequestIds:
    """Fresh request ids: 96 random bits drawn once per process (again in a forked
    child, which would otherwise repeat its parent's), then a counter. As unique as a
    uuid4 for as long as the server keeps request ids, and a tenth of the cost of one
    (which reads the system's random source every time): a busy worker or Chief makes
    one per task."""

    def __init__(self) -> None:
        self._start()
        os.register_at_fork(after_in_child=self._start)

    def _start(self) -> None:
        self._prefix = secrets.token_hex(12)
        self._count = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._count):x}"


new_request_id = _RequestIds()


def request_id(given: str | None) -> str:
    """The caller's request id, or a fresh one. Fixed once per call, so that the client's
    own retries of that call are deduplicated by the server."""
    return given if given else new_request_id()


def board_spec(
    display_name: str,
    profiles: Mapping[str, Iterable[tuple[str, str]]] | None,
    task_types: Iterable[tuple[str, str]] | Mapping[str, str],
    default_profile: str,
) -> board_pb2.Board:
    board = board_pb2.Board(display_name=display_name, default_profile=default_profile)
    for name, pairs in (profiles or {}).items():
        board.profiles[name].transitions.extend(
            board_pb2.Transition(from_status=f, to_status=t) for f, t in pairs
        )
    rules = task_types.items() if isinstance(task_types, Mapping) else task_types
    board.task_types.extend(board_pb2.TaskTypeRule(pattern=p, profile=f) for p, f in rules)
    return board


def event_type(value: EventTypeLike) -> int:
    """An EventType from `"task_posted"`, `"TASK_POSTED"`, `"EVENT_TYPE_TASK_POSTED"` or
    the enum number."""
    if isinstance(value, int):
        return value
    name = value.upper()
    if not name.startswith("EVENT_TYPE_"):
        name = "EVENT_TYPE_" + name
    try:
        return int(event_pb2.EventType.Value(name))
    except ValueError:
        known = ", ".join(
            n.removeprefix("EVENT_TYPE_").lower() for n in event_pb2.EventType.keys()[1:]
        )
        raise ValueError(f"unknown event type {value!r}; known: {known}") from None


def event_type_name(value: int) -> str:
    """`task_posted` for EVENT_TYPE_TASK_POSTED."""
    return event_pb2.EventType.Name(value).removeprefix("EVENT_TYPE_").lower()  # type: ignore[arg-type]


def event_filter(
    task: str,
    agent: str,
    event_types: Iterable[EventTypeLike],
    task_types: Iterable[str],
    statuses: Iterable[str],
) -> event_pb2.EventFilter:
    return event_pb2.EventFilter(
        task=task,
        agent=agent,
        event_types=[event_type(t) for t in event_types],  # type: ignore[misc]
        task_types=list(task_types),
        statuses=list(statuses),
    )


def to_value(value: Any) -> struct_pb2.Value:
    """Any JSON-able Python value as a protobuf Value."""
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return message


def from_value(value: struct_pb2.Value) -> Any:
    """A protobuf Value as plain Python (dict, list, str, int, float, bool, None). JSON
    numbers travel as doubles; whole numbers come back as int."""
    return _whole_numbers(json_format.MessageToDict(value))


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    return value


CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_receive_message_length", limits.MESSAGE_MAX_BYTES),
    ("grpc.max_send_message_length", limits.MESSAGE_MAX_BYTES),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]


def new_task(
    task_type: str,
    label: str,
    priority: int | None,
    notes: Iterable[str],
    labels: Mapping[str, str] | None,
) -> task_pb2.Task:
    """What a new task is, as PostTask and HandOffTask take it."""
    task = task_pb2.Task(
        task_type=task_type, label=label, notes=list(notes), labels=dict(labels or {})
    )
    if priority is not None:
        task.priority = priority
    return task
