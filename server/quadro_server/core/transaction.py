"""What a command runs against: a store's open transaction (`Transaction`), and what it
gives back (`Applied`). Kept apart from the engine so that every rule module can share
them."""

from __future__ import annotations

from typing import Protocol

from quadro_server.core.records import (
    AgentRecord,
    BoardRecord,
    DataRecord,
    EventRecord,
    LeaseRecord,
    TaskRecord,
)
from quadro_server.core.results import Result, StoredRequest
from quadro_server.core.values import value


class Transaction(Protocol):
    """What the engine needs from a store while a transaction is open. Reads see the
    transaction's own earlier writes."""

    def get_board(self, board_id: str) -> BoardRecord | None: ...
    def get_task(self, board_id: str, task_id: str) -> TaskRecord | None: ...
    def get_agent(self, board_id: str, agent_id: str) -> AgentRecord | None: ...
    def get_data(self, board_id: str, key: str) -> DataRecord | None: ...
    def get_request(self, request_id: str) -> StoredRequest | None: ...

    def insert_board(self, board: BoardRecord) -> None: ...
    def insert_task(self, task: TaskRecord) -> None: ...
    def update_task(self, task: TaskRecord, previous: TaskRecord) -> None:
        """Write `task` over `previous`, the version of it this transaction read (a store
        may write only what changed)."""
        ...

    def next_event(self, board_id: str, now: int) -> tuple[int, int]:
        """Reserve the board's next event: its sequence (head + 1, which becomes the new
        head) and its time, `now` or the board's last event time if that is later, so
        that times never decrease along a board's log whatever the clocks of replicas."""
        ...

    def new_task_id(self, length: int) -> str:
        """A candidate id for a task (random; the engine checks it is free)."""
        ...

    def get_lease(self, name: str) -> LeaseRecord | None: ...
    def put_lease(self, lease: LeaseRecord) -> None: ...

    def append_event(self, event: EventRecord) -> None: ...
    def put_agent(self, agent: AgentRecord, previous: AgentRecord | None) -> None:
        """Write `agent`: a new one when `previous` is None, else over `previous`."""
        ...

    def put_data(self, entry: DataRecord) -> None: ...
    def delete_data(self, board_id: str, key: str) -> None: ...
    def put_request(self, request: StoredRequest) -> None: ...
    def delete_requests_before(self, before: int, limit: int) -> int:
        """Remove up to `limit` idempotency records created before `before`, oldest
        first; return how many."""
        ...


@value
class Applied:
    """The answer to a command and the events it wrote (none for a replayed retry)."""

    result: Result
    events: tuple[EventRecord, ...]
    replayed: bool = False


__all__ = ["Applied", "Transaction"]
