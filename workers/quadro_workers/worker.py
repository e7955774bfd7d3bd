"""The Worker: takes the tasks a Chief assigns to it, runs a handler for each, and
reports back, through the client library only.

Assignments arrive over the board's assignment stream (no inbound port), each with its
task, so taking one costs no read. Every `heartbeat_interval` the worker heartbeats
all the tasks it is running in one call (the agent alone when it runs none); when a
handler returns, it posts the result, and when it raises, it moves the task to
HUMAN_REVIEW with the error (`task_failed`). Every call quotes the attempt it
works for, so a worker that was declared stale and wakes up later changes nothing: its
heartbeats are refused, and so is its result.

Delivery is at least once: after a restart the worker takes up again the tasks the
board still shows as its own. Effects are exactly once: the board's request ids and
attempt numbers see to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import quadro
from quadro import errors, limits, names, reasons
from quadro.batcher import Batcher
from quadro.v1 import task_pb2
from quadro_workers.context import (
    Approve,
    BlockingContext,
    Revise,
    Verdict,
    WorkContext,
    output_text,
)

log = logging.getLogger("quadro.worker")

Handler = Callable[[Any], Any] | Callable[[Any], Awaitable[Any]]

IN_PROGRESS = "IN_PROGRESS"
PENDING_REVIEW = "PENDING_REVIEW"
REVISION_NEEDED = "REVISION_NEEDED"


@dataclass
class WorkerStats:
    """What the worker did since it started."""

    completed: int = 0
    reviewed: int = 0
    failed: int = 0
    # Attempts the board took away while they ran (declared stale, reassigned).
    superseded: int = 0
    # Attempts given back on shutdown, unfinished.
    released: int = 0


class Worker:
    """One agent on one board. `await worker.run()` works until `stop()` is called
    (SIGTERM in `quadro worker`), then drains: it takes no new task, lets running
    handlers finish for up to `drain_grace` seconds, and gives back the rest (STALE, so
    that a Chief reassigns them at once).

    Results are posted in batches: those of tasks that finish within `result_delay`
    seconds of one another (2 ms by default) go back in one call.

    `handler(context)` does the work and returns the output: text, or anything JSON-able.
    It may be a coroutine function (it gets a `WorkContext`) or a plain function (it runs
    in a thread and gets a `BlockingContext`). `review_handler(context)`, for agents with
    `review_capabilities`, judges `context.task.output` and returns `Approve(note)`,
    `Revise(note)` or a bool.
    """

    def __init__(
        self,
        client: quadro.AsyncClient,
        board: str,
        agent_id: str,
        handler: Handler,
        *,
        review_handler: Handler | None = None,
        capabilities: Iterable[str] = (),
        review_capabilities: Iterable[str] = (),
        concurrency: int = 1,
        display_name: str = "",
        version: str = "",
        heartbeat_interval: float = 5.0,
        drain_grace: float = 30.0,
        result_delay: float = 0.002,
    ) -> None:
        self.client = client
        self.board = names.board_id(names.board(board))
        self.agent_id = agent_id
        self.handler = handler
        self.review_handler = review_handler
        self.capabilities = list(capabilities)
        self.review_capabilities = list(review_capabilities)
        if self.review_capabilities and review_handler is None:
            raise ValueError("an agent with review_capabilities needs a review_handler")
        self.concurrency = concurrency
        self.display_name = display_name
        self.version = version
        self.heartbeat_interval = heartbeat_interval
        self.drain_grace = drain_grace
        # Results of tasks that finish together go back in one call, answered with their
        # events only: the worker reads no more of an answer than whether it was taken.
        # One call at a time: results that finish while one is out go in the next, so
        # that a busy board gets fewer, fuller calls rather than more of them.
        self._results: Batcher[quadro.Result, Any] = Batcher(
            functools.partial(client.post_results, event_only=True),
            max_items=max(1, min(concurrency, 100)),
            delay=result_delay,
            max_in_flight=1,
        )
        self.stats = WorkerStats()
        self._running: dict[str, asyncio.Task[None]] = {}
        # Handlers at work, by task: the attempt and the handler's task, for heartbeats.
        self._working: dict[str, tuple[int, asyncio.Task[Any]]] = {}
        # Attempts the board said were over: their handlers were cancelled for that.
        self._superseded: set[tuple[str, int]] = set()
        self._taken: set[tuple[str, int]] = set()
        # Assignments that came while draining: (task, attempt), given back unstarted.
        self._unstarted: list[tuple[str, int]] = []
        self._stopping = asyncio.Event()
        self._assignments: quadro.AsyncAssignments | None = None
        self.ready = asyncio.Event()  # set once registered and following the board

    # --- lifecycle ------------------------------------------------------------------

    def stop(self) -> None:
        """Begin draining; `run()` returns once it is done."""
        self._stopping.set()
        if self._assignments is not None:
            asyncio.get_running_loop().create_task(self._assignments.close())

    async def run(self) -> None:
        alive = asyncio.create_task(self._heartbeats(), name="heartbeats")
        try:
            delay = 0.2
            while not self._stopping.is_set():
                try:
                    await self._follow()
                except errors.Unavailable as exc:
                    # The server is away for longer than the client's own retries:
                    # start over (register, take up our tasks, follow) when it is back.
                    log.warning("%s: server unavailable (%s); retrying", self.agent_id, exc)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), delay)
                    delay = min(delay * 2, 10.0)
        finally:
            await self._drain()
            alive.cancel()

    async def _follow(self) -> None:
        await self.client.register_agent(
            self.board,
            self.agent_id,
            display_name=self.display_name,
            capabilities=self.capabilities,
            review_capabilities=self.review_capabilities,
            version=self.version,
            concurrency=self.concurrency,
        )
        # Head first, then what the board already holds for us: an assignment made in
        # between is both listed and replayed, and taken once.
        head = (await self.client.get_board(self.board)).board.head_sequence
        async for task in self.client.iter_tasks(
            self.board, statuses=[IN_PROGRESS], assigned_to=self.agent_id
        ):
            self._start(task, await self._assigned_from(task))
        self._assignments = self.client.watch_assignments(
            self.board, self.agent_id, after_sequence=head
        )
        self.ready.set()
        if self._stopping.is_set():
            return
        async with self._assignments as assignments:
            async for assignment in assignments:
                if assignment.current:  # else it moved on before it reached us
                    self._start(assignment.task, assignment.event.from_status)

    async def _assigned_from(self, task: task_pb2.Task) -> str:
        """The status a task held before its current assignment (is it a review?)."""
        history = await self.client.list_events(
            self.board, task=task.name, event_types=["task_assigned"], page_size=1000
        )
        found = [e for e in history.events if e.attempt == task.attempt]
        return found[-1].from_status if found else ""

    def _start(self, task: task_pb2.Task, from_status: str) -> None:
        key = (task.name, task.attempt)
        if key in self._taken:
            return
        if self._stopping.is_set():
            self._unstarted.append(key)
            return
        self._taken.add(key)
        name = task.name
        run = asyncio.create_task(self._execute(task, from_status), name=name)
        self._running[name] = run
        run.add_done_callback(lambda _: self._running.pop(name, None))

    async def _heartbeats(self) -> None:
        """Heartbeat every task at work, in one call per tick (batches of at most
        BATCH_ITEMS_MAX), and cancel the handlers of attempts the board says are over;
        with no task at work, heartbeat the agent, so that it does not look OFFLINE."""
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            working = list(self._working.items())
            beats = [
                quadro.Beat(self.board, self.agent_id, task=name, attempt=attempt)
                for name, (attempt, _) in working
            ] or [quadro.Beat(self.board, self.agent_id)]
            for start in range(0, len(beats), limits.BATCH_ITEMS_MAX):
                chunk = slice(start, start + limits.BATCH_ITEMS_MAX)
                try:
                    answers = await self.client.heartbeats(beats[chunk])
                except errors.QuadroError as exc:
                    log.warning("%s: heartbeats failed: %s", self.agent_id, exc)
                    continue
                for (name, (attempt, work)), answer in zip(working[chunk], answers, strict=False):
                    if isinstance(answer, (errors.FailedPrecondition, errors.NotFound)):
                        if work.done():
                            continue  # it finished meanwhile; a late result is refused
                        self._superseded.add((name, attempt))
                        work.cancel()
                    elif isinstance(answer, errors.QuadroError):
                        log.warning("%s: heartbeat for %s failed: %s", self.agent_id, name, answer)

    async def _drain(self) -> None:
        # Assigned but never started: give them back at once.
        unstarted, self._unstarted = self._unstarted, []
        for name, attempt in unstarted:
            await self._release(name, attempt)
        running = list(self._running.values())
        if running:
            log.info("%s: draining %d task(s)", self.agent_id, len(running))
            _, unfinished = await asyncio.wait(running, timeout=self.drain_grace)
            for run in unfinished:
                run.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)

    # --- one task -------------------------------------------------------------------

    async def _execute(self, task: task_pb2.Task, from_status: str) -> None:
        name, attempt = task.name, task.attempt
        review = from_status == PENDING_REVIEW
        handler = self.review_handler if review else self.handler
        if handler is None:
            # Assigned a review it cannot do: put it back in the review queue.
            await self._settle(
                name,
                self.client.transition_task(
                    name,
                    PENDING_REVIEW,
                    attempt=attempt,
                    expected_status=IN_PROGRESS,
                    note=f"{self.agent_id} does not review; returned to review",
                ),
            )
            return
        context = self._context(handler, task, review, from_status == REVISION_NEEDED)
        work = asyncio.create_task(self._call(handler, context))
        self._working[name] = (attempt, work)
        try:
            result = await work
        except asyncio.CancelledError:
            if (name, attempt) in self._superseded:
                self._superseded.discard((name, attempt))
                self.stats.superseded += 1
                log.info("%s: attempt %d of %s was superseded", self.agent_id, attempt, name)
                return
            if self._stopping.is_set():
                await self._release(name, attempt)
                return
            raise
        except Exception as exc:
            log.warning("%s: handler failed on %s: %r", self.agent_id, name, exc)
            await self._fail(name, attempt, exc, context)
            return
        finally:
            if self._working.get(name, (None,))[0] == attempt:
                del self._working[name]
        if review:
            await self._review(name, attempt, result, context)
        else:
            done = quadro.Result(
                name, output_text(result), agent=self.agent_id, attempt=attempt, note=context.notes
            )
            posted = await self._settle(name, self._results.submit(done))
            self.stats.completed += posted  # after the await: other tasks count meanwhile

    def _context(
        self, handler: Handler, task: task_pb2.Task, review: bool, revision: bool
    ) -> WorkContext:
        if inspect.iscoroutinefunction(handler):
            return WorkContext(self.client, task, self.agent_id, review, revision)
        context = BlockingContext(self.client, task, self.agent_id, review, revision)
        context.loop = asyncio.get_running_loop()
        return context

    @staticmethod
    async def _call(handler: Handler, context: WorkContext) -> Any:
        if inspect.iscoroutinefunction(handler):
            return await handler(context)
        return await asyncio.to_thread(handler, context)

    async def _review(self, name: str, attempt: int, result: Any, context: WorkContext) -> None:
        verdict: Verdict
        if isinstance(result, (Approve, Revise)):
            verdict = result
        else:
            verdict = Approve() if result else Revise()
        to_status = "APPROVED" if isinstance(verdict, Approve) else "REVISION_NEEDED"
        note = "\n".join(n for n in (verdict.note, context.notes) if n)
        reviewed = await self._settle(
            name,
            self.client.transition_task(
                name, to_status, attempt=attempt, expected_status=IN_PROGRESS, note=note
            ),
        )
        self.stats.reviewed += reviewed

    async def _fail(self, name: str, attempt: int, exc: Exception, context: WorkContext) -> None:
        note = f"{self.agent_id} failed: {type(exc).__name__}: {exc}"
        failed = await self._settle(
            name,
            self.client.transition_task(
                name,
                "HUMAN_REVIEW",
                attempt=attempt,
                expected_status=IN_PROGRESS,
                output=f"{type(exc).__name__}: {exc}",
                note="\n".join(n for n in (context.notes, note) if n)[:8192],
            ),
        )
        self.stats.failed += failed

    async def _release(self, name: str, attempt: int) -> None:
        """Give an unfinished task back on shutdown: STALE, which a Chief reassigns."""
        released = await self._settle(
            name,
            self.client.transition_task(
                name,
                "STALE",
                attempt=attempt,
                expected_status=IN_PROGRESS,
                note=f"released unfinished by {self.agent_id} on shutdown",
            ),
        )
        self.stats.released += released

    async def _settle(self, name: str, call: Awaitable[Any]) -> int:
        """Make the final call of an attempt: 1 if the board took it, 0 if the attempt
        had been superseded meanwhile (or the lifecycle has no such move)."""
        try:
            await call
        except (errors.FailedPrecondition, errors.NotFound) as exc:
            if exc.reason in (reasons.STALE_ATTEMPT, reasons.NOT_ASSIGNEE, reasons.STATUS_MISMATCH):
                self.stats.superseded += 1
                log.info("%s: %s was superseded: %s", self.agent_id, name, exc.message)
            else:
                log.warning("%s: %s: %s", self.agent_id, name, exc.message)
            return 0
        return 1


__all__ = ["Worker", "WorkerStats"]
