"""What a Chief sees when it thinks: the live tasks and the agents of its scope.

Tasks waiting for an agent are read in dispatch order (priority, then age) and only the
first `waiting_limit` of them: a Chief hands out at most what its agents can take, and
reading a deep backlog whole on every cycle would cost more than the work it dispatches.
Every other live task is read, except, when the policy needs none of them, the tasks in
progress: a board has as many of them as its agents can hold, and the built-in policy
counts them from the agents.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import quadro
from quadro import names
from quadro.v1 import agent_pb2, board_pb2, task_pb2

UNASSIGNED = "UNASSIGNED"
IN_PROGRESS = "IN_PROGRESS"
PENDING_REVIEW = "PENDING_REVIEW"
REVISION_NEEDED = "REVISION_NEEDED"
APPROVED = "APPROVED"
STALE = "STALE"

# Statuses in which a task waits for a Chief's decision.
WAITING = (UNASSIGNED, PENDING_REVIEW, REVISION_NEEDED, APPROVED, STALE)
# Those in which it waits for an agent: the backlog, read up to a bound.
FOR_AN_AGENT = (UNASSIGNED, PENDING_REVIEW, REVISION_NEEDED, STALE)
WAITING_LIMIT = 1000


def matches(task_type: str, patterns: Iterable[str]) -> bool:
    """Whether a task type matches one of the patterns (the board's glob rules: `*`,
    `?`, `[abc]`)."""
    return any(fnmatch.fnmatchcase(task_type, p) for p in patterns)


@dataclass(frozen=True)
class BoardView:
    """One board of the scope: its live tasks (not terminal, task types in scope) and
    its agents. The tasks waiting for an agent come last, in dispatch order, the first
    `waiting_limit` of them only (`truncated` when there were more)."""

    board: board_pb2.Board
    tasks: Sequence[task_pb2.Task]
    agents: Sequence[agent_pb2.Agent]
    # More tasks wait for an agent than the view holds (the first, in dispatch order).
    truncated: bool = False
    # False when the tasks IN_PROGRESS were left out (the policy needs none of them).
    in_progress_read: bool = True

    @property
    def id(self) -> str:
        return names.board_id(self.board.name)

    def in_status(self, *statuses: str) -> list[task_pb2.Task]:
        return [t for t in self.tasks if t.status in statuses]

    @property
    def in_flight(self) -> int:
        """Tasks IN_PROGRESS: those read, or, when they were not, those the agents hold."""
        if self.in_progress_read:
            return len(self.in_status(IN_PROGRESS))
        return sum(a.active_tasks for a in self.agents)

    def allows(self, task: task_pb2.Task, to_status: str, from_status: str = "") -> bool:
        """Whether the task's lifecycle allows the move to `to_status` from `from_status`
        (default: the task's current status)."""
        profile = self.board.profiles.get(task.profile)
        move = (from_status or task.status, to_status)
        return profile is not None and any(
            (t.from_status, t.to_status) == move for t in profile.transitions
        )


@dataclass(frozen=True)
class Snapshot:
    """Every board of the scope, read at the start of one cycle."""

    boards: Sequence[BoardView] = field(default_factory=list)

    @property
    def tasks(self) -> list[task_pb2.Task]:
        return [t for b in self.boards for t in b.tasks]

    @property
    def in_flight(self) -> int:
        """Tasks being worked on (IN_PROGRESS)."""
        return sum(b.in_flight for b in self.boards)

    @property
    def waiting(self) -> int:
        """Tasks waiting for a decision (unassigned, awaiting review, stale, ...)."""
        return sum(len(b.in_status(*WAITING)) for b in self.boards)


def live_statuses(board: board_pb2.Board) -> list[str]:
    """Every non-terminal status of the board's profiles."""
    found: set[str] = set()
    for profile in board.profiles.values():
        found.update(set(profile.statuses) - set(profile.terminal_statuses))
    return sorted(found)


async def read_board(
    client: quadro.AsyncClient,
    board: str | board_pb2.Board,
    task_types: Sequence[str],
    waiting_limit: int = WAITING_LIMIT,
    in_progress: bool = True,
) -> BoardView:
    """The live tasks of the board (task types in `task_types`, all if empty), those
    waiting for an agent only up to `waiting_limit` (0: all), those IN_PROGRESS only if
    `in_progress`, and its agents. `board` may be the board as read before (its
    lifecycles never change), which saves a read."""
    found = board if isinstance(board, board_pb2.Board) else (await client.get_board(board)).board
    live = live_statuses(found)
    backlog = [s for s in live if s in FOR_AN_AGENT]
    rest = [s for s in live if s not in FOR_AN_AGENT and (in_progress or s != IN_PROGRESS)]

    async def waiting() -> tuple[list[task_pb2.Task], bool]:
        if not backlog or waiting_limit <= 0:
            return await _all_tasks(client, found.name, backlog, task_types), False
        tasks: list[task_pb2.Task] = []
        token = ""
        while True:
            page = await client.list_tasks(
                found.name,
                statuses=backlog,
                task_types=task_types,
                order="dispatch",
                page_size=min(waiting_limit, 1000),
                page_token=token,
            )
            tasks.extend(page.tasks)
            token = page.next_page_token
            if not token or len(tasks) >= waiting_limit:
                return tasks[:waiting_limit], bool(token) or len(tasks) > waiting_limit

    (queued, truncated), others, agents = await asyncio.gather(
        waiting(),
        _all_tasks(client, found.name, rest, task_types),
        _all_agents(client, found.name),
    )
    return BoardView(found, [*others, *queued], agents, truncated, in_progress)


async def _all_tasks(
    client: quadro.AsyncClient, board: str, statuses: list[str], task_types: Sequence[str]
) -> list[task_pb2.Task]:
    """Every task of the board in one of `statuses` (none: no task, not all)."""
    if not statuses:
        return []
    return [
        t
        async for t in client.iter_tasks(
            board, statuses=statuses, task_types=task_types, page_size=1000
        )
    ]


async def _all_agents(client: quadro.AsyncClient, board: str) -> list[agent_pb2.Agent]:
    return [a async for a in client.iter_agents(board, page_size=1000)]
