"""Chiefs against a real server: dispatch with workers end to end, racing Chiefs that
never dispatch a task twice, coalescing of wakes, the noop rule, and cadences that keep
a Chief asleep between its ticks."""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from collections.abc import Iterable
from typing import Any, cast

import pytest

import quadro
from quadro.v1 import chief_pb2, task_pb2
from quadro_chiefs import (
    Action,
    ChiefAgent,
    Debounced,
    HandOff,
    Periodic,
    Snapshot,
)
from quadro_chiefs.chief import SEED
from quadro_chiefs.snapshot import read_board
from quadro_workers import Approve, WorkContext, Worker
from support.runtime import Background, until

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def board(work_board: str) -> str:
    """The runtimes' board (see conftest): `quick_*` fast, the rest review_required."""
    return work_board


async def post_many(
    client: quadro.AsyncClient, board: str, task_type: str, count: int
) -> list[str]:
    limit = asyncio.Semaphore(32)

    async def post(i: int) -> str:
        async with limit:
            return (await client.post_task(board, task_type, f"task {i}")).task.name

    return list(await asyncio.gather(*(post(i) for i in range(count))))


async def statuses(client: quadro.AsyncClient, board: str) -> collections.Counter[str]:
    return collections.Counter([t.status async for t in client.iter_tasks(board, page_size=1000)])


async def test_a_chief_and_workers_finish_mixed_work(
    aclient: quadro.AsyncClient, board: str
) -> None:
    """fast and review_required tasks, one of them revised once, all reach COMPLETE, and
    each task's history follows its lifecycle."""
    revised: set[str] = set()

    async def work(context: WorkContext) -> str:
        return f"done {context.task.label}"

    async def review(context: WorkContext) -> Approve | bool:
        if context.task.label == "task 0" and context.task.name not in revised:
            revised.add(context.task.name)
            return False  # once: ask for a revision
        return Approve("ok")

    chief = ChiefAgent(aclient, "dispatcher", [board])
    workers = [
        Worker(aclient, board, f"w{i}", work, concurrency=2, heartbeat_interval=0.2)
        for i in range(2)
    ]
    reviewer = Worker(aclient, board, "senior", work, review_handler=review,
                      review_capabilities=["assess"], capabilities=["none"],
                      heartbeat_interval=0.2)  # fmt: skip
    async with Background(chief, *workers, reviewer):
        fast = await post_many(aclient, board, "quick_check", 10)
        reviewed = await post_many(aclient, board, "assess", 4)

        async def all_complete() -> bool:
            return (await statuses(aclient, board)) == {"COMPLETE": 14}

        await until(all_complete, "every task to complete")
    assert len(revised) == 1
    for name in fast:
        assert await kinds(aclient, name) == ["posted", "assigned", "completed"]
    histories = [await kinds(aclient, name) for name in reviewed]
    once = ["posted", "assigned", "completed", "assigned", "reviewed", "reviewed"]
    twice = [*once[:5], "assigned", "completed", "assigned", "reviewed", "reviewed"]
    assert sorted(histories) == sorted([once, once, once, twice])
    assert all(record.errors == 0 for record in chief.cycles)


async def kinds(client: quadro.AsyncClient, task: str) -> list[str]:
    return [
        quadro.event_type_name(e.type).removeprefix("task_")
        for e in await client.task_history(task)
        if quadro.event_type_name(e.type) != "task_heartbeat"
    ]


async def test_three_racing_chiefs_dispatch_each_task_once(
    aclient: quadro.AsyncClient, board: str
) -> None:
    """2,000 tasks, three Chiefs with overlapping scopes: every task is assigned exactly
    once, and the races the Chiefs lose are counted in their cycle records."""
    for agent in ("a", "b"):
        await aclient.register_agent(board, agent, concurrency=1000)
    chiefs = [
        ChiefAgent(aclient, "all", [board]),
        ChiefAgent(aclient, "claims", [board], task_types=["claim_*"]),
        ChiefAgent(aclient, "intake", [board], task_types=["claim_intake"]),
    ]
    async with Background(*chiefs):
        names = await post_many(aclient, board, "claim_intake", 2000)

        async def dispatched() -> bool:
            return (await statuses(aclient, board)) == {"IN_PROGRESS": 2000}

        await until(dispatched, "every task to be dispatched")
    assigned = collections.Counter(
        [
            e.task
            async for e in aclient.iter_events(board, event_types=["task_assigned"], page_size=1000)
        ]
    )
    assert len(assigned) == 2000
    assert set(assigned.values()) == {1}, "a task was dispatched twice"
    assert set(assigned) == set(names)
    cycles = [r for chief in chiefs for r in chief.cycles]
    assert sum(r.actions for r in cycles) == 2000
    assert sum(r.lost_races for r in cycles) > 0, "three Chiefs on one queue lose races"
    assert all(r.errors == 0 for r in cycles)


