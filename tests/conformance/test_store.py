"""What every store must do, through the store interface alone: batches with independent
results, gapless sequences under concurrency, idempotency, reads that match writes, and a
log that the database itself refuses to change."""

from __future__ import annotations

import asyncio

import pytest

from quadro_server.api.lineage import read_lineage
from quadro_server.core import chiefs, ids
from quadro_server.core import commands as c
from quadro_server.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    QuadroError,
    RequestIdConflict,
    TransitionRejected,
)
from quadro_server.core.results import ExpiredResult, TaskResult
from quadro_server.core.transaction import Applied
from quadro_server.storage.base import EventQuery, Store, TaskQuery

from .conftest import Backend


async def setup_board(store: Store, board: str = "b", **kwargs: object) -> None:
    await store.execute(c.CreateBoard(board_id=board, **kwargs))  # type: ignore[arg-type]
    await store.execute(c.RegisterAgent(board_id=board, agent_id="w", concurrency=1000))


def task_of(outcome: Applied | QuadroError) -> str:
    assert isinstance(outcome, Applied)
    assert isinstance(outcome.result, TaskResult)
    return outcome.result.task.task_id


async def test_batch_items_succeed_or_fail_independently(store: Store) -> None:
    await setup_board(store)
    posted = task_of(await store.execute(c.PostTask(board_id="b", task_type="t", label="x")))
    outcomes = await store.apply(
        [
            c.TransitionTask(board_id="b", task_id=posted, to_status="IN_PROGRESS", assignee="w"),
            c.TransitionTask(board_id="b", task_id=posted, to_status="IN_PROGRESS", assignee="w"),
            c.PostTask(board_id="b", task_type="t", label="y", task_id="dup"),
            c.PostTask(board_id="b", task_type="t", label="y", task_id="dup"),
            c.PostTask(board_id="nope", task_type="t", label="z"),
            c.TransitionTask(
                board_id="b", task_id=posted, to_status="PENDING_REVIEW", request_id="r-1"
            ),
            c.TransitionTask(
                board_id="b", task_id=posted, to_status="PENDING_REVIEW", request_id="r-1"
            ),
            c.TransitionTask(board_id="b", task_id=posted, to_status="APPROVED", request_id="r-1"),
        ]
    )
    kinds = [type(o).__name__ for o in outcomes]
    assert kinds == [
        "Applied", "TransitionRejected", "Applied", "AlreadyExists", "NotFound", "Applied",
        "Applied", "RequestIdConflict",
    ]  # fmt: skip
    first, retry = outcomes[5], outcomes[6]
    assert isinstance(first, Applied)
    assert isinstance(retry, Applied)
    assert retry.replayed
    assert retry.result == first.result
    assert not retry.events
    page = await store.list_events(EventQuery(board_id="b", limit=100))
    assert [e.sequence for e in page.events] == [1, 2, 3, 4]
    assert [e.type for e in page.events] == [
        "task_posted", "task_assigned", "task_posted", "task_completed",
    ]  # fmt: skip
    assert page.head_sequence == 4


async def test_concurrent_writers_get_gapless_sequences(store: Store) -> None:
    await setup_board(store)

    async def writer(n: int) -> list[int]:
        sequences = []
        for i in range(25):
            outcome = await store.execute(c.PostTask(board_id="b", task_type="t", label=f"{n}-{i}"))
            assert isinstance(outcome.result, TaskResult)
            assert outcome.result.event is not None
            sequences.append(outcome.result.event.sequence)
        return sequences

    results = await asyncio.gather(*(writer(n) for n in range(16)))
    every = sorted(s for per_writer in results for s in per_writer)
    assert every == list(range(1, 16 * 25 + 1))
    for per_writer in results:
        assert per_writer == sorted(per_writer)


async def test_compare_and_set_has_one_winner(store: Store) -> None:
    await setup_board(store)
    task = task_of(await store.execute(c.PostTask(board_id="b", task_type="t", label="x")))
    race = [
        c.TransitionTask(
            board_id="b",
            task_id=task,
            to_status="IN_PROGRESS",
            assignee="w",
            expected_status="UNASSIGNED",
        )
        for _ in range(20)
    ]
    outcomes = await asyncio.gather(*(store.apply([cmd]) for cmd in race))
    flat = [o for batch in outcomes for o in batch]
    assert sum(isinstance(o, Applied) for o in flat) == 1
    assert all(isinstance(o, (Applied, FailedPrecondition)) for o in flat)


