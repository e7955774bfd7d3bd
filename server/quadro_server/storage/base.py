"""The store interface every backend implements, and the queries it answers.

Writes go through `apply`: a list of commands applied in one transaction, each with its
own validation and result, so that one rejected command never fails the others. A single
call is a batch of one; backends group concurrent calls into one commit.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from quadro import limits
from quadro_server.core.commands import Command
from quadro_server.core.errors import QuadroError
from quadro_server.core.event_filter import EventFilter
from quadro_server.core.lifecycle import WAITING_FOR_AN_AGENT
from quadro_server.core.records import (
    AgentRecord,
    BoardRecord,
    DataRecord,
    EventRecord,
    TaskRecord,
)
from quadro_server.core.transaction import Applied

# The tasks as a commit's events left them, by (board id, event sequence): what the
# commit wrote, known without a read. Only for events committed by this process.
TasksAfter = Mapping[tuple[str, int], TaskRecord]
NO_TASKS: TasksAfter = MappingProxyType({})

# Called after each commit with the events it wrote, in commit order, and the tasks as
# they left them. Runs on the event loop; must not block.
CommitListener = Callable[[Sequence[EventRecord], TasksAfter], None]


# Appends a condition on `column` matching any of `values` to a statement's parts, and
# its arguments.
Condition = Callable[[list[str], list[Any], str, tuple[str, ...]], None]

# The condition of the index that holds the tasks waiting for an agent in dispatch
# order (the migrations `*_waiting_tasks_in_dispatch_order.sql` of both stores spell it
# the same).
WAITING_CONDITION = "archived = 0 AND status IN ({})".format(
    ", ".join(f"'{s}'" for s in WAITING_FOR_AN_AGENT)
)


@dataclass(frozen=True, slots=True)
class TaskQuery:
    board_id: str
    limit: int
    # Keyset: only tasks whose `created_sequence` is greater.
    after_sequence: int = 0
    statuses: tuple[str, ...] = ()
    # Task types or globs.
    task_types: tuple[str, ...] = ()
    assigned_to: str = ""
    # Dispatch order (priority, then posted) instead of the order posted; the keyset is
    # then (priority, created_sequence) > (after_priority, after_sequence).
    dispatch_order: bool = False
    after_priority: int = limits.PRIORITY_MIN - 1

    def statement(self, mark: str, any_of: Condition, globs: Condition) -> tuple[str, list[Any]]:
        """The SELECT that lists the tasks, and its arguments, for a store whose SQL
        placeholder is `mark` and whose conditions on a column's values and globs are
        written by `any_of` and `globs`."""
        keyset, after, order = self.keyset(mark)
        sql = [f"SELECT * FROM tasks WHERE board_id = {mark} AND archived = 0 AND {keyset}"]
        args: list[Any] = [self.board_id, *after]
        any_of(sql, args, "status", self.statuses)
        if (
            self.dispatch_order
            and self.statuses
            and set(self.statuses).issubset(WAITING_FOR_AN_AGENT)
        ):
            # The condition of the index of waiting tasks, word for word: with it the
            # databases read the index in order instead of sorting every task.
            sql.append(f"AND {WAITING_CONDITION}")
        globs(sql, args, "task_type", self.task_types)
        if self.assigned_to:
            sql.append(f"AND assigned_to = {mark}")
            args.append(self.assigned_to)
        sql.append(f"{order} LIMIT {mark}")
        args.append(self.limit)
        return " ".join(sql), args

    def keyset(self, mark: str) -> tuple[str, list[Any], str]:
        """The listing's keyset condition, its arguments and its ORDER BY, for a store
        whose SQL placeholder is `mark`."""
        if self.dispatch_order:
            return (
                f"(priority, created_sequence) > ({mark}, {mark})",
                [self.after_priority, self.after_sequence],
                "ORDER BY priority, created_sequence",
            )
        return f"created_sequence > {mark}", [self.after_sequence], "ORDER BY created_sequence"


@dataclass(frozen=True, slots=True)
class EventQuery:
    board_id: str
    limit: int
    after_sequence: int = 0
    filter: EventFilter = field(default_factory=EventFilter)


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[EventRecord]
    # The board's head when the page was read; no event in the page is beyond it.
    head_sequence: int


class Store(abc.ABC):
    """A board store. All methods are safe to call concurrently from one event loop."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Open connections and bring the schema up to date."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish queued writes, then release every resource."""

    @abc.abstractmethod
    async def apply(self, commands: Sequence[Command]) -> list[Applied | QuadroError]:
        """Apply commands in one transaction, in order; each gets its own result or error.
        Returns once the transaction is durable. Raises `Unavailable` if the store cannot
        commit (then nothing of the batch was applied)."""

    async def execute(self, command: Command) -> Applied:
        """Apply one command; raise its error if it was rejected."""
        (outcome,) = await self.apply([command])
        if isinstance(outcome, QuadroError):
            raise outcome
        return outcome

    @abc.abstractmethod
    def add_commit_listener(self, listener: CommitListener) -> None: ...

    @abc.abstractmethod
    async def get_board(self, board_id: str) -> BoardRecord | None: ...

    @abc.abstractmethod
    async def list_boards(self, after: tuple[int, str] | None, limit: int) -> list[BoardRecord]:
        """Boards ordered by (create_time, board_id), strictly after `after`."""

    @abc.abstractmethod
    async def get_task(self, board_id: str, task_id: str) -> TaskRecord | None:
        """A task, archived or not."""

    @abc.abstractmethod
    async def get_tasks(self, board_id: str, task_ids: Sequence[str]) -> dict[str, TaskRecord]:
        """The tasks of a board with these ids, archived or not, by id, in one read;
        ids of no task are left out."""

    @abc.abstractmethod
    async def list_children(self, parent_tasks: Sequence[str], limit: int) -> list[TaskRecord]:
        """Up to `limit` tasks, on any board, archived or not, whose parent is one of
        these full task names, ordered by (create_time, board_id, task_id)."""

    @abc.abstractmethod
    async def list_tasks(self, query: TaskQuery) -> list[TaskRecord]:
        """Tasks that are not archived, ordered by `created_sequence`."""

    @abc.abstractmethod
    async def list_events(self, query: EventQuery) -> EventPage:
        """Events ordered by sequence, read in one snapshot with the board's head."""

    @abc.abstractmethod
    async def get_agent(self, board_id: str, agent_id: str) -> AgentRecord | None: ...

    @abc.abstractmethod
    async def list_agents(
        self, board_id: str, after: tuple[int, str] | None, limit: int
    ) -> list[AgentRecord]:
        """Agents ordered by (register_time, agent_id), strictly after `after`."""

    @abc.abstractmethod
    async def get_data(self, board_id: str, key: str) -> DataRecord | None: ...

    @abc.abstractmethod
    async def list_data(
        self, board_id: str, prefix: str, after_key: str, limit: int, *, internal: bool = False
    ) -> list[DataRecord]:
        """Entries whose key starts with `prefix`, ordered by key, after `after_key`; keys
        that start with `_` (the server's own records) only with `internal`."""
