"""The rows a replica's own commits left, kept so that its next batch need not read
them back.

A batch reads every task, agent and data entry its commands name, under its boards'
locks. Most of those rows were written by the same replica's previous batches (a task
posted, then assigned, then completed through one server), and reading them again is
the largest statement of a batch. Every batch that writes a board's rows also moves the
board's `revision` on (migration 0008), under the board's lock: a batch that locks a
board and finds the revision that this replica's own last commit on it left knows that
nobody has written the board since, and takes the rows it kept of that board as they
are in the table. A board written by another replica meanwhile shows another revision:
its kept rows are dropped and read again.

What is kept is what the replica's batches leave: the rows a batch read under its
locks and what it wrote, with the board's revision and head after it. A batch learns
what it leaves when its COMMIT has succeeded or, when it was sent ahead of the batches
in flight (storage/batching.py), when it is sent: the next batch is decided on it, and
checks in its own transaction that the revision it was decided on is the board's.
A failed batch, whatever failed in it, drops what was kept of its boards. Absence is
never kept, and each kind of row is bounded by size, the rows written least recently
dropped first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Generic, TypeVar

from quadro_server.core.records import AgentRecord, DataRecord, TaskRecord
from quadro_server.storage.overlay import ChildKey, Keys, Loaded, Overlay

R = TypeVar("R")

# What is kept of each kind of row is bounded by its size, counted in characters of its
# variable fields plus a fixed part per row: about a megabyte of memory per kind for a
# thousand small tasks, and never much more than 16 MB whatever the rows hold. A full
# cycle touches a task twice after it is posted (assigned, then finished), within
# seconds: thousands of recent rows cover that with room. A row larger than ROW_LIMIT
# (a long output, large notes) is not kept: reading it back costs little beside its size.
DEFAULT_BUDGET = 4_000_000
ROW_LIMIT = 4_096
_ROW_BASE = 256


def task_size(task: TaskRecord) -> int:
    return (
        _ROW_BASE
        + len(task.output)
        + len(task.label)
        + sum(map(len, task.notes))
        + sum(len(k) + len(v) for k, v in task.labels.items())
    )


def agent_size(agent: AgentRecord) -> int:
    return (
        _ROW_BASE
        + len(agent.display_name)
        + sum(map(len, agent.capabilities))
        + sum(map(len, agent.review_capabilities))
    )


def data_size(entry: DataRecord) -> int:
    return _ROW_BASE + len(entry.key) + len(entry.value_json)


class _Bounded(Generic[R]):
    """Rows by key, the least recently written dropped first beyond `budget`."""

    def __init__(self, budget: int, size: Callable[[R], int]) -> None:
        self.budget = budget
        self.used = 0
        self._size = size
        self._rows: dict[ChildKey, tuple[R, int]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: ChildKey) -> R | None:
        found = self._rows.get(key)
        return None if found is None else found[0]

    def keep(self, key: ChildKey, row: R | None) -> None:
        # Re-inserted last: the most recently written.
        old = self._rows.pop(key, None)
        if old is not None:
            self.used -= old[1]
        if row is not None:
            size = self._size(row)
            if size <= ROW_LIMIT:
                self._rows[key] = (row, size)
                self.used += size

    def trim(self) -> None:
        while self.used > self.budget:
            _, (_, size) = _pop_oldest(self._rows)
            self.used -= size

    def forget(self, boards: Iterable[str]) -> None:
        gone = set(boards)
        if gone and self._rows:
            for key in [k for k in self._rows if k[0] in gone]:
                self.used -= self._rows.pop(key)[1]


def _pop_oldest(rows: dict[ChildKey, tuple[R, int]]) -> tuple[ChildKey, tuple[R, int]]:
    key = next(iter(rows))
    return key, rows.pop(key)


class KnownRows:
    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        # Per board, the revision this replica's last batch on it leaves, and its head
        # (sequence, time of that event).
        self._revisions: dict[str, int] = {}
        self._heads: dict[str, tuple[int, int]] = {}
        self.tasks: _Bounded[TaskRecord] = _Bounded(budget, task_size)
        self.agents: _Bounded[AgentRecord] = _Bounded(budget, agent_size)
        self.data: _Bounded[DataRecord] = _Bounded(budget, data_size)

    def revision(self, board_id: str) -> int | None:
        return self._revisions.get(board_id)

    def head(self, board_id: str) -> tuple[int, int] | None:
        """The board's head as the replica's last batch on it leaves it, if known."""
        return self._heads.get(board_id)

    def take(self, keys: Keys, loaded: Loaded, boards: set[str]) -> Keys:
        """Fill `loaded` with the kept rows that `keys` names on `boards`, and return
        the keys left to read. Agents holding tasks are found by the database (a kept
        task may name one that was never kept), so with holders to find, the agents
        are all read."""
        return dataclasses.replace(
            keys,
            tasks=_take(self.tasks, keys.tasks, loaded.tasks, boards),
            data=_take(self.data, keys.data, loaded.data, boards),
            agents=keys.agents
            if keys.holders
            else _take(self.agents, keys.agents, loaded.agents, boards),
        )

    def forget(self, boards: Iterable[str]) -> None:
        """Drop what is kept of `boards` (written by someone else, or by a batch whose
        outcome is unknown)."""
        boards = list(boards)
        for board in boards:
            self._revisions.pop(board, None)
            self._heads.pop(board, None)
        for kind in (self.tasks, self.agents, self.data):
            kind.forget(boards)

    def learn(self, revisions: Mapping[str, int], overlay: Overlay) -> None:
        """What a batch leaves: the boards it held with the revisions it leaves, their
        heads, the rows it read under their locks and what it wrote."""
        self._revisions.update(revisions)
        for board in revisions:
            head = overlay.heads.get(board)
            if head is not None:
                self._heads[board] = head
        loaded = overlay.loaded
        for kept, read, written in (
            (self.tasks, loaded.tasks, (overlay.new_tasks, overlay.changed_tasks)),
            (self.agents, loaded.agents, (overlay.new_agents, overlay.changed_agents)),
            (self.data, loaded.data, (overlay.data_writes,)),
        ):
            for rows in (read, *written):
                for key, row in rows.items():
                    if key[0] in revisions:
                        kept.keep(key, row)
            kept.trim()


def _take(
    kept: _Bounded[R], keys: set[ChildKey], into: dict[ChildKey, R | None], boards: set[str]
) -> set[ChildKey]:
    rest = set()
    for key in keys:
        row = kept.get(key) if key[0] in boards else None
        if row is None:
            rest.add(key)
        else:
            into[key] = row
    return rest