async def test_racing_chiefs_hand_off_each_task_once(
    aclient: quadro.AsyncClient, board: str
) -> None:
    """Two Chiefs finish approved tasks by handing them off to another board (the move
    and the successor in one step): each task gets exactly one successor, and the
    hand-offs a Chief loses are counted as lost races, not errors."""
    next_board = f"{board}-next"
    await aclient.create_board(next_board)
    await aclient.register_agent(board, "w", concurrency=1000)
    names = await post_many(aclient, board, "assess", 30)
    for name in names:  # to APPROVED: worked, then reviewed
        await aclient.transition_task(name, "IN_PROGRESS", assignee="w")
        await aclient.post_result(name, "ok", agent="w")
        await aclient.transition_task(name, "IN_PROGRESS", assignee="w")
        await aclient.transition_task(name, "APPROVED")

    def hand_off(snapshot: Snapshot) -> list[Action]:
        return [
            HandOff(
                t.name,
                next_board,
                "pay",
                f"pay {t.label}",
                to_status="COMPLETE",
                expected_status="APPROVED",
            )
            for t in snapshot.tasks
            if t.status == "APPROVED"
        ]

    chiefs = [ChiefAgent(aclient, f"finisher-{i}", [board], policy=hand_off) for i in range(2)]
    async with Background(*chiefs):

        async def finished() -> bool:
            return (await statuses(aclient, board)) == {"COMPLETE": 30}

        await until(finished, "every task to be handed off")
    successors = [t async for t in aclient.iter_tasks(next_board, page_size=1000)]
    assert len(successors) == 30
    assert sorted(t.parent_task for t in successors) == sorted(names)
    assert {t.label for t in successors} == {f"pay task {i}" for i in range(30)}
    cycles = [r for chief in chiefs for r in chief.cycles]
    assert sum(r.actions for r in cycles) == 30
    assert all(r.errors == 0 for r in cycles)


class Gate:
    """A policy that holds its first cycle until released."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0

    async def __call__(self, snapshot: Snapshot) -> Iterable[Action]:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            await self.release.wait()
        return []


async def test_a_burst_during_a_cycle_makes_one_follow_up(
    aclient: quadro.AsyncClient, board: str
) -> None:
    gate = Gate()
    chief = ChiefAgent(aclient, "slow", [board], policy=gate)
    async with Background(chief):
        await asyncio.wait_for(gate.entered.wait(), 15)  # the seed cycle is thinking
        await post_many(aclient, board, "claim", 1000)

        async def heard_all() -> bool:
            return chief.events_seen >= 1000

        await until(heard_all, "the Chief to receive the 1,000 events")
        gate.release.set()

        async def settled() -> bool:
            return chief.cycle_count >= 2

        await until(settled, "the follow-up cycle")
        await asyncio.sleep(1.0)  # nothing else may come
    assert [(r.trigger, r.noop) for r in chief.cycles] == [("seed", False), ("event", True)]
    assert chief.cycles[1].waiting == 1000


async def test_noop_counts_only_event_wakes_that_find_nothing(
    aclient: quadro.AsyncClient, board: str
) -> None:
    """A Chief's own actions do not wake it; a change it has nothing to do about is a noop."""
    await aclient.register_agent(board, "w", concurrency=10)
    chief = ChiefAgent(aclient, "c", [board])
    async with Background(chief):
        await until(lambda: _more_cycles(chief, 0), "the seed cycle")
        task = (await aclient.post_task(board, "quick_x", "one")).task.name

        async def assigned() -> bool:
            return (await aclient.get_task(task)).task.status == "IN_PROGRESS"

        await until(assigned, "the dispatch")
        await asyncio.sleep(0.5)
        acted = list(chief.cycles)
        # Someone else moves the task: the Chief wakes and finds nothing to do.
        await aclient.post_result(task, "done", agent="w")
        await until(lambda: _more_cycles(chief, len(acted)), "the wake on the result")
        await asyncio.sleep(0.3)
    records = list(chief.cycles)
    assert [r.trigger for r in acted] == ["seed", "event"]
    assert (acted[0].actions, acted[0].noop) == (0, False), "a seed cycle is never a noop"
    assert (acted[1].actions, acted[1].noop) == (1, False)
    assert [(r.trigger, r.actions, r.noop) for r in records[2:]] == [("event", 0, True)]


