"""What a handler is given: the task it works on, and the few things it may do on the
board while it works."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import quadro
from quadro import names
from quadro.v1 import task_pb2

T = TypeVar("T")


@dataclass(frozen=True)
class Approve:
    """A review handler's verdict: the work is accepted (the task moves to APPROVED)."""

    note: str = ""


@dataclass(frozen=True)
class Revise:
    """A review handler's verdict: the work goes back for revision (REVISION_NEEDED);
    `note` tells the worker what to change."""

    note: str = ""


Verdict = Approve | Revise


@dataclass
class WorkContext:
    """The task a handler works on (as it was when the handler started), and what it
    may do meanwhile. Async handlers get this; blocking handlers get `BlockingContext`."""

    client: quadro.AsyncClient
    task: task_pb2.Task
    agent_id: str
    # Set when the task came from review (PENDING_REVIEW): the handler judges the work
    # in `task.output` and returns a verdict.
    review: bool = False
    # Set when the task came back from review (REVISION_NEEDED): its notes say why.
    revision: bool = False
    _notes: list[str] = field(default_factory=list)

    @property
    def board(self) -> str:
        return names.board_id(self.task.name)

    @property
    def attempt(self) -> int:
        """The attempt this handler runs for: the board refuses what a superseded
        attempt sends."""
        return self.task.attempt

    def note(self, text: str) -> None:
        """Add a note; the notes are recorded on the task with the result, in one entry."""
        self._notes.append(text)

    @property
    def notes(self) -> str:
        return "\n".join(self._notes)

    async def get_data(self, key: str, default: Any = None) -> Any:
        """A value of the board's data store, `default` if there is none."""
        try:
            entry = (await self.client.get_data(self.board, key)).entry
        except quadro.errors.NotFound:
            return default
        return quadro.from_value(entry.value)

    async def put_data(self, key: str, value: Any) -> None:
        """Store any JSON-able value in the board's data store."""
        await self.client.put_data(self.board, key, value)


class BlockingContext(WorkContext):
    """The context of a blocking handler, which runs in a thread: the same, with
    blocking data access."""

    loop: asyncio.AbstractEventLoop

    def _wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def get_data(self, key: str, default: Any = None) -> Any:
        return self._wait(WorkContext.get_data(self, key, default))

    def put_data(self, key: str, value: Any) -> None:  # type: ignore[override]
        self._wait(WorkContext.put_data(self, key, value))


def output_text(result: Any) -> str:
    """What a handler returned, as the task's output: text as it is, anything else as
    JSON."""
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, default=str)