async def test_reads_match_writes(store: Store) -> None:
    await setup_board(store, task_type_rules=(("fast_*", "fast"),))
    a = task_of(await store.execute(c.PostTask(board_id="b", task_type="fast_x", label="a",
                                               labels=(("k", "v"),), notes=("n",))))  # fmt: skip
    b = task_of(await store.execute(c.PostTask(board_id="b", task_type="slow", label="b")))
    await store.execute(c.TransitionTask(board_id="b", task_id=a, to_status="IN_PROGRESS",
                                         assignee="w", output="o"))  # fmt: skip
    got = await store.get_task("b", a)
    assert got is not None
    assert (got.status, got.profile, got.output, got.labels, got.notes) == (
        "IN_PROGRESS", "fast", "o", {"k": "v"}, ("n",),
    )  # fmt: skip
    listed = await store.list_tasks(TaskQuery(board_id="b", limit=10, task_types=("fast_*",)))
    assert [t.task_id for t in listed] == [a]
    listed = await store.list_tasks(TaskQuery(board_id="b", limit=10, statuses=("UNASSIGNED",)))
    assert [t.task_id for t in listed] == [b]
    # A read of several by id: the same records, repeats once, unknown ids left out.
    several = await store.get_tasks("b", [b, a, "nope", a])
    assert several == {a: got, b: await store.get_task("b", b)}
    assert await store.get_tasks("b", []) == {}
    assert await store.get_tasks("other", [a]) == {}
    agent = await store.get_agent("b", "w")
    assert agent is not None
    assert agent.active_tasks == 1
    await store.execute(c.PutData(board_id="b", key="_internal", value_json="1"))
    await store.execute(c.PutData(board_id="b", key="public", value_json='{"a":1}'))
    assert [d.key for d in await store.list_data("b", "", "", 10)] == ["public"]
    entry = await store.get_data("b", "_internal")
    assert entry is not None
    assert entry.value_json == "1"
    board = await store.get_board("b")
    assert board is not None
    assert board.head_sequence == 3


async def test_every_move_out_of_in_progress_frees_its_agent(store: Store) -> None:
    # Named or not: a result naming its agent, one naming none, a move by one of its
    # acting agents, and a move by anyone else (the Ombudsman's), in one batch with a
    # move into IN_PROGRESS; and again one by one.
    await store.execute(c.CreateBoard(board_id="b", default_profile="fast"))
    for agent in ("w", "v"):
        await store.execute(c.RegisterAgent(board_id="b", agent_id=agent, concurrency=10))
    posted = await store.apply([c.PostTask(board_id="b", task_type="t", label="x")] * 10)
    tasks = [task_of(o) for o in posted]

    def assign(task: str, agent: str) -> c.Command:
        return c.TransitionTask(board_id="b", task_id=task, to_status="IN_PROGRESS", assignee=agent)

    def moves(w: list[str], v: list[str]) -> list[c.Command]:
        return [
            c.PostResult(board_id="b", task_id=w[0], agent="w", attempt=1, output="done"),
            c.PostResult(board_id="b", task_id=v[0], attempt=1, output="done"),
            c.TransitionTask(
                board_id="b", task_id=w[1], to_status="HUMAN_REVIEW", acting_agents=("w",)
            ),
            c.TransitionTask(board_id="b", task_id=v[1], to_status="STALE"),
        ]

    async def active() -> tuple[int, int]:
        found = [await store.get_agent("b", agent) for agent in ("w", "v")]
        return tuple(a.active_tasks for a in found if a is not None)  # type: ignore[return-value]

    assigned = await store.apply(
        [assign(t, "w") for t in tasks[:2]] + [assign(t, "v") for t in tasks[2:4]]
    )
    assert all(isinstance(o, Applied) for o in assigned)
    assert await active() == (2, 2)
    outcomes = await store.apply([*moves(tasks[:2], tasks[2:4]), assign(tasks[4], "v")])
    assert all(isinstance(o, Applied) for o in outcomes), outcomes
    assert await active() == (0, 1)
    for command in [assign(t, "w") for t in tasks[5:7]] + [assign(tasks[7], "v")]:
        assert isinstance(await store.execute(command), Applied)
    assert await active() == (2, 2)
    for command in moves(tasks[5:7], [tasks[4], tasks[7]]):
        assert isinstance(await store.execute(command), Applied)
    assert await active() == (0, 0)
    statuses = [t.status for t in (await store.get_tasks("b", tasks[:8])).values()]
    assert sorted(statuses) == sorted(["COMPLETE"] * 4 + ["HUMAN_REVIEW"] * 2 + ["STALE"] * 2)