async def _more_cycles(chief: ChiefAgent, count: int) -> bool:
    return chief.cycle_count > count


async def test_a_worker_that_joins_later_gets_the_waiting_work(
    aclient: quadro.AsyncClient, board: str
) -> None:
    """Work waits and nobody can take it; then a worker registers, which writes no
    event: the Chief notices the new capacity and dispatches, with no new event."""
    names = await post_many(aclient, board, "claim_intake", 5)
    chief = ChiefAgent(aclient, "dispatcher", [board], capacity_check=0.2)
    async with Background(chief):
        await until(lambda: _cycled(chief), "the seed cycle")
        assert chief.cycles[0].waiting == 5
        assert chief.cycles[0].actions == 0
        await aclient.register_agent(board, "late", concurrency=10)

        async def dispatched() -> bool:
            return (await statuses(aclient, board)) == {"IN_PROGRESS": 5}

        await until(dispatched, "the backlog to be dispatched", seconds=10)
    assert [r.trigger for r in chief.cycles][:2] == ["seed", "schedule"]
    assert sum(r.actions for r in chief.cycles) == 5
    assert {(await aclient.get_task(n)).task.assigned_to for n in names} == {"late"}
    # Nothing changed after that: the Chief went back to sleep.
    assert len(chief.cycles) <= 3


async def _cycled(chief: ChiefAgent) -> bool:
    return bool(chief.cycles)


async def test_a_periodic_chief_sleeps_between_ticks(
    aclient: quadro.AsyncClient, board: str
) -> None:
    await aclient.register_agent(board, "w", concurrency=1000)
    chief = ChiefAgent(aclient, "batch", [board], cadence=Periodic(1.0))
    async with Background(chief):
        await post_many(aclient, board, "pay_batch", 20)
        half = time.time() + 0.4
        await post_many(aclient, board, "pay_batch", 20)
        await asyncio.sleep(max(0.0, half - time.time()) + 2.2)
    records = list(chief.cycles)
    assert records[0].trigger == "seed"
    assert [r.trigger for r in records[1:]] in (["schedule"], ["schedule", "schedule"])
    assert sum(r.actions for r in records) == 40
    assert all(b.start - a.start >= 0.9 for a, b in itertools.pairwise(records[1:]))
    assert chief.events_seen >= 40, "events arrived, and woke nothing"


async def test_a_debounced_chief_thinks_at_most_once_per_interval(
    aclient: quadro.AsyncClient, board: str
) -> None:
    chief = ChiefAgent(aclient, "calm", [board], cadence=Debounced(0.5))
    async with Background(chief):
        for _ in range(6):
            await aclient.post_task(board, "claim", "x")
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.8)
    starts = [r.start for r in chief.cycles]
    assert 2 <= len(starts) <= 5
    assert all(b - a >= 0.45 for a, b in itertools.pairwise(starts))


