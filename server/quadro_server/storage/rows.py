"""Mapping between records and flat table rows, shared by the SQL backends.

Rows are dicts keyed by column name; composite fields (notes, labels, payloads, board
specs, capabilities) are JSON text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from quadro_server.core import jsontext
from quadro_server.core.records import (
    AgentRecord,
    BoardRecord,
    DataRecord,
    EventRecord,
    TaskRecord,
)

Row = Mapping[str, Any]

TASK_COLUMNS = (
    "board_id",
    "task_id",
    "created_sequence",
    "task_type",
    "label",
    "priority",
    "status",
    "profile",
    "assigned_to",
    "output",
    "notes",
    "labels",
    "context_snapshot_hash",
    "attempt",
    "version",
    "archived",
    "heartbeat_time",
    "create_time",
    "update_time",
    "archive_time",
    "scope",
    "parent_task",
    "origin_task",
    "successor_task",
)
EVENT_COLUMNS = (
    "board_id",
    "sequence",
    "task_id",
    "task_type",
    "type",
    "agent",
    "from_status",
    "to_status",
    "payload",
    "request_id",
    "principal",
    "create_time",
    "attempt",
    "scope",
    "etag",
)
AGENT_COLUMNS = (
    "board_id",
    "agent_id",
    "display_name",
    "capabilities",
    "version",
    "concurrency",
    "active_tasks",
    "register_time",
    "last_seen_time",
    "scope",
    "review_capabilities",
    "stale_time",
)
# Agent columns holding JSON arrays of patterns.
_AGENT_LISTS = ("capabilities", "review_capabilities")
BOARD_COLUMNS = ("board_id", "spec", "scope", "create_time", "head_sequence")


def _json(value: Any) -> str:
    if not value:  # most notes, labels and payloads are empty: skip the encoder
        return "{}" if isinstance(value, dict) else "[]"
    return jsontext.dumps(value)


def board_to_row(board: BoardRecord) -> dict[str, Any]:
    spec = {
        "display_name": board.display_name,
        "profiles": [[name, [list(p) for p in pairs]] for name, pairs in board.profiles],
        "task_type_rules": [list(r) for r in board.task_type_rules],
        "default_profile": board.default_profile,
    }
    return {
        "board_id": board.board_id,
        "spec": _json(spec),
        "scope": board.scope,
        "create_time": board.create_time,
        "head_sequence": board.head_sequence,
    }


def board_from_row(row: Row) -> BoardRecord:
    spec = jsontext.loads(row["spec"])
    return BoardRecord(
        board_id=row["board_id"],
        display_name=spec["display_name"],
        profiles=tuple((name, tuple((f, t) for f, t in pairs)) for name, pairs in spec["profiles"]),
        task_type_rules=tuple((p, prof) for p, prof in spec["task_type_rules"]),
        default_profile=spec["default_profile"],
        scope=row["scope"],
        create_time=row["create_time"],
        head_sequence=row["head_sequence"],
    )


def task_to_row(task: TaskRecord) -> dict[str, Any]:
    return {
        "board_id": task.board_id,
        "task_id": task.task_id,
        "created_sequence": task.created_sequence,
        "task_type": task.task_type,
        "label": task.label,
        "priority": task.priority,
        "status": task.status,
        "profile": task.profile,
        "assigned_to": task.assigned_to,
        "output": task.output,
        "notes": _json(list(task.notes)),
        "labels": _json(dict(task.labels)),
        "context_snapshot_hash": task.context_snapshot_hash,
        "attempt": task.attempt,
        "version": task.version,
        "archived": 1 if task.archived else 0,
        "heartbeat_time": task.heartbeat_time,
        "create_time": task.create_time,
        "update_time": task.update_time,
        "archive_time": task.archive_time,
        "scope": task.scope,
        "parent_task": task.parent_task,
        "origin_task": task.origin_task,
        "successor_task": task.successor_task,
    }


def task_from_row(row: Row) -> TaskRecord:
    return TaskRecord(
        board_id=row["board_id"],
        task_id=row["task_id"],
        task_type=row["task_type"],
        label=row["label"],
        priority=row["priority"],
        status=row["status"],
        profile=row["profile"],
        assigned_to=row["assigned_to"],
        output=row["output"],
        notes=tuple(jsontext.loads(row["notes"])),
        labels=jsontext.loads(row["labels"]),
        context_snapshot_hash=row["context_snapshot_hash"],
        attempt=row["attempt"],
        version=row["version"],
        archived=bool(row["archived"]),
        heartbeat_time=row["heartbeat_time"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        archive_time=row["archive_time"],
        scope=row["scope"],
        parent_task=row["parent_task"],
        origin_task=row["origin_task"],
        created_sequence=row["created_sequence"],
        successor_task=row["successor_task"],
    )


def event_to_row(event: EventRecord) -> dict[str, Any]:
    row = {c: getattr(event, c) for c in EVENT_COLUMNS if c != "payload"}
    row["payload"] = _json(dict(event.payload))
    return row


def event_from_row(row: Row) -> EventRecord:
    fields = {c: row[c] for c in EVENT_COLUMNS if c != "payload"}
    return EventRecord(payload=jsontext.loads(row["payload"]), **fields)


def agent_to_row(agent: AgentRecord) -> dict[str, Any]:
    row = {c: getattr(agent, c) for c in AGENT_COLUMNS if c not in _AGENT_LISTS}
    for c in _AGENT_LISTS:
        row[c] = _json(list(getattr(agent, c)))
    return row


def agent_from_row(row: Row) -> AgentRecord:
    fields: dict[str, Any] = {c: row[c] for c in AGENT_COLUMNS if c not in _AGENT_LISTS}
    for c in _AGENT_LISTS:
        fields[c] = tuple(jsontext.loads(row[c]))
    return AgentRecord(**fields)


def data_from_row(row: Row) -> DataRecord:
    return DataRecord(row["board_id"], row["key"], row["value"], row["update_time"])


def task_update(
    task: TaskRecord, before: TaskRecord | None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """What an UPDATE of `task`, last stored as `before`, writes (see `_update_row`): a
    move changes a handful of its 24 columns."""
    return _update_row(task, before, ("board_id", "task_id"), TASK_COLUMNS, _TASK_STORED_AS)


def agent_update(
    agent: AgentRecord, before: AgentRecord | None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """What an UPDATE of `agent`, last stored as `before`, writes (see `_update_row`)."""
    return _update_row(agent, before, ("board_id", "agent_id"), AGENT_COLUMNS, _AGENT_STORED_AS)


Record = TypeVar("Record", TaskRecord, AgentRecord)


def _update_row(
    record: Record,
    before: Record | None,
    keys: tuple[str, str],
    columns: tuple[str, ...],
    stored_as: Mapping[str, Callable[[Record], Any]],
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A row of the record's key and the columns that differ from `before` (every
    column when it is None: not known), and those columns; only they are encoded."""
    changed = changed_columns(record, before, columns)
    row: dict[str, Any] = {key: getattr(record, key) for key in keys}
    for column in changed:
        convert = stored_as.get(column)
        row[column] = getattr(record, column) if convert is None else convert(record)
    return row, changed


# Columns stored otherwise than the record holds them (see task_to_row, agent_to_row).
_TASK_STORED_AS: dict[str, Callable[[TaskRecord], Any]] = {
    "notes": lambda task: _json(list(task.notes)),
    "labels": lambda task: _json(dict(task.labels)),
    "archived": lambda task: 1 if task.archived else 0,
}
_AGENT_STORED_AS: dict[str, Callable[[AgentRecord], Any]] = {
    "capabilities": lambda agent: _json(list(agent.capabilities)),
    "review_capabilities": lambda agent: _json(list(agent.review_capabilities)),
}


def changed_columns(new: object, old: object | None, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The columns whose record field differs (columns are named after the fields); all
    of them when there is no old record."""
    if old is None:
        return columns
    return tuple(c for c in columns if getattr(new, c) != getattr(old, c))
