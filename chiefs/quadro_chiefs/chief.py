"""The Chief: wakes when its scope of the board changes, reads a snapshot of that scope,
asks a policy what to do, and applies the answer through the client library, each
action a compare-and-set. It never executes a task.

One cycle runs at a time. Wakes that arrive during a cycle coalesce into one follow-up
cycle, however many they are. Heartbeats never wake a Chief, and neither do the events
of its own actions.

With the built-in policy, a cycle woken by an event decides on the view the Chief keeps
from the events it follows (quadro_chiefs/live.py) rather than on a new read of the
scope, as long as that view can be trusted; the other cycles read. Such a cycle, when
its actions are lone moves, is done deciding once they are out: the view takes them in
as done and the next cycle may decide before their answers come back (at most two
cycles' moves out; cycles recorded in the order they decided).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import quadro
from quadro import errors, limits, names, reasons
from quadro.v1 import agent_pb2, board_pb2, chief_pb2, event_pb2
from quadro_chiefs.actions import Action, Assign, HandOff, PostTask, Transition
from quadro_chiefs.cadence import Cadence, Cron, Debounced, Periodic, Reactive
from quadro_chiefs.live import LiveView
from quadro_chiefs.policies import default_policy
from quadro_chiefs.snapshot import IN_PROGRESS, WAITING_LIMIT, BoardView, Snapshot, read_board

log = logging.getLogger("quadro.chief")

Policy = Callable[[Snapshot], Iterable[Action] | Awaitable[Iterable[Action]]]

# Why a cycle ran.
SEED = "seed"
EVENT = "event"
STALE = "stale"
SCHEDULE = "schedule"
# When several wakes coalesce into one cycle, the record names the first of these.
_TRIGGER_ORDER = (SEED, SCHEDULE, STALE, EVENT)

# Outcomes that mean someone else got there first: counted, not errors.
_LOST_RACE = {
    reasons.STATUS_MISMATCH,
    reasons.ETAG_MISMATCH,
    reasons.AGENT_AT_CAPACITY,
    reasons.STALE_ATTEMPT,
    reasons.TASK_EXISTS,
    reasons.REQUEST_ID_CONFLICT,
    reasons.ALREADY_HANDED_OFF,
}
_OWN_REQUESTS_KEPT = 100_000
# The events that wake a Chief by default: everything that can leave work to decide on.
# An assignment cannot (it only takes work away), and a heartbeat never wakes a Chief.
WAKE_ON = (
    "task_posted",
    "task_completed",
    "task_reviewed",
    "task_stale",
    "task_reassigned",
    "task_failed",
)


_TRIGGER_PROTO = {
    SEED: chief_pb2.CYCLE_TRIGGER_SEED,
    EVENT: chief_pb2.CYCLE_TRIGGER_EVENT,
    STALE: chief_pb2.CYCLE_TRIGGER_STALE,
    SCHEDULE: chief_pb2.CYCLE_TRIGGER_SCHEDULE,
}


def _capacity(snapshot: Snapshot) -> frozenset[tuple[str, int, int]]:
    return _capacity_of(a for board in snapshot.boards for a in board.agents)


def _capacity_of(agents: Iterable[agent_pb2.Agent]) -> frozenset[tuple[str, int, int]]:
    """Who could take work, and how much: enough to tell that it changed."""
    return frozenset((a.name, a.status, a.concurrency - a.active_tasks) for a in agents)


def _board_of(action: Action) -> str:
    """The board an action changes: the task's, or the one a task is posted on."""
    if isinstance(action, (PostTask, HandOff)):
        return names.board_id(names.board(action.board))
    return names.board_id(action.task)


class ChiefState:
    SLEEPING = "sleeping"
    THINKING = "thinking"
    ACTING = "acting"


@dataclass(frozen=True)
class CycleRecord:
    """One decision cycle, for the sleep study."""

    number: int
    trigger: str
    start: float  # seconds since the epoch
    duration: float  # seconds
    actions: int  # applied
    lost_races: int
    errors: int
    in_flight: int  # tasks IN_PROGRESS in scope when the cycle read the board
    waiting: int  # tasks waiting for a decision in scope
    # An event-triggered wake that found nothing to do.
    noop: bool