async def test_the_board_lists_its_chiefs_and_their_cycles(
    aclient: quadro.AsyncClient, board: str, board_id: str
) -> None:
    """A Chief registers with its scope and cadence, says what it is doing, and records
    every cycle on the board, where anyone can read them (the sleep study)."""
    await aclient.register_agent(board, "w", concurrency=100)
    chief = ChiefAgent(aclient, "intake", [board], task_types=["quick_*"],
                       cadence=Debounced(0.2), version="2.1")  # fmt: skip
    async with Background(chief):
        listed = [c async for c in aclient.iter_chiefs(board)]
        assert [c.name for c in listed] == [f"boards/{board}/chiefs/intake"]
        registered = listed[0]
        assert list(registered.task_types) == ["quick_*"]
        assert list(registered.boards) == [f"boards/{board}"]
        assert (registered.cadence, registered.version) == ("debounced:0.2", "2.1")
        await post_many(aclient, board, "quick_x", 30)

        async def dispatched() -> bool:
            return (await statuses(aclient, board)) == {"IN_PROGRESS": 30}

        await until(dispatched, "the dispatch")
        await asyncio.sleep(0.5)
    cycles = [c async for c in aclient.iter_chief_cycles(board, "intake", page_size=2)]
    assert [c.number for c in cycles] == list(range(1, chief.cycle_count + 1))
    assert sum(c.actions for c in cycles) == 30
    assert cycles[0].trigger == chief_pb2.CYCLE_TRIGGER_SEED
    assert all(c.trigger == chief_pb2.CYCLE_TRIGGER_EVENT for c in cycles[1:])
    assert [c.actions for c in cycles] == [r.actions for r in chief.cycles]
    assert [c.noop for c in cycles] == [r.noop for r in chief.cycles]
    assert all(c.duration.ToMicroseconds() > 0 for c in cycles)
    after = (await aclient.get_chief(board, "intake")).chief
    assert after.state == chief_pb2.CHIEF_STATE_SLEEPING
    assert after.cycles == chief.cycle_count
    assert after.last_cycle_time == cycles[-1].start_time
    assert after.register_time == registered.register_time


async def test_cycle_records_are_checked(aclient: quadro.AsyncClient, board: str) -> None:
    await aclient.register_chief(board, "c")
    cycle = chief_pb2.ChiefCycle(trigger=chief_pb2.CYCLE_TRIGGER_SEED, noop=True)
    cycle.start_time.GetCurrentTime()
    with pytest.raises(quadro.errors.InvalidArgument) as bad:
        await aclient.record_chief_cycle(board, "c", cycle)
    assert [f for f, _ in bad.value.field_violations] == ["cycle.noop"]
    cycle.noop = False
    with pytest.raises(quadro.errors.NotFound) as missing:
        await aclient.record_chief_cycle(board, "nobody", cycle)
    assert missing.value.reason == "CHIEF_NOT_FOUND"
    first = await aclient.record_chief_cycle(board, "c", cycle, request_id="r-1")
    again = await aclient.record_chief_cycle(board, "c", cycle, request_id="r-1")
    assert first.cycle.number == again.cycle.number == 1, "a retry records nothing twice"
    assert (await aclient.get_chief(board, "c")).chief.cycles == 1
    data = await aclient.list_data(board)
    assert list(data.entries) == [], "the records are not the board's data"


async def test_a_snapshot_reads_the_backlog_up_to_its_limit_in_dispatch_order(
    aclient: quadro.AsyncClient, board: str
) -> None:
    """Tasks waiting for an agent: the first `waiting_limit`, by priority then age;
    every other live task whatever the limit."""
    await aclient.register_agent(board, "w", concurrency=10)
    posted = [
        (await aclient.post_task(board, "quick_job", f"p{p}", priority=p)).task
        for p in (7, 2, 9, 2, 0, 5, 1)
    ]
    working = posted[0].name
    await aclient.transition_task(working, "IN_PROGRESS", assignee="w")
    waiting = [t for t in posted if t.name != working]
    by_dispatch = [t.name for t in sorted(waiting, key=lambda t: (t.priority, posted.index(t)))]

    view = await read_board(aclient, board, [], waiting_limit=3)
    assert [t.name for t in view.in_status("IN_PROGRESS")] == [working]
    assert [t.name for t in view.in_status("UNASSIGNED")] == by_dispatch[:3]
    assert view.truncated
    whole = await read_board(aclient, view.board, [], waiting_limit=0)
    assert [t.name for t in whole.in_status("UNASSIGNED")] == sorted(
        by_dispatch, key=[t.name for t in waiting].index
    )
    assert not whole.truncated
    # Without the tasks in progress (what the built-in policy reads): counted from the
    # agents instead.
    lean = await read_board(aclient, view.board, [], in_progress=False)
    assert not lean.in_status("IN_PROGRESS")
    assert (lean.in_flight, view.in_flight) == (1, 1)
    assert not ChiefAgent(aclient, "built-in", [board]).read_in_progress
    assert ChiefAgent(aclient, "own", [board], policy=lambda s: []).read_in_progress


