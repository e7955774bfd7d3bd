"""Group commit, shared by the stores: calls queue their commands, one batch at a time
is committed, and every caller is answered once its batch is durable.

While a batch commits, the calls that arrive meanwhile gather into the next one, so
concurrent callers share a commit without any waiting window added, and a lone caller
is committed at once. A batch takes whole calls, up to `max_batch` commands (a call
with more commands than that is a batch of its own): the commands of one call, a batch
RPC's items, always share one transaction. A store supplies `_commit_batch`, which
applies a list of commands in one transaction and returns one outcome per command.

A store may also send a batch ahead (`_send_ahead`): decide it on the state the batches
in flight will leave, and send it to the database without waiting for them, so that
the writer decides the next batch while the database commits the last. Up to
`pipeline_depth` batches are then in flight. Only a batch of at least `ahead_min`
commands goes ahead of one in flight: a smaller one waits for the batch in flight to
commit (one commit's time at most) and leaves then with whatever came meanwhile, so
that a busy store makes fewer, fuller commits instead of a commit for every call; with
nothing in flight a batch of any size leaves at once. Their callers are still answered in
order, each once its own commit is durable; a batch sent ahead that fails as a whole
(the state it was decided on did not come about) is committed again the usual way,
after every batch in flight has settled.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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


def _failed(count: int, failure: Exception) -> list[Applied | QuadroError]:
    """The outcomes of a batch that failed as a whole, called from its `except`: each
    command Unavailable (its outcome unknown: the caller retries), or, for anything
    else, a bug in a store, an internal error, so that no caller is left waiting."""
    if isinstance(failure, Unavailable):
        return [failure] * count
    log.exception("a batch of %d command(s) failed", count)
    return [Internal("internal error", reason=reasons.INTERNAL)] * count


@dataclass(slots=True)
class _Call:
    """A call waiting for a commit. Its commands always share one batch, so they are
    answered together: one future for the call, not one per command (a batch RPC of
    hundreds of items would otherwise cost as many futures and callbacks)."""

    commands: Sequence[Command]
    future: asyncio.Future[list[Applied | QuadroError]]


def _commands(batch: list[_Call]) -> list[Command]:
    return [command for call in batch for command in call.commands]


class SentAheadFailed(Exception):
    """A batch sent ahead applied nothing (the state it was decided on did not come
    about, or it lost a race): commit it again the usual way."""


@dataclass(slots=True)
class SentAhead:
    """A batch a store sent ahead. `sent` is done once the database has answered; then
    `outcome` gives the batch's outcomes, or raises Unavailable (outcome unknown) or
    SentAheadFailed (nothing applied). When `sent` succeeded, `outcome` is called at
    once, from its callback: the callers of a batch that committed are answered without
    waiting for the writer to be done deciding the next one. Failures are the writer's,
    handled in order."""

    sent: asyncio.Future[Any]
    outcome: Callable[[], list[Applied | QuadroError]]


@dataclass(slots=True)
class WriteStats:
    """What a store's writer has done since it started."""

    # Batches committed the usual way (one at a time, on the database's current state).
    committed: int = 0
    # Batches sent ahead of the ones in flight.
    sent_ahead: int = 0
    # Of those, the ones that failed as a whole and were committed again the usual way.
    sent_again: int = 0


@dataclass(slots=True)
class _InFlight:
    calls: list[_Call]
    ahead: SentAhead
    # Its callers are answered, or being answered: by `sent`'s callback or the writer.
    settled: bool = False


