"""A PostgreSQL store decides a batch on what the batches in flight will leave and sends
it without waiting for them. Whatever happens to the batch before it, or to the board
meanwhile, every caller gets the answer a one-at-a-time store would have given, and the
log stays gapless with one event per move."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import psycopg
import pytest

from quadro_server.core import commands as c
from quadro_server.core.errors import QuadroError
from quadro_server.core.lifecycle import IN_PROGRESS, PENDING_REVIEW
from quadro_server.core.results import TaskResult
from quadro_server.core.transaction import Applied
from quadro_server.storage.base import EventQuery
from quadro_server.storage.postgres import PostgresStore
from support import postgres


@pytest.fixture
async def replicas(postgres_database: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    url = postgres.new_schema_url(postgres_database)
    # Every batch may go ahead of the one in flight, however small: these tests make
    # batches of a command or two, each decided while the one before is in flight.
    a, b = PostgresStore(url, ahead_min=1), PostgresStore(url, ahead_min=1)
    await a.start()
    await b.start()
    try:
        await a.execute(c.CreateBoard(board_id="b"))
        await a.execute(c.RegisterAgent(board_id="b", agent_id="w", concurrency=1000))
        yield a, b
    finally:
        await a.close()
        await b.close()


# A post with a request id, retried in the tests below.
WITH_R1 = c.PostTask(board_id="b", task_type="t", label="l", request_id="r1")


def task_of(outcome: Applied | QuadroError) -> str:
    assert isinstance(outcome, Applied), outcome
    assert isinstance(outcome.result, TaskResult)
    return outcome.result.task.task_id


async def one_after_another(
    store: PostgresStore, batches: Sequence[Sequence[c.Command]]
) -> list[list[Applied | QuadroError]]:
    """Each batch handed to the store once the writer has taken the one before, so that
    each is decided while the one before is in flight."""
    calls = []
    for batch in batches:
        calls.append(asyncio.create_task(store.apply(batch)))
        for _ in range(3):
            await asyncio.sleep(0)
    return list(await asyncio.gather(*calls))


async def assert_one_gapless_log(store: PostgresStore, moves: int) -> None:
    page = await store.list_events(EventQuery(board_id="b", limit=10_000))
    assert [e.sequence for e in page.events] == list(range(1, page.head_sequence + 1))
    assert len([e for e in page.events if e.task_id]) == moves


async def test_batches_sent_ahead_are_answered_in_order_on_one_gapless_log(
    replicas: tuple[PostgresStore, PostgresStore],
) -> None:
    a, _ = replicas
    await a.execute(c.PostTask(board_id="b", task_type="t", label="first"))
    before = a.write_stats.sent_ahead
    posts = [[c.PostTask(board_id="b", task_type="t", label=f"{i}-{j}") for j in range(5)]
             for i in range(40)]  # fmt: skip
    answers = await one_after_another(a, posts)
    # Calls that come while the pipeline is full share the next batch. (A batch may
    # also be sent again: on a busy machine the database can take up a batch's
    # transaction before the one sent before it, which then holds its board at the
    # wrong revision.)
    assert a.write_stats.sent_ahead - before >= 2
    tasks = [task_of(o) for batch in answers for o in batch]
    moves = [
        c.TransitionTask(board_id="b", task_id=t, to_status=IN_PROGRESS, assignee="w")
        for t in tasks
    ]
    results = [c.PostResult(board_id="b", task_id=t, output="ok", agent="w") for t in tasks]
    # Each task's result decided while its assignment is still in flight.
    paired = [
        batch for pair in zip(moves, results, strict=True) for batch in ([pair[0]], [pair[1]])
    ]
    for outcome in (o for batch in await one_after_another(a, paired) for o in batch):
        assert isinstance(outcome, Applied), outcome
    for t in tasks:
        found = await a.get_task("b", t)
        assert found is not None
        assert found.status == PENDING_REVIEW
        assert found.version == 3
    agent = await a.get_agent("b", "w")
    assert agent is not None
    assert agent.active_tasks == 0
    await assert_one_gapless_log(a, 1 + 3 * len(tasks))


async def test_a_result_decided_while_its_assignment_is_in_flight(
    replicas: tuple[PostgresStore, PostgresStore],
) -> None:
    a, _ = replicas
    task = task_of(await a.execute(c.PostTask(board_id="b", task_type="t", label="l")))
    before = a.write_stats.sent_ahead
    moved, done = await one_after_another(a, [
        [c.TransitionTask(board_id="b", task_id=task, to_status=IN_PROGRESS, assignee="w")],
        [c.PostResult(board_id="b", task_id=task, output="ok", agent="w")],
    ])  # fmt: skip
    assert a.write_stats.sent_ahead == before + 2
    assert task_of(moved[0]) == task_of(done[0]) == task
    assert isinstance(done[0], Applied)
    assert isinstance(done[0].result, TaskResult)
    assert done[0].result.task.status == PENDING_REVIEW
    await assert_one_gapless_log(a, 3)


async def test_a_board_written_by_another_replica_meanwhile_sends_the_batch_again(
    replicas: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = replicas
    task = task_of(await a.execute(c.PostTask(board_id="b", task_type="t", label="l")))
    # b assigns the task; a still keeps it UNASSIGNED, and decides the result on that.
    await b.execute(c.TransitionTask(board_id="b", task_id=task, to_status=IN_PROGRESS,
                                     assignee="w"))  # fmt: skip
    before = a.write_stats.sent_again
    done = await a.execute(c.PostResult(board_id="b", task_id=task, output="ok", agent="w"))
    # Refused on what a kept, but that decision never committed: the batch found the
    # board moved on and was decided again on what b left.
    assert a.write_stats.sent_again == before + 1
    assert isinstance(done.result, TaskResult)
    assert done.result.task.status == PENDING_REVIEW
    await assert_one_gapless_log(a, 3)


async def test_a_retry_sent_ahead_gets_its_first_answer(
    replicas: tuple[PostgresStore, PostgresStore],
) -> None:
    a, _ = replicas
    first = task_of(await a.execute(WITH_R1))
    before = a.write_stats.sent_again
    # A retry of r1 is decided ahead as a new request; its record's primary key stops it.
    again = task_of(await a.execute(WITH_R1))
    assert again == first
    assert a.write_stats.sent_again == before + 1
    await assert_one_gapless_log(a, 1)


async def test_the_batch_after_one_that_failed_is_sent_again_too(
    replicas: tuple[PostgresStore, PostgresStore],
) -> None:
    a, _ = replicas
    first = task_of(await a.execute(WITH_R1))
    before = a.write_stats
    sent_ahead, sent_again = before.sent_ahead, before.sent_again
    # The retry fails as a whole on its record's key; the next batch was decided on what
    # it would have left, so it must not commit on what it did not.
    retry, after = await one_after_another(
        a,
        [
            [WITH_R1, c.PostTask(board_id="b", task_type="t", label="with the retry")],
            [c.PostTask(board_id="b", task_type="t", label="after")],
        ],
    )  # fmt: skip
    assert a.write_stats.sent_ahead == sent_ahead + 2
    assert a.write_stats.sent_again == sent_again + 2
    assert task_of(retry[0]) == first
    labels = {}
    for outcome in (retry[1], after[0]):
        found = await a.get_task("b", task_of(outcome))
        assert found is not None
        labels[found.label] = found.created_sequence
    assert labels == {"with the retry": 2, "after": 3}
    await assert_one_gapless_log(a, 3)


async def test_a_store_of_depth_one_sends_nothing_ahead(postgres_database: str) -> None:
    store = PostgresStore(postgres.new_schema_url(postgres_database), pipeline_depth=1)
    await store.start()
    try:
        await store.execute(c.CreateBoard(board_id="b"))
        await one_after_another(
            store, [[c.PostTask(board_id="b", task_type="t", label=f"{i}")] for i in range(10)]
        )
        assert store.write_stats.sent_ahead == 0
        assert store.write_stats.committed >= 2
        await assert_one_gapless_log(store, 10)
    finally:
        await store.close()


def test_the_guard_refuses_a_board_not_as_decided(postgres_database: str) -> None:
    """The database function behind it: a board whose revision or head differs from the
    batch's belief fails the transaction before anything is written."""
    url = postgres.new_schema_url(postgres_database)

    async def create() -> None:
        store = PostgresStore(url)
        await store.start()
        await store.execute(c.CreateBoard(board_id="b"))
        await store.close()

    asyncio.run(create())
    with psycopg.connect(url, autocommit=True) as conn:
        revision, head, at = conn.execute(
            "SELECT revision, head_sequence, head_time FROM boards WHERE board_id = 'b'"
        ).fetchone() or (None, None, None)
        conn.execute("SELECT quadro_hold_boards(%s, %s, %s, %s)", (["b"], [revision], [head], [at]))
        for wrong in ([revision + 1, head, at], [revision, head + 1, at], [revision, head, at + 1]):
            with pytest.raises(psycopg.errors.SerializationFailure):
                conn.execute("SELECT quadro_hold_boards(%s, %s, %s, %s)",
                             (["b"], [wrong[0]], [wrong[1]], [wrong[2]]))  # fmt: skip