@dataclass(frozen=True)
class _Recorded:
    """A cycle's record waiting to be sent; `sent` is done once it was."""

    record: CycleRecord
    snapshot: Snapshot
    counts: dict[str, list[int]]
    sent: asyncio.Future[None]


@dataclass
class _Cycle:
    """One cycle between its decision and its record."""

    trigger: str
    start: float  # seconds since the epoch
    clock: float  # monotonic
    counts: dict[str, list[int]]  # per board: applied, lost races, errors
    snapshot: Snapshot = field(default_factory=Snapshot)
    actions: list[Action] = field(default_factory=list)
    # Every board's view was the live view's, not a read.
    from_view: bool = False


class ChiefAgent:
    """A Chief over `boards`, for the task types matching `task_types` (all if empty).

    Build one with `ChiefAgent.builder(client)`; `await chief.run()` until `stop()`.
    """

    def __init__(
        self,
        client: quadro.AsyncClient,
        name: str,
        boards: Sequence[str],
        *,
        task_types: Sequence[str] = (),
        cadence: Cadence | None = None,
        policy: Policy = default_policy,
        max_concurrent_actions: int = 32,
        cycles_kept: int = 10_000,
        version: str = "",
        wake_on: Sequence[str] = WAKE_ON,
        capacity_check: float = 2.0,
        waiting_limit: int = WAITING_LIMIT,
        read_in_progress: bool | None = None,
        live_view: bool | None = None,
        view_max_age: float = 1.0,
    ) -> None:
        """`capacity_check`: while work waits and the last cycle could hand none of it
        out, look at the agents every this many seconds, and think again when their
        capacity has changed (a worker joined or freed a slot without an event that
        says so). 0 turns it off.

        `waiting_limit`: a cycle's snapshot holds, per board, the first this many tasks
        waiting for an agent, in dispatch order (0: the whole backlog). Tasks that no
        agent of the scope can take, sitting ahead of more than this many, hide the
        ones behind them: scope Chiefs by task type, or raise it.

        `read_in_progress`: whether snapshots hold the tasks IN_PROGRESS. By default
        they do for a policy of one's own, and not for the built-in one, which needs
        only the agents' counts.

        `live_view`: whether a cycle woken by an event may decide on the view kept from
        the events since the last read (quadro_chiefs/live.py) instead of reading the
        scope. Such a view holds what events say of a task (status, assignee, attempt,
        etag, lifecycle, priority, type, times), not its labels, notes or output: by
        default it is kept for the built-in policy, which needs no more, and not for a
        policy of one's own. `view_max_age`: after how many seconds a view is read again,
        in the background while it serves (agents join, leave and go quiet without an
        event)."""
        if not boards:
            raise ValueError("a Chief needs at least one board")
        self.client = client
        self.name = name
        self.boards = [names.board_id(names.board(b)) for b in boards]
        self.task_types = list(task_types)
        self.cadence: Cadence = cadence or Reactive()
        self.policy = policy
        self.max_concurrent_actions = max_concurrent_actions
        self.version = version
        self.wake_on = list(wake_on)
        self.capacity_check = capacity_check
        self.waiting_limit = waiting_limit
        self.read_in_progress = (
            policy is not default_policy if read_in_progress is None else read_in_progress
        )
        self.live_view = policy is default_policy if live_view is None else live_view
        self._live = LiveView(view_max_age)
        # Boards whose last read was cut at the waiting limit: no view to keep there.
        self._cut: set[str] = set()
        # Per board, the read that refreshes its view in the background, if one is out.
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        # Cycles whose moves are out while later ones decide, oldest first.
        self._moves_out: list[asyncio.Task[None]] = []
        # Boards as first read: their lifecycles never change, so cycles need not re-read.
        self._board_specs: dict[str, board_pb2.Board] = {}
        # Agents' capacity as the last cycle saw it, while work waited undispatched.
        self._stuck_on: frozenset[tuple[str, int, int]] | None = None
        self.state = ChiefState.SLEEPING
        self.cycles: collections.deque[CycleRecord] = collections.deque(maxlen=cycles_kept)
        self.cycle_count = 0
        # Events of the scope received (its own actions' excepted), woken by or not.
        self.events_seen = 0
        self.ready = asyncio.Event()  # set once registered and following the boards
        self._following = asyncio.Event()
        self._triggers: set[str] = set()
        self._wake = asyncio.Event()
        self._dirty = False
        self._stopping = asyncio.Event()
        self._own: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._subscription: quadro.AsyncSubscription | None = None
        # What the boards are still to be told, in order: states and cycle records.
        self._outbox: collections.deque[int | _Recorded] = collections.deque()
        self._sending: asyncio.Task[None] | None = None

    @staticmethod
    def builder(client: quadro.AsyncClient) -> ChiefBuilder:
        return ChiefBuilder(client)

    # --- running --------------------------------------------------------------------

    def stop(self) -> None:
        """Stop after the current cycle."""
        self._stopping.set()
        self._wake.set()
        if self._subscription is not None:
            asyncio.get_running_loop().create_task(self._subscription.close())

    def wake(self, trigger: str = EVENT) -> None:
        """Ask for a cycle (a scheduled Chief only notes that something changed)."""
        self._dirty = True
        if trigger in (EVENT, STALE) and isinstance(self.cadence, (Periodic, Cron)):
            return  # a scheduled Chief thinks at its ticks only
        self._triggers.add(trigger)
        self._wake.set()

    async def run(self) -> None:
        follow = asyncio.create_task(self._follow(), name=f"chief-{self.name}-events")
        try:
            following = asyncio.create_task(self._following.wait())
            await asyncio.wait([follow, following], return_when=asyncio.FIRST_COMPLETED)
            following.cancel()
            if follow.done():
                follow.result()  # the subscription failed (no such board...): say why
            await self._register()
            self.ready.set()
            self.wake(SEED)
            watch = asyncio.create_task(self._watch_capacity(), name=f"chief-{self.name}-capacity")
            try:
                await self._cycles()
            finally:
                watch.cancel()
                for refreshing in self._refreshing.values():
                    refreshing.cancel()
                await self._settle()
                if self._sending is not None:
                    await self._sending
        finally:
            follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follow

    async def _follow(self) -> None:
        heads = {}
        for board in self.boards:
            heads[names.board(board)] = (await self.client.get_board(board)).board.head_sequence
        # A live view needs every move, not only those that wake the Chief.
        self._subscription = self.client.subscribe(
            self.boards,
            after_sequences=heads,
            task_types=self.task_types,
            event_types=() if self.live_view else self.wake_on,
        )
        wake_on = set(self.wake_on)
        self._following.set()
        async with self._subscription as events:
            async for event in events:
                if self.live_view:
                    self._live.apply(event)
                if event.request_id in self._own:
                    continue  # the echo of our own action
                if quadro.event_type_name(event.type) not in wake_on:
                    continue
                self.events_seen += 1
                self.wake(STALE if event.type == event_pb2.EVENT_TYPE_TASK_STALE else EVENT)

    async def _cycles(self) -> None:
        next_tick = self._next_tick(time.time())
        last_start = 0.0
        while not self._stopping.is_set():
            timeout = None if next_tick is None else max(0.0, next_tick - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            if self._stopping.is_set():
                return
            if next_tick is not None and time.time() >= next_tick:
                next_tick = self._next_tick(time.time())
                skip = getattr(self.cadence, "skip_idle", False) and not self._dirty
                if not skip:
                    self._triggers.add(SCHEDULE)
            if not self._triggers:
                self._wake.clear()
                continue
            if isinstance(self.cadence, Debounced):
                # At most one cycle per interval; wakes meanwhile join this one.
                await asyncio.sleep(max(0.0, last_start + self.cadence.interval - time.time()))
            self._wake.clear()
            triggers, self._triggers = self._triggers, set()
            trigger = next(t for t in _TRIGGER_ORDER if t in triggers)
            last_start = time.time()
            # At most two cycles' moves out: the oldest must come back first.
            while len(self._moves_out) >= 2:
                await asyncio.wait([self._moves_out[0]])
            cycle = await self._think(trigger)
            if self.live_view and self._overlaps(cycle):
                # Its moves go out; the view takes them in as done, and the next cycle
                # may decide while they are out, without waiting for their answers.
                for action in cycle.actions:
                    if isinstance(action, (Assign, Transition)):
                        self._live.expect(action)
                after = self._moves_out[-1] if self._moves_out else None
                acting = asyncio.create_task(self._act_and_close(cycle, after))
                self._moves_out.append(acting)
                continue
            await self._settle()
            await self._act(cycle)
            # The cycle's record goes to the boards while the next cycle runs.
            await self._close(cycle, wait_for_record=False)

    def _next_tick(self, now: float) -> float | None:
        if isinstance(self.cadence, (Periodic, Cron)):
            return self.cadence.next_tick(now)
        return None

    # --- one cycle ------------------------------------------------------------------

    async def run_cycle(self, trigger: str, *, wait_for_record: bool = True) -> CycleRecord:
        """Read, decide, act, record (here and on every board of the scope). Safe to call
        directly (tests, manual runs). Without `wait_for_record`, the record reaches the
        boards in the background, after the previous cycle's."""
        cycle = await self._think(trigger)
        await self._act(cycle)
        return await self._close(cycle, wait_for_record)

    async def _think(self, trigger: str) -> _Cycle:
        """Read (or take the live view) and decide."""
        cycle = _Cycle(trigger, time.time(), time.monotonic(), {b: [0, 0, 0] for b in self.boards})
        self._dirty = False
        self.state = ChiefState.THINKING
        self._report(chief_pb2.CHIEF_STATE_THINKING)
        try:
            read = await asyncio.gather(*(self._read(b, trigger != EVENT) for b in self.boards))
            cycle.snapshot = Snapshot([view for view, _ in read])
            cycle.from_view = all(kept for _, kept in read)
            decided = self.policy(cycle.snapshot)
            if inspect.isawaitable(decided):
                decided = await decided
            cycle.actions = list(decided)
        except errors.QuadroError as exc:
            self._failed(cycle, exc)
        return cycle

    async def _act(self, cycle: _Cycle) -> None:
        if not cycle.actions:
            return
        self.state = ChiefState.ACTING
        self._report(chief_pb2.CHIEF_STATE_ACTING)
        try:
            await self._apply(cycle.actions, cycle.counts)
        except errors.QuadroError as exc:
            self._failed(cycle, exc)

    def _failed(self, cycle: _Cycle, exc: errors.QuadroError) -> None:
        # The board is unreachable or refused the call: try again on the next wake.
        log.warning("chief %s: cycle failed: %s", self.name, exc)
        self._dirty = True
        cycle.counts[self.boards[0]][2] += 1

    async def _close(self, cycle: _Cycle, wait_for_record: bool) -> CycleRecord:
        """Count and record the cycle, once its actions have come back."""
        counts, snapshot = cycle.counts, cycle.snapshot
        if not self._moves_out:
            self.state = ChiefState.SLEEPING
        if any(c[1] or c[2] for c in counts.values()):
            # Others moved what the view held, or something failed: read next time.
            self._live.invalidate()
        self.cycle_count += 1
        record = CycleRecord(
            number=self.cycle_count,
            trigger=cycle.trigger,
            start=cycle.start,
            duration=time.monotonic() - cycle.clock,
            actions=sum(c[0] for c in counts.values()),
            lost_races=sum(c[1] for c in counts.values()),
            errors=sum(c[2] for c in counts.values()),
            in_flight=snapshot.in_flight,
            waiting=snapshot.waiting,
            noop=cycle.trigger == EVENT and not cycle.actions,
        )
        self.cycles.append(record)
        recorded = _Recorded(record, snapshot, counts, asyncio.get_running_loop().create_future())
        if self._outbox and isinstance(self._outbox[-1], int):
            self._outbox.pop()  # a state not yet reported: the record says SLEEPING
        self._outbox.append(recorded)
        if self._moves_out:
            # The record puts the Chief to sleep on the boards; a later cycle still acts.
            self._outbox.append(chief_pb2.CHIEF_STATE_ACTING)
        self._send_soon()
        if wait_for_record:
            await recorded.sent
        stuck = record.waiting and not record.actions and not record.errors
        self._stuck_on = _capacity(snapshot) if stuck else None
        if record.lost_races:
            # Others moved what it saw: the board has changed since the snapshot, and
            # what it lost may have left work undone (a slot it counted on was taken).
            # Decide again on a fresh snapshot, as any event would make it.
            self.wake(EVENT)
        return record

    def _overlaps(self, cycle: _Cycle) -> bool:
        """Whether the cycle's moves may be out while the next cycle decides: it decided
        on the live view, and its actions are lone moves of distinct tasks, which the
        view can take in as done until their answers say otherwise."""
        moves = [a for a in cycle.actions if isinstance(a, (Assign, Transition))]
        return (
            cycle.from_view
            and bool(moves)
            and len(moves) == len(cycle.actions)
            and len({m.task for m in moves}) == len(moves)
        )

    async def _act_and_close(self, cycle: _Cycle, after: asyncio.Task[None] | None) -> None:
        try:
            await self._act(cycle)
        finally:
            self._live.settle(cycle.actions)
            if after is not None:
                await asyncio.wait([after])  # records in the order the cycles decided
            self._moves_out.remove(asyncio.current_task())  # type: ignore[arg-type]
            await self._close(cycle, wait_for_record=False)

    async def _settle(self) -> None:
        """Wait for every cycle's moves still out (a read must see them)."""
        while self._moves_out:
            await asyncio.wait(list(self._moves_out))

    async def _read(self, board: str, fresh: bool = True) -> tuple[BoardView, bool]:
        """The board's view for a cycle: the live view's unless `fresh` (or it cannot be
        trusted), else a read, which starts the live view over; and whether it was the
        live view's. A view that has served `view_max_age` is read again in the
        background, while it goes on serving: the read never sits between a task's
        posting and its assignment."""
        keep = self.live_view and self._following.is_set() and not self._stopping.is_set()
        refreshing = self._refreshing.pop(board, None)
        if keep and not fresh:
            assert self._subscription is not None
            position = self._subscription.positions.get(names.board(board), 0)
            kept = self._live.snapshot(board, position, self.read_in_progress)
            if kept is not None:
                if refreshing is None and self._live.due(board):
                    refreshing = asyncio.create_task(self._refresh(board))
                if refreshing is not None and not refreshing.done():
                    self._refreshing[board] = refreshing
                return kept, True
        if refreshing is not None:
            refreshing.cancel()  # this read supersedes it
        return await self._read_board(board, keep), False

    async def _refresh(self, board: str) -> None:
        try:
            # Moves may be out meanwhile: the view takes them in again over the read.
            await self._read_board(board, keep=True, settle=False)
        except errors.QuadroError as exc:
            log.info("chief %s: could not read %s again: %s", self.name, board, exc)

    async def _read_board(self, board: str, keep: bool, settle: bool = True) -> BoardView:
        if settle:
            await self._settle()  # a cycle's read sees the moves of the cycles before it
        # A view is kept from a read of the whole scope, the tasks in progress included
        # (they say how busy each agent is); not while reads are cut at the limit.
        whole = keep and board not in self._cut
        if whole:
            self._live.reading(board)
        view = await read_board(
            self.client,
            self._board_specs.get(board, board),
            self.task_types,
            self.waiting_limit,
            self.read_in_progress or whole,
        )
        self._board_specs[board] = view.board
        if keep:
            if view.truncated:
                self._cut.add(board)
            else:
                self._cut.discard(board)
        if whole:
            # The read reflects the log up to some point at or before this head.
            head = (await self.client.get_board(board)).board.head_sequence
            self._live.reset(view, head)
            if not self.read_in_progress:
                view = BoardView(
                    view.board,
                    [t for t in view.tasks if t.status != IN_PROGRESS],
                    view.agents,
                    view.truncated,
                    in_progress_read=False,
                )
        return view

    async def _watch_capacity(self) -> None:
        """A worker that registers, or frees a slot, writes no event a Chief wakes on:
        while work waits undispatched, check the agents now and then, and think again
        when their capacity differs from what the last cycle saw. A scheduled Chief
        keeps to its ticks."""
        if self.capacity_check <= 0 or isinstance(self.cadence, (Periodic, Cron)):
            return
        while not self._stopping.is_set():
            await asyncio.sleep(self.capacity_check)
            seen = self._stuck_on
            if seen is None or SCHEDULE in self._triggers:
                continue
            try:
                agents = [
                    a for b in self.boards async for a in self.client.iter_agents(b, page_size=1000)
                ]
            except errors.QuadroError:
                continue
            if _capacity_of(agents) != seen:
                self._stuck_on = None
                self.wake(SCHEDULE)

    async def _register(self) -> None:
        for board in self.boards:
            await self.client.register_chief(
                board,
                self.name,
                task_types=self.task_types,
                boards=self.boards,
                cadence=self.cadence.describe(),
                version=self.version,
            )

    def _report(self, state: int) -> None:
        """Say on every board what the Chief is doing, in the background, never holding
        the cycle back: a state still waiting to be sent when the next comes is replaced
        by it."""
        if self._outbox and isinstance(self._outbox[-1], int):
            self._outbox[-1] = state
        else:
            self._outbox.append(state)
        self._send_soon()

    def _send_soon(self) -> None:
        if self._sending is None:
            self._sending = asyncio.create_task(self._send(), name=f"chief-{self.name}-reports")

    async def _send(self) -> None:
        """Send the outbox in order: the boards see a cycle's states, then its record."""
        pending: list[int | _Recorded] = []
        try:
            while self._outbox:
                pending = [self._outbox.popleft()]
                (item,) = pending
                if isinstance(item, _Recorded):
                    await self._record(item.record, item.snapshot, item.counts)
                    item.sent.set_result(None)
                else:
                    await asyncio.gather(
                        *(
                            self._quietly(self.client.report_chief_state(b, self.name, item))
                            for b in self.boards
                        )
                    )
            pending = []
        finally:
            self._sending = None
            # Cancelled: whoever waits for a record left unsent is not left waiting.
            for left in [*pending, *self._outbox]:
                if isinstance(left, _Recorded) and not left.sent.done():
                    left.sent.cancel()
            self._outbox.clear()

    async def _record(
        self, record: CycleRecord, snapshot: Snapshot, counts: dict[str, list[int]]
    ) -> None:
        """The cycle, as each board of the scope saw it, for the sleep study."""
        views = {v.id: v for v in snapshot.boards}
        calls = []
        for board in self.boards:
            view = views.get(board)
            cycle = chief_pb2.ChiefCycle(
                trigger=_TRIGGER_PROTO[record.trigger],
                actions=counts[board][0],
                lost_races=counts[board][1],
                errors=counts[board][2],
                in_flight=Snapshot([view]).in_flight if view else 0,
                waiting=Snapshot([view]).waiting if view else 0,
                noop=record.noop,
            )
            cycle.start_time.FromMicroseconds(round(record.start * 1e6))
            cycle.duration.FromMicroseconds(round(record.duration * 1e6))
            calls.append(self._quietly(self.client.record_chief_cycle(board, self.name, cycle)))
        await asyncio.gather(*calls)

    async def _quietly(self, call: Awaitable[Any]) -> None:
        try:
            await call
        except errors.QuadroError as exc:
            log.warning("chief %s: could not report to the board: %s", self.name, exc)

    async def _apply(self, actions: list[Action], counts: dict[str, list[int]]) -> None:
        """Apply the actions: those on one task in order (a later one may depend on an
        earlier), different tasks concurrently, and every lone move (the dispatch of a
        cycle, mostly) together in batch calls. Counts applied, lost races and errors
        per board in `counts`."""
        by_task: dict[str, list[Action]] = {}
        for index, action in enumerate(actions):
            key = action.task if isinstance(action, (Assign, Transition, HandOff)) else index
            by_task.setdefault(str(key), []).append(action)
        lone: list[Assign | Transition] = []
        chains: list[list[Action]] = []
        for chain in by_task.values():
            first = chain[0]
            if len(chain) == 1 and isinstance(first, (Assign, Transition)):
                lone.append(first)
            else:
                chains.append(chain)
        limit = asyncio.Semaphore(self.max_concurrent_actions)

        def count(action: Action, outcome: int) -> None:
            counts.setdefault(_board_of(action), [0, 0, 0])[outcome] += 1

        async def run(chain: list[Action]) -> None:
            async with limit:
                for action in chain:
                    outcome = await self._apply_one(action)
                    count(action, outcome)
                    if outcome:
                        return  # what follows depended on this one

        async def run_batch(batch: list[Assign | Transition]) -> None:
            async with limit:
                try:
                    results = await self.client.transition_tasks(
                        [self._move(a, self._remember(quadro.new_request_id())) for a in batch],
                        event_only=True,  # only whether each move was applied counts
                    )
                except errors.QuadroError as exc:
                    results = [exc] * len(batch)
                for action, result in zip(batch, results, strict=True):
                    count(action, self._outcome(action, result))
                    self._learn(result)

        batches = [
            lone[i : i + limits.BATCH_ITEMS_MAX]
            for i in range(0, len(lone), limits.BATCH_ITEMS_MAX)
        ]
        await asyncio.gather(*(run(chain) for chain in chains), *(run_batch(b) for b in batches))

    async def _apply_one(self, action: Action) -> int:
        """0 applied, 1 lost a race, 2 failed."""
        request_id = action.request_id if isinstance(action, PostTask) else None
        request_id = self._remember(request_id or quadro.new_request_id())
        try:
            self._learn(await self._call(action, request_id))
        except errors.QuadroError as exc:
            return self._outcome(action, exc)
        return 0

    def _learn(self, result: object) -> None:
        """What one's own move did goes into the live view at once, before its echo."""
        event = getattr(result, "event", None)
        if self.live_view and isinstance(event, event_pb2.Event) and event.sequence:
            self._live.apply(event)

    def _outcome(self, action: Action, result: object) -> int:
        """0 applied, 1 lost a race, 2 failed."""
        if not isinstance(result, errors.QuadroError):
            return 0
        if result.reason in _LOST_RACE:
            return 1
        log.warning("chief %s: %s failed: %s", self.name, type(action).__name__, result)
        return 2

    @staticmethod
    def _move(action: Assign | Transition, request_id: str) -> quadro.Move:
        if isinstance(action, Assign):
            return quadro.Move(
                action.task,
                "IN_PROGRESS",
                assignee=action.agent,
                expected_status=action.expected_status,
                etag=action.etag,
                note=action.note,
                context_snapshot_hash=action.context_snapshot_hash,
                request_id=request_id,
            )
        return quadro.Move(
            action.task,
            action.to_status,
            expected_status=action.expected_status,
            etag=action.etag,
            note=action.note,
            output=action.output,
            request_id=request_id,
        )

    async def _call(self, action: Action, request_id: str) -> Any:
        c = self.client
        if isinstance(action, (Assign, Transition)):
            (result,) = await c.transition_tasks([self._move(action, request_id)])
            if isinstance(result, errors.QuadroError):
                raise result
            return result
        if isinstance(action, PostTask):
            return await c.post_task(
                action.board,
                action.task_type,
                action.label,
                task_id=action.task_id,
                priority=action.priority,
                notes=action.notes,
                labels=action.labels,
                parent_task=action.parent_task,
                request_id=request_id,
            )
        return await c.hand_off_task(
            action.task,
            action.board,
            action.task_type,
            action.label,
            priority=action.priority,
            labels=action.labels,
            to_status=action.to_status,
            expected_status=action.expected_status,
            request_id=request_id,
        )

    def _remember(self, request_id: str) -> str:
        self._own[request_id] = None
        if len(self._own) > _OWN_REQUESTS_KEPT:
            self._own.popitem(last=False)
        return request_id


class ChiefBuilder:
    """`ChiefAgent.builder(client).named("intake").boards("claims").task_types("intake_*")
    .cadence(Reactive()).policy(my_policy).build()`."""

    def __init__(self, client: quadro.AsyncClient) -> None:
        self._client = client
        self._name = "chief"
        self._boards: list[str] = []
        self._task_types: list[str] = []
        self._cadence: Cadence = Reactive()
        self._policy: Policy = default_policy

    def named(self, name: str) -> ChiefBuilder:
        self._name = name
        return self

    def boards(self, *boards: str) -> ChiefBuilder:
        self._boards.extend(boards)
        return self

    def task_types(self, *patterns: str) -> ChiefBuilder:
        self._task_types.extend(patterns)
        return self

    def cadence(self, cadence: Cadence) -> ChiefBuilder:
        self._cadence = cadence
        return self

    def policy(self, policy: Policy) -> ChiefBuilder:
        self._policy = policy
        return self

    def build(self) -> ChiefAgent:
        return ChiefAgent(
            self._client,
            self._name,
            self._boards,
            task_types=self._task_types,
            cadence=self._cadence,
            policy=self._policy,
        )


__all__ = ["ChiefAgent", "ChiefBuilder", "ChiefState", "CycleRecord"]