class BatchingStore(Store):
    # Batches in flight at once; 1 commits one batch after another (see `_send_ahead`).
    pipeline_depth = 1
    # The fewest commands a batch needs to go ahead of one in flight.
    ahead_min = 1

    def __init__(self, max_batch: int) -> None:
        self.max_batch = max_batch
        # Calls waiting for a commit, each with its commands.
        self._pending: collections.deque[_Call] = collections.deque()
        self._pending_commands = 0
        self._writing: asyncio.Task[None] | None = None
        # Set while the writer waits for a new call or for a batch in flight to settle.
        self._wakeup: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[CommitListener] = []
        self._last_now = 0
        self._closed = False
        self.write_stats = WriteStats()

    @abc.abstractmethod
    async def _commit_batch(self, commands: list[Command], now: int) -> list[Applied | QuadroError]:
        """Apply `commands` at time `now` in one transaction; one outcome per command.
        Raise Unavailable if the store cannot commit (nothing of the batch applied)."""

    async def _send_ahead(self, commands: list[Command], now: int) -> SentAhead | None:
        """Decide `commands` on the state the batches in flight will leave and send them
        without waiting for those; None when the batch needs the database's current
        state (it is then committed the usual way once nothing is in flight)."""
        return None

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
        call = _Call(commands, self._loop.create_future())
        self._pending.append(call)
        self._pending_commands += len(commands)
        if self._writing is None:
            self._writing = self._loop.create_task(self._write_all())
        else:
            self._wake()
        return await call.future

    def _wake(self, _: object = None) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _write_all(self) -> None:
        in_flight: collections.deque[_InFlight] = collections.deque()
        try:
            while self._pending or in_flight:
                room = len(in_flight) < self.pipeline_depth
                if self._pending and room and self._may_leave(in_flight):
                    calls = self._next_batch()
                    now = self._batch_time()
                    ahead = None
                    if self.pipeline_depth > 1:
                        ahead = await self._send_ahead(_commands(calls), now)
                    if ahead is not None:
                        self.write_stats.sent_ahead += 1
                        batch = _InFlight(calls, ahead)
                        ahead.sent.add_done_callback(functools.partial(self._sent, batch))
                        in_flight.append(batch)
                    else:
                        await self._settle(in_flight, len(in_flight))
                        await self._commit(calls, now)
                elif room and not in_flight[0].ahead.sent.done():
                    # Room for another batch but no call for it, or too few to go ahead:
                    # wait for a call, or for the oldest batch in flight to be answered,
                    # whichever comes first.
                    assert self._loop is not None
                    self._wakeup = self._loop.create_future()
                    await self._wakeup
                    self._wakeup = None
                else:
                    await self._settle(in_flight, 1)
        finally:
            self._writing = None

    def _sent(self, batch: _InFlight, sent: asyncio.Future[Any]) -> None:
        """A batch sent ahead is back: if it committed, its callers are answered now.
        Whatever happened, the writer is woken (a failure is its to handle)."""
        if not batch.settled and not sent.cancelled() and sent.exception() is None:
            batch.settled = True
            self._answer(batch.calls, batch.ahead.outcome())
        self._wake()

    def _may_leave(self, in_flight: collections.deque[_InFlight]) -> bool:
        """Whether the calls waiting may leave now: nothing is in flight, or the oldest
        batch in flight is back, or they are enough to go ahead of it."""
        return (
            not in_flight
            or in_flight[0].ahead.sent.done()
            or self._pending_commands >= self.ahead_min
        )

    def _next_batch(self) -> list[_Call]:
        batch = [self._pending.popleft()]
        size = len(batch[0].commands)
        while self._pending and size + len(self._pending[0].commands) <= self.max_batch:
            size += len(self._pending[0].commands)
            batch.append(self._pending.popleft())
        self._pending_commands -= size
        return batch

    def _batch_time(self) -> int:
        # One time for the whole batch, never earlier than the previous batch's.
        now = max(now_us(), self._last_now)
        self._last_now = now
        return now

    async def _settle(self, in_flight: collections.deque[_InFlight], count: int) -> None:
        """Answer the callers of the `count` oldest batches in flight, in order. A batch
        whose commit failed as a whole is committed again the usual way, after every
        batch in flight: a later one may have been decided on what it would have left."""
        again: list[list[_Call]] = []
        while count > 0 or (again and in_flight):
            count -= 1
            batch = in_flight.popleft()
            if not batch.ahead.sent.done():
                await asyncio.wait([batch.ahead.sent])
            if batch.settled:
                continue  # answered as soon as it came back
            batch.settled = True
            outcomes: list[Applied | QuadroError]
            try:
                outcomes = batch.ahead.outcome()
            except SentAheadFailed:
                self.write_stats.sent_again += 1
                again.append(batch.calls)
                continue
            except Exception as exc:
                outcomes = _failed(len(_commands(batch.calls)), exc)
            self._answer(batch.calls, outcomes)
        for calls in again:
            await self._commit(calls, self._batch_time())

    async def _commit(self, batch: list[_Call], now: int) -> None:
        self.write_stats.committed += 1
        commands = _commands(batch)
        outcomes: list[Applied | QuadroError]
        try:
            outcomes = await self._commit_batch(commands, now)
        except Exception as exc:
            outcomes = _failed(len(commands), exc)
        self._answer(batch, outcomes)

    def _answer(self, batch: list[_Call], outcomes: list[Applied | QuadroError]) -> None:
        applied = [o for o in outcomes if isinstance(o, Applied)]
        self._publish([e for a in applied for e in a.events], _tasks_after(applied))
        if len(outcomes) != sum(len(call.commands) for call in batch):
            raise ValueError("a batch has one outcome per command")
        start = 0
        for call in batch:
            end = start + len(call.commands)
            if not call.future.done():  # else its caller gave up waiting
                call.future.set_result(outcomes[start:end])
            start = end

    async def _finish_writes(self) -> None:
        """Refuse new commands and wait for the queued ones to be committed."""
        self._closed = True
        while self._writing is not None:
            await asyncio.shield(self._writing)