async def test_rejections_write_nothing(store: Store) -> None:
    await setup_board(store)
    task = task_of(await store.execute(c.PostTask(board_id="b", task_type="t", label="x")))
    before = await store.list_events(EventQuery(board_id="b", limit=100))
    for bad in (
        c.TransitionTask(board_id="b", task_id=task, to_status="COMPLETE"),
        c.TransitionTask(board_id="b", task_id=task, to_status="IN_PROGRESS", assignee="ghost"),
        c.PostTask(board_id="b", task_type="t", label="x", task_id=task),
        c.ArchiveTask(board_id="b", task_id=task),
    ):
        with pytest.raises((TransitionRejected, NotFound, AlreadyExists, FailedPrecondition)):
            await store.execute(bad)
    after = await store.list_events(EventQuery(board_id="b", limit=100))
    assert after == before
    got = await store.get_task("b", task)
    assert got is not None
    assert (got.status, got.version) == ("UNASSIGNED", 1)


async def test_request_id_conflict_across_commands(store: Store) -> None:
    await setup_board(store)
    await store.execute(c.PutData(board_id="b", key="k", value_json="1", request_id="same"))
    with pytest.raises(RequestIdConflict):
        await store.execute(c.DeleteData(board_id="b", key="k", request_id="same"))
    assert await store.get_data("b", "k") is not None


async def test_retries_in_a_batch_get_their_first_answers(store: Store) -> None:
    # Retried among new commands: one that would now be refused (an assignment already
    # made); then one that would apply again (a post with a generated id) beside one
    # that reuses an id for another command. Each is answered as a retry.
    await setup_board(store)
    (first_post,) = await store.apply(
        [c.PostTask(board_id="b", task_type="t", label="x", request_id="post")]
    )
    task = task_of(first_post)
    (first_move,) = await store.apply(
        [c.TransitionTask(board_id="b", task_id=task, to_status="IN_PROGRESS",
                          assignee="w", request_id="move")]
    )  # fmt: skip
    head = (await store.get_board("b")).head_sequence  # type: ignore[union-attr]
    new, move = await store.apply(
        [
            c.PostTask(board_id="b", task_type="t", label="y", request_id="new"),
            c.TransitionTask(board_id="b", task_id=task, to_status="IN_PROGRESS",
                             assignee="w", request_id="move"),
        ]
    )  # fmt: skip
    post, reused = await store.apply(
        [
            c.PostTask(board_id="b", task_type="t", label="x", request_id="post"),
            c.PutData(board_id="b", key="k", value_json="1", request_id="move"),
        ]
    )
    assert isinstance(new, Applied)
    assert not new.replayed
    for retry, first in ((move, first_move), (post, first_post)):
        assert isinstance(retry, Applied)
        assert isinstance(first, Applied)
        assert retry.replayed
        assert retry.result == first.result
    assert isinstance(reused, RequestIdConflict)
    # One new task and its one event; nothing of the retries or the conflict.
    assert (await store.get_board("b")).head_sequence == head + 1  # type: ignore[union-attr]
    assert await store.get_data("b", "k") is None
    listed = await store.list_tasks(TaskQuery(board_id="b", limit=10))
    assert sorted(t.label for t in listed) == ["x", "y"]