async def test_a_chief_drains_a_backlog_deeper_than_its_snapshot(
    aclient: quadro.AsyncClient, board: str
) -> None:
    """Each cycle sees only the first few waiting tasks; as work finishes, the next
    cycles see the next ones, until all are done."""
    names = await post_many(aclient, board, "quick_job", 30)
    done: list[str] = []

    async def work(context: WorkContext) -> str:
        done.append(context.task.name)
        return "ok"

    chief = ChiefAgent(aclient, "dispatcher", [board], waiting_limit=4)
    worker = Worker(aclient, board, "w", work, concurrency=4)
    async with Background(chief), Background(worker):

        async def finished() -> bool:
            return (await statuses(aclient, board)) == {"COMPLETE": 30}

        await until(finished, "the backlog to be done", seconds=60)
    assert sorted(done) == sorted(names)
    assert max(r.waiting for r in chief.cycles) <= 4


class HeldReports:
    """The real client, with the Chief's state reports held until `release` is set."""

    def __init__(self, client: quadro.AsyncClient) -> None:
        self._client = client
        self.release = asyncio.Event()
        self.states: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def report_chief_state(
        self, board: str, chief_id: str, state: int
    ) -> chief_pb2.ReportChiefStateResponse:
        await self.release.wait()
        self.states.append(state)
        return await self._client.report_chief_state(board, chief_id, state)


async def test_a_cycle_never_waits_for_its_state_reports(
    aclient: quadro.AsyncClient, board: str
) -> None:
    """A Chief's state reports go out in the background: a cycle dispatches while they
    are held, and the board then gets them in order, a state not yet sent replaced by
    the next and the cycle's record last (which puts the Chief back to sleep)."""
    await aclient.register_agent(board, "w", concurrency=10)
    await aclient.register_chief(board, "held")
    await post_many(aclient, board, "quick_x", 3)
    held = HeldReports(aclient)
    chief = ChiefAgent(cast(quadro.AsyncClient, held), "held", [board])

    record = await asyncio.wait_for(chief.run_cycle(SEED, wait_for_record=False), 30)

    assert record.actions == 3
    assert await statuses(aclient, board) == {"IN_PROGRESS": 3}
    # The record waits behind the report held in flight (THINKING).
    assert (await aclient.get_chief(board, "held")).chief.cycles == 0
    held.release.set()

    async def recorded() -> bool:
        return (await aclient.get_chief(board, "held")).chief.cycles == 1

    await until(recorded, "the cycle's record")
    # ACTING was still waiting when the record came: the record replaced it.
    assert held.states == [chief_pb2.CHIEF_STATE_THINKING]
    assert (await aclient.get_chief(board, "held")).chief.state == chief_pb2.CHIEF_STATE_SLEEPING


class CountedReads:
    """The real client, counting the listings a Chief reads its scope with."""

    def __init__(self, client: quadro.AsyncClient) -> None:
        self._client = client
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        if name in ("list_tasks", "iter_tasks", "iter_agents", "list_agents"):
            self.reads += 1
        return getattr(self._client, name)


async def test_event_cycles_dispatch_from_the_live_view_without_reading(
    aclient: quadro.AsyncClient, board: str
) -> None:
    """After its first read, a Chief with the built-in policy dispatches what is posted
    from the events it follows, in priority order, while the agent's count, kept from
    the same events, says how much it can take."""
    await aclient.register_agent(board, "w", concurrency=2)
    counted = CountedReads(aclient)
    chief = ChiefAgent(cast(quadro.AsyncClient, counted), "live", [board], view_max_age=600)
    async with Background(chief):
        await until(lambda: _cycled(chief), "the seed cycle")
        after_seed = counted.reads
        low = (await aclient.post_task(board, "quick_x", "low", priority=9)).task.name
        await until(lambda: _more_cycles(chief, 1), "the wake on the post")
        # A second post while the agent has one slot left, a third once it is full.
        urgent = (await aclient.post_task(board, "quick_x", "urgent", priority=1)).task.name
        await until(lambda: _in_status(aclient, [low, urgent], "IN_PROGRESS"), "both dispatched")
        late = (await aclient.post_task(board, "quick_x", "late")).task.name
        await until(lambda: _more_cycles(chief, 3), "the wake on the third post")
        assert (await aclient.get_task(late)).task.status == "UNASSIGNED", "the agent is full"
        # A slot frees (someone else's move): the view sees it and hands out the third.
        await aclient.post_result(low, "done", agent="w")
        await until(lambda: _in_status(aclient, [late], "IN_PROGRESS"), "the third dispatched")
        reads_during_events = counted.reads - after_seed
    event_cycles = [r for r in chief.cycles if r.trigger == "event"]
    assert len(event_cycles) >= 4
    assert reads_during_events == 0, "event cycles decided on the live view"
    assert all(r.lost_races == 0 and r.errors == 0 for r in chief.cycles)


