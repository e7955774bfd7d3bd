"""What a Chief sees when it thinks: the live tasks and the agents of its scope."""

from __future__ import annotations

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


def matches(task_type: str, patterns: Iterable[str]) -> bool:
    """Whether a task type matches one of the patterns (the board's glob rules: `*`,
    `?`, `[abc]`)."""
    return any(fnmatch.fnmatchcase(task_type, p) for p in patterns)


@dataclass(frozen=True)
class BoardView:
    """One board of the scope: its live tasks (not terminal, task types in scope) and
    its agents."""

    board: board_pb2.Board
    tasks: Sequence[task_pb2.Task]
    agents: Sequence[agent_pb2.Agent]

    @property
    def id(self) -> str:
        return names.board_id(self.board.name)

    def in_status(self, *statuses: str) -> list[task_pb2.Task]:
        return [t for t in self.tasks if t.status in statuses]

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
        return sum(len(b.in_status(IN_PROGRESS)) for b in self.boards)

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
    client: quadro.AsyncClient, board: str, task_types: Sequence[str]
) -> BoardView:
    """The live tasks of the board (task types in `task_types`, all if empty) and its
    agents."""
    found = (await client.get_board(board)).board
    tasks = [
        t
        async for t in client.iter_tasks(
            board, statuses=live_statuses(found), task_types=task_types, page_size=1000
        )
    ]
    agents = [a async for a in client.iter_agents(board, page_size=1000)]
    return BoardView(found, tasks, agents)