async def test_a_batch_that_committed_is_answered_while_the_next_is_decided(
    replicas: tuple[PostgresStore, PostgresStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = replicas
    await a.execute(c.PostTask(board_id="b", task_type="t", label="first"))
    decide = a._decide_ahead
    deciding = asyncio.Event()
    go_on = asyncio.Event()

    async def slow_second(commands: list[c.Command], now: int) -> object:
        if any(getattr(command, "label", "") == "second" for command in commands):
            deciding.set()
            await go_on.wait()  # a decision that takes a long while
        return await decide(commands, now)

    monkeypatch.setattr(a, "_decide_ahead", slow_second)
    first = asyncio.create_task(a.execute(c.PostTask(board_id="b", task_type="t", label="one")))
    for _ in range(3):
        await asyncio.sleep(0)
    second = asyncio.create_task(a.execute(c.PostTask(board_id="b", task_type="t", label="second")))
    await asyncio.wait_for(deciding.wait(), 10)
    # The first batch's caller is answered once its commit is durable, not once the
    # writer is done with the next batch.
    assert task_of(await asyncio.wait_for(first, 10))
    assert not second.done()
    go_on.set()
    assert task_of(await asyncio.wait_for(second, 10))
    await assert_one_gapless_log(a, 3)


async def test_a_small_batch_waits_for_the_one_in_flight_and_a_large_one_goes_ahead(
    postgres_database: str,
) -> None:
    url = postgres.new_schema_url(postgres_database)
    store = PostgresStore(url, ahead_min=32)
    await store.start()
    try:
        await store.execute(c.CreateBoard(board_id="b"))
        await store.execute(post("known"))  # the board's head as this store left it
        stats = store.write_stats
        with psycopg.connect(url) as blocker:
            # The board's row held by someone else: the first batch, sent, stays in flight.
            blocker.execute("SELECT 1 FROM boards WHERE board_id = 'b' FOR UPDATE")
            sent_before = stats.sent_ahead + stats.committed
            first = asyncio.create_task(store.apply([post("first")]))
            await until(lambda: stats.sent_ahead + stats.committed == sent_before + 1)
            # Single calls, one after another, while it is in flight: none leaves.
            small = []
            for i in range(10):
                small.append(asyncio.create_task(store.apply([post(f"small {i}")])))
                for _ in range(3):
                    await asyncio.sleep(0)
            await asyncio.sleep(0.05)
            assert stats.sent_ahead + stats.committed == sent_before + 1
            # A call of 40 commands is enough to go ahead of the batch in flight, and
            # takes the small calls waiting before it along.
            large = asyncio.create_task(store.apply([post(f"large {i}") for i in range(40)]))
            await until(lambda: stats.sent_ahead + stats.committed == sent_before + 2)
            assert not first.done()
            blocker.rollback()
        answers = [await first, *[await call for call in small], await large]
        assert all(isinstance(o, Applied) for batch in answers for o in batch)
        assert stats.sent_ahead + stats.committed == sent_before + 2
        await assert_one_gapless_log(store, 52)
    finally:
        await store.close()


def post(label: str) -> c.PostTask:
    return c.PostTask(board_id="b", task_type="t", label=label)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the store did not get there within 5 s")