async def test_the_live_view_follows_what_others_do(
    aclient: quadro.AsyncClient, board: str
) -> None:
    """Moves made by someone else reach the view: a task sent back for revision is
    dispatched again, and one handed out by hand is not handed out again, all without a
    lost race (a view that missed a move would lose one)."""
    await aclient.register_agent(board, "w", concurrency=1)
    await aclient.register_agent(board, "manual", capabilities=["none"], concurrency=10)
    chief = ChiefAgent(aclient, "live", [board], view_max_age=600)
    async with Background(chief):
        await until(lambda: _cycled(chief), "the seed cycle")
        task = (await aclient.post_task(board, "claim_x", "one")).task.name
        await until(lambda: _in_status(aclient, [task], "IN_PROGRESS"), "the dispatch")
        # Someone sends it back for revision: the Chief dispatches it again.
        await aclient.transition_task(task, "REVISION_NEEDED")
        await until(lambda: _assigned(aclient, task, 2), "the second dispatch")
        # "w" is full; a new task waits, and someone hands it out by hand meanwhile.
        cycles = chief.cycle_count
        other = (await aclient.post_task(board, "claim_x", "two")).task.name
        await until(lambda: _more_cycles(chief, cycles), "the wake on the post")
        await aclient.transition_task(other, "IN_PROGRESS", assignee="manual")
        # A slot frees: the Chief wakes, and finds nothing left to hand out (the first
        # task waits for a reviewer, and there is none).
        cycles = chief.cycle_count
        await aclient.post_result(task, "done", agent="w")
        await until(lambda: _more_cycles(chief, cycles), "the wake on the result")
        await asyncio.sleep(0.3)
    assert await _assigned(aclient, other, 1)
    assert all(r.lost_races == 0 and r.errors == 0 for r in chief.cycles)
    assert chief.cycles[-1].noop


async def _assigned(client: quadro.AsyncClient, task: str, times: int) -> bool:
    events = await client.task_history(task)
    return [quadro.event_type_name(e.type) for e in events].count("task_assigned") == times


async def _in_status(client: quadro.AsyncClient, tasks: list[str], status: str) -> bool:
    found = [(await client.get_task(t)).task.status for t in tasks]
    return found == [status] * len(tasks)


async def test_an_old_view_is_read_again_in_the_background(
    aclient: quadro.AsyncClient, board: str
) -> None:
    """What no event says (an agent registering again with more room) reaches the view
    through a read that an event cycle starts in the background once the view is old:
    that cycle decides on the view it has, the next one on the new read."""
    await aclient.register_agent(board, "w", concurrency=1)
    counted = CountedReads(aclient)
    chief = ChiefAgent(cast(quadro.AsyncClient, counted), "live", [board], view_max_age=0.2)
    async with Background(chief):
        await until(lambda: _cycled(chief), "the seed cycle")
        await aclient.register_agent(board, "w", concurrency=4)
        await asyncio.sleep(0.3)
        reads = counted.reads
        posted = await aclient.post_tasks(board, [quadro.NewTask("quick_x", "a")] * 2)
        two = [cast(task_pb2.PostTaskResponse, p).task.name for p in posted]
        await until(lambda: _read_since(counted, reads), "the read in the background")
        await asyncio.sleep(0.3)
        found = collections.Counter([(await aclient.get_task(t)).task.status for t in two])
        assert found == {"IN_PROGRESS": 1, "UNASSIGNED": 1}, "decided on the view it had"
        third = (await aclient.post_task(board, "quick_x", "c")).task.name
        await until(lambda: _in_status(aclient, [*two, third], "IN_PROGRESS"), "the new room used")
    assert all(r.lost_races == 0 and r.errors == 0 for r in chief.cycles)


async def _read_since(counted: CountedReads, reads: int) -> bool:
    return counted.reads > reads
