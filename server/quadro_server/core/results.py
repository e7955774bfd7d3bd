"""What a command returns. Results of commands with a request id are stored with it, so
a retry gets the first answer back unchanged."""

from __future__ import annotations

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
from quadro_server.core.values import value


@value
class BoardResult:
    board: BoardRecord


@value
class TaskResult:
    task: TaskRecord
    # The event the command wrote; None for commands that write none (archive).
    event: EventRecord | None


@value
class HandOffResult:
    task: TaskRecord
    successor: TaskRecord
    # The successor's `task_posted` event.
    event: EventRecord
    # The task's own move to a terminal status, when the hand-off made it.
    transition_event: EventRecord | None = None


@value
class AgentResult:
    agent: AgentRecord


@value
class HeartbeatResult:
    agent: AgentRecord
    task: TaskRecord | None
    event: EventRecord | None


@value
class DataResult:
    entry: DataRecord


@value
class DeleteDataResult:
    existed: bool


@value
class ExpiredResult:
    removed: int


@value
class LeaseResult:
    # The lease now held by the asker, or None when someone else holds it; `holder` is
    # whoever holds it now.
    lease: LeaseRecord | None
    holder: str


@value
class ChiefResult:
    chief: ChiefRecord


@value
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


@value
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