async def test_a_generated_id_already_taken_is_never_reused(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await setup_board(store)
    await store.execute(c.PostTask(board_id="b", task_type="t", label="first", task_id="taken"))
    # The first ids drawn are all the id of that task; fresh ones follow.
    drawn = iter(["taken", "taken", "taken"] + [f"fresh{i}" for i in range(100)])
    monkeypatch.setattr(ids, "new_task_id", lambda length=ids.DEFAULT_LENGTH: next(drawn))
    head = (await store.get_board("b")).head_sequence  # type: ignore[union-attr]
    posted = await store.apply(
        [c.PostTask(board_id="b", task_type="t", label=str(i)) for i in range(3)]
    )
    new_ids = [task_of(o) for o in posted]
    assert len(set(new_ids)) == 3
    assert "taken" not in new_ids
    kept = await store.get_task("b", "taken")
    assert kept is not None
    assert (kept.label, kept.version) == ("first", 1)
    events = await store.list_events(EventQuery(board_id="b", after_sequence=head, limit=10))
    assert [e.sequence for e in events.events] == [head + 1, head + 2, head + 3]
    assert [e.task_id for e in events.events] == new_ids


async def test_event_log_is_immutable_in_the_database(store: Store, backend: Backend) -> None:
    await setup_board(store)
    await store.execute(c.PostTask(board_id="b", task_type="t", label="x"))
    with pytest.raises(Exception, match="immutable"):
        backend.raw_sql("UPDATE events SET to_status = 'COMPLETE'")
    with pytest.raises(Exception, match="immutable"):
        backend.raw_sql("DELETE FROM events")
    page = await store.list_events(EventQuery(board_id="b", limit=10))
    assert [e.to_status for e in page.events] == ["UNASSIGNED"]


async def test_survives_reopening(backend: Backend) -> None:
    first = backend.open()
    await first.start()
    await setup_board(first)
    task = task_of(await first.execute(c.PostTask(board_id="b", task_type="t", label="x")))
    await first.close()
    second = backend.open()
    await second.start()
    try:
        got = await second.get_task("b", task)
        assert got is not None
        assert got.label == "x"
        outcome = await second.execute(c.PostTask(board_id="b", task_type="t", label="y"))
        assert isinstance(outcome.result, TaskResult)
        assert outcome.result.event is not None
        assert outcome.result.event.sequence == 2
    finally:
        await second.close()


async def test_expired_request_ids_are_forgotten(store: Store) -> None:
    await setup_board(store)
    await store.execute(c.PutData(board_id="b", key="k", value_json="1", request_id="old"))
    nothing = await store.execute(c.ExpireRequests(before=0))
    assert nothing.result == ExpiredResult(0)
    with pytest.raises(RequestIdConflict):
        await store.execute(c.DeleteData(board_id="b", key="k", request_id="old"))
    removed = await store.execute(c.ExpireRequests(before=2**62))
    assert removed.result == ExpiredResult(1)
    # Forgotten: the id is free again.
    deleted = await store.execute(c.DeleteData(board_id="b", key="k", request_id="old"))
    assert not deleted.replayed


async def test_store_filters_agree_with_live_filters(store: Store) -> None:
    """Subscriptions filter in memory near the head and in the store further back: the
    two must select exactly the same events."""
    import itertools
    import random

    from quadro_server.core.event_filter import EventFilter

    await setup_board(store, task_type_rules=(("f*", "fast"),))
    rng = random.Random(7)
    types = ["fa", "fb", "claim_x", "claim_y", "pay"]
    tasks = []
    for i in range(40):
        outcome = await store.execute(
            c.PostTask(board_id="b", task_type=rng.choice(types), label=str(i))
        )
        tasks.append(task_of(outcome))
    for task in tasks[::2]:
        await store.execute(
            c.TransitionTask(board_id="b", task_id=task, to_status="IN_PROGRESS", assignee="w")
        )
    for task in tasks[::4]:
        await store.execute(c.Heartbeat(board_id="b", agent_id="w", task_id=task))
        await store.execute(c.TransitionTask(board_id="b", task_id=task, to_status="ON_HOLD"))
    everything = (await store.list_events(EventQuery(board_id="b", limit=1000))).events
    for task_id, agent, kinds, task_types, statuses in itertools.product(
        ["", tasks[0], tasks[3]],
        ["", "w"],
        [(), ("task_posted",), ("task_assigned", "task_heartbeat", "task_failed")],
        [(), ("f*",), ("claim_?", "pay"), ("[cp]*",)],
        [(), ("ON_HOLD",), ("UNASSIGNED", "IN_PROGRESS")],
    ):
        event_filter = EventFilter(task_id, agent, kinds, task_types, statuses)
        query = EventQuery(board_id="b", limit=1000, filter=event_filter)
        from_store = (await store.list_events(query)).events
        assert from_store == [e for e in everything if event_filter.matches(e)], event_filter


async def test_leases_elect_one_holder_and_fence_off_a_deposed_one(store: Store) -> None:
    from quadro_server.core.commands import LeaseKey
    from quadro_server.core.results import LeaseResult

    async def acquire(holder: str, ttl_us: int) -> LeaseResult:
        applied = await store.execute(c.AcquireLease(name="job", holder=holder, ttl_us=ttl_us))
        assert isinstance(applied.result, LeaseResult)
        return applied.result

    first = await acquire("a", 60_000_000)
    assert first.lease is not None
    assert first.lease.epoch == 1
    refused = await acquire("b", 60_000_000)
    assert refused.lease is None
    assert refused.holder == "a", "it says who holds it"
    renewed = await acquire("a", 1)  # renewed with a lease that expires at once
    assert renewed.lease is not None
    assert renewed.lease.epoch == 1
    taken = await acquire("b", 60_000_000)
    assert taken.lease is not None
    assert taken.lease.epoch == 2
    await setup_board(store)
    deposed = LeaseKey("job", "a", 1)
    with pytest.raises(FailedPrecondition) as lost:
        await store.execute(c.ExpireRequests(before=2**62, lease=deposed))
    assert lost.value.reason == "LEASE_LOST"
    leader = LeaseKey("job", "b", 2)
    done = await store.execute(c.ExpireRequests(before=0, lease=leader))
    assert done.result == ExpiredResult(0)


async def test_event_times_never_decrease_along_a_board(store: Store, backend: Backend) -> None:
    await setup_board(store)
    await store.execute(c.PostTask(board_id="b", task_type="t", label="first"))
    # A clock that stepped back (another replica's, or this one's after a restart):
    # simulate it by moving the board's last event time into the future.
    backend.raw_sql("UPDATE boards SET head_time = head_time + 3600000000 WHERE board_id = 'b'")
    await store.execute(c.PostTask(board_id="b", task_type="t", label="second"))
    events = (await store.list_events(EventQuery(board_id="b", limit=10))).events
    assert [e.sequence for e in events] == [1, 2]
    assert events[1].create_time >= events[0].create_time + 3600000000


async def test_expiry_goes_oldest_first_in_bounded_rounds(store: Store) -> None:
    await setup_board(store)
    for i in range(5):
        await store.execute(
            c.PutData(board_id="b", key=f"k{i}", value_json="1", request_id=f"r{i}")
        )
    first = await store.execute(c.ExpireRequests(before=2**62, limit=3))
    assert first.result == ExpiredResult(3)
    with pytest.raises(RequestIdConflict):
        await store.execute(c.DeleteData(board_id="b", key="k4", request_id="r4"))
    again = await store.execute(c.DeleteData(board_id="b", key="k0", request_id="r0"))
    assert not again.replayed, "the oldest went first"
    rest = await store.execute(c.ExpireRequests(before=2**62, limit=3))
    assert rest.result == ExpiredResult(3)


async def test_chief_cycles_are_kept_up_to_the_limit(store: Store) -> None:
    """A Chief's cycle records are numbered by the board, never listed as data, and only
    the most recent CYCLES_KEPT of them are kept."""
    await setup_board(store)
    await store.execute(c.RegisterChief(board_id="b", chief_id="boss"))
    extra = 5
    record = c.RecordChiefCycle(board_id="b", chief_id="boss", trigger="EVENT", start_time=1,
                                duration_us=10, actions=1, lost_races=0, errors=0, in_flight=0,
                                waiting=0, noop=False)  # fmt: skip
    total = chiefs.CYCLES_KEPT + extra
    for start in range(0, total, 500):
        outcomes = await store.apply([record] * min(500, total - start))
        assert all(isinstance(o, Applied) for o in outcomes)
    kept = await store.list_data(
        "b", chiefs.cycle_prefix("boss"), "", chiefs.CYCLES_KEPT + 10, internal=True
    )
    assert len(kept) == chiefs.CYCLES_KEPT
    assert kept[0].key == chiefs.cycle_key("boss", extra + 1)
    assert kept[-1].key == chiefs.cycle_key("boss", total)
    assert await store.list_data("b", "", "", 100) == [], "internal records are not data"
    boss = await store.get_data("b", chiefs.chief_key("boss"))
    assert boss is not None
    assert chiefs.chief_from_json("b", "boss", boss.value_json).cycles == total


async def test_children_and_a_truncated_lineage(store: Store) -> None:
    await setup_board(store)
    await setup_board(store, "other")
    root = task_of(await store.execute(c.PostTask(board_id="b", task_type="t", label="root")))
    root_name = f"boards/b/tasks/{root}"
    kids = []
    for board in ("b", "other", "b"):
        child = c.PostTask(board_id=board, task_type="t", label="kid", parent_task=root_name)
        kids.append(task_of(await store.execute(child)))
    found = await store.list_children([root_name], 10)
    assert [t.task_id for t in found] == kids
    assert [t.board_id for t in found] == ["b", "other", "b"]
    assert [t.task_id for t in await store.list_children([root_name], 2)] == kids[:2]
    assert await store.list_children([], 10) == []
    record = await store.get_task("b", root)
    assert record is not None
    whole = await read_lineage(store, record)
    assert ([h.task.task_id for h in whole.descendants], whole.truncated) == (kids, False)
    cut = await read_lineage(store, record, budget=2)
    assert ([h.task.task_id for h in cut.descendants], cut.truncated) == (kids[:2], True)
