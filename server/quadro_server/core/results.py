"""What a command returns. Results of commands with a request id are stored with it, so
a retry gets the first answer back unchanged."""

from __future__ import annotations

from dataclasses import dataclass

from quadro_server.core import codec
from quadro_server.core.chiefs import ChiefRecord, CycleRecord
from quadro_server.core.records import (
    AgentRecord,
    BoardRecord,
    DataRecord,
    EventRecord,
    LeaseRecord,
    TaskRecord,
)


@dataclass(frozen=True, slots=True)
class BoardResult:
    board: BoardRecord


@dataclass(frozen=True, slots=True)
class TaskResult:
    task: TaskRecord
    # The event the command wrote; None for commands that write none (archive).
    event: EventRecord | None


@dataclass(frozen=True, slots=True)
class HandOffResult:
    task: TaskRecord
    successor: TaskRecord
    # The successor's `task_posted` event.
    event: EventRecord
    # The task's own move to a terminal status, when the hand-off made it.
    transition_event: EventRecord | None = None


@dataclass(frozen=True, slots=True)
class AgentResult:
    agent: AgentRecord


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    agent: AgentRecord
    task: TaskRecord | None
    event: EventRecord | None


@dataclass(frozen=True, slots=True)
class DataResult:
    entry: DataRecord


@dataclass(frozen=True, slots=True)
class DeleteDataResult:
    existed: bool


@dataclass(frozen=True, slots=True)
class ExpiredResult:
    removed: int


@dataclass(frozen=True, slots=True)
class LeaseResult:
    # The lease now held by the asker, or None when someone else holds it; `holder` is
    # whoever holds it now.
    lease: LeaseRecord | None
    holder: str


@dataclass(frozen=True, slots=True)
class ChiefResult:
    chief: ChiefRecord


@dataclass(frozen=True, slots=True)
class ChiefCycleResult:
    cycle: CycleRecord
    chief: ChiefRecord


Result = (
    BoardResult
    | TaskResult
    | HandOffResult
    | AgentResult
    | HeartbeatResult
    | DataResult
    | DeleteDataResult
    | ExpiredResult
    | LeaseResult
    | ChiefResult
    | ChiefCycleResult
)


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """An idempotency record: the request id, what was asked, and the first answer."""

    request_id: str
    fingerprint: str
    result_json: str
    create_time: int


codec.register(
    LeaseRecord,
    LeaseResult,
    BoardResult,
    TaskResult,
    HandOffResult,
    AgentResult,
    HeartbeatResult,
    DataResult,
    DeleteDataResult,
    BoardRecord,
    TaskRecord,
    AgentRecord,
    EventRecord,
    DataRecord,
    ChiefResult,
    ChiefCycleResult,
    ChiefRecord,
    CycleRecord,
)
