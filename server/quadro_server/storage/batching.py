"""Group commit, shared by the stores: calls queue their commands, one batch at a time
is committed, and every caller is answered once its batch is durable.

While a batch commits, the calls that arrive meanwhile gather into the next one, so
concurrent callers share a commit without any waiting window added, and a lone caller
is committed at once. A batch takes whole calls, up to `max_batch` commands (a call
with more commands than that is a batch of its own): the commands of one call, a batch
RPC's items, always share one transaction. A store supplies `_commit_batch`, which
applies a list of commands in one transaction and returns one outcome per command.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from quadro import reasons
from quadro_server.core.clock import now_us
from quadro_server.core.commands import Command
from quadro_server.core.errors import Internal, QuadroError, Unavailable
from quadro_server.core.records import EventRecord, TaskRecord
from quadro_server.core.results import TaskResult
from quadro_server.core.transaction import Applied
from quadro_server.storage.base import NO_TASKS, CommitListener, Store, TasksAfter

log = logging.getLogger(__name__)


# A batch's commands are applied on the event loop; after this many, the writer lets the
# loop serve the other calls (reads, streams) before it goes on: a batch of hundreds of
# commands would otherwise hold every other call back for tens of milliseconds.
YIELD_EVERY = 16


async def pause_now_and_then(done: int) -> None:
    """Called after each applied command (`done` so far): now and then, let the event
    loop run whatever else is ready."""
    if done % YIELD_EVERY == 0:
        await asyncio.sleep(0)


def _tasks_after(applied: list[Applied]) -> dict[tuple[str, int], TaskRecord]:
    """The task each command's event left, for the commands that answer with both (the
    moves of a task: assignments among them)."""
    return {
        (o.result.event.board_id, o.result.event.sequence): o.result.task
        for o in applied
        if isinstance(o.result, TaskResult) and o.result.event is not None and not o.replayed
    }


@dataclass(slots=True)
class _Pending:
    command: Command
    future: asyncio.Future[Applied | QuadroError]


class BatchingStore(Store):
    def __init__(self, max_batch: int) -> None:
        self.max_batch = max_batch
        # Calls waiting for a commit, each with its commands.
        self._pending: collections.deque[list[_Pending]] = collections.deque()
        self._writing: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[CommitListener] = []
        self._last_now = 0
        self._closed = False

    @abc.abstractmethod
    async def _commit_batch(self, commands: list[Command], now: int) -> list[Applied | QuadroError]:
        """Apply `commands` at time `now` in one transaction; one outcome per command.
        Raise Unavailable if the store cannot commit (nothing of the batch applied)."""

    def add_commit_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def _publish(self, events: Sequence[EventRecord], tasks: TasksAfter = NO_TASKS) -> None:
        """Hand committed events to the listeners, before their callers are answered: a
        caller that was answered and then subscribes finds its own events in the hub."""
        if events:
            for listener in self._listeners:
                try:
                    listener(events, tasks)
                except Exception:
                    log.exception("commit listener failed")

    async def apply(self, commands: Sequence[Command]) -> list[Applied | QuadroError]:
        if self._closed:
            raise Unavailable("the store is closed", reason=reasons.SHUTTING_DOWN)
        if not commands:
            return []
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        call = [_Pending(command, self._loop.create_future()) for command in commands]
        futures = [p.future for p in call]
        self._pending.append(call)
        if self._writing is None:
            self._writing = self._loop.create_task(self._write_all())
        if len(futures) == 1:
            return [await futures[0]]
        return list(await asyncio.gather(*futures))

    async def _write_all(self) -> None:
        try:
            while self._pending:
                batch = self._pending.popleft()
                while self._pending and len(batch) + len(self._pending[0]) <= self.max_batch:
                    batch.extend(self._pending.popleft())
                await self._commit(batch)
        finally:
            self._writing = None

    async def _commit(self, batch: list[_Pending]) -> None:
        # One time for the whole batch, never earlier than the previous batch's.
        now = max(now_us(), self._last_now)
        self._last_now = now
        outcomes: list[Applied | QuadroError]
        try:
            outcomes = await self._commit_batch([p.command for p in batch], now)
        except Unavailable as failure:
            outcomes = [failure] * len(batch)
        except Exception:
            # A bug in a store must never leave its callers waiting for ever.
            log.exception("a batch of %d command(s) failed", len(batch))
            outcomes = [Internal("internal error", reason=reasons.INTERNAL)] * len(batch)
        applied = [o for o in outcomes if isinstance(o, Applied)]
        self._publish([e for a in applied for e in a.events], _tasks_after(applied))
        for pending, outcome in zip(batch, outcomes, strict=True):
            if not pending.future.done():
                pending.future.set_result(outcome)

    async def _finish_writes(self) -> None:
        """Refuse new commands and wait for the queued ones to be committed."""
        self._closed = True
        while self._writing is not None:
            await asyncio.shield(self._writing)
