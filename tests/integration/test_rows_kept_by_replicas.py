"""Two PostgreSQL stores on one database, as two server replicas: each keeps the rows
its own commits left and takes them instead of reading them back, and each still sees
every write of the other, because every batch that writes a board moves its revision."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest

from quadro_server.core import commands as c
from quadro_server.core.errors import NotFound
from quadro_server.core.lifecycle import IN_PROGRESS, PENDING_REVIEW
from quadro_server.core.results import TaskResult
from quadro_server.storage.base import EventQuery
from quadro_server.storage.postgres import PostgresStore
from support import postgres


@pytest.fixture
async def replicas(
    postgres_database: str,
) -> AsyncIterator[tuple[PostgresStore, PostgresStore, str]]:
    url = postgres.new_schema_url(postgres_database)
    a, b = PostgresStore(url), PostgresStore(url)
    await a.start()
    await b.start()
    try:
        yield a, b, url
    finally:
        await a.close()
        await b.close()


def revision(url: str, board: str = "b") -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT revision FROM boards WHERE board_id = %s", (board,)).fetchone()
    assert row is not None
    return int(row[0])


async def post(store: PostgresStore) -> str:
    applied = await store.execute(c.PostTask(board_id="b", task_type="t", label="l"))
    assert isinstance(applied.result, TaskResult)
    return applied.result.task.task_id


async def test_each_replica_moves_tasks_as_the_other_left_them(
    replicas: tuple[PostgresStore, PostgresStore, str],
) -> None:
    a, b, _ = replicas
    await a.execute(c.CreateBoard(board_id="b"))
    # One task at a time: an assignment beyond it is refused, so a replica that went by
    # an agent as it kept it, not as the other replica left it, would be caught.
    await a.execute(c.RegisterAgent(board_id="b", agent_id="w", concurrency=1))
    first = await post(a)  # a keeps the task UNASSIGNED and the agent idle
    await b.execute(
        c.TransitionTask(board_id="b", task_id=first, to_status=IN_PROGRESS, assignee="w")
    )
    # a finds the task IN_PROGRESS, as b left it: a result is taken.
    done = await a.execute(c.PostResult(board_id="b", task_id=first, output="ok", agent="w"))
    assert isinstance(done.result, TaskResult)
    assert done.result.task.status == PENDING_REVIEW
    assert done.result.task.version == 3
    # b finds the agent free again, as a left it: a second assignment is taken.
    second = await post(b)
    moved = await b.execute(
        c.TransitionTask(board_id="b", task_id=second, to_status=IN_PROGRESS, assignee="w")
    )
    assert isinstance(moved.result, TaskResult)
    assert moved.result.task.assigned_to == "w"
    agent = await a.get_agent("b", "w")
    assert agent is not None
    assert agent.active_tasks == 1
    # Both replicas' events, in one gapless log.
    page = await a.list_events(EventQuery(board_id="b", limit=100))
    assert [e.sequence for e in page.events] == list(range(1, page.head_sequence + 1))
    assert [e.type for e in page.events if e.task_id] == [
        "task_posted", "task_assigned", "task_completed", "task_posted", "task_assigned"
    ]  # fmt: skip


async def test_every_batch_that_writes_a_board_moves_its_revision(
    replicas: tuple[PostgresStore, PostgresStore, str],
) -> None:
    a, b, url = replicas
    await a.execute(c.CreateBoard(board_id="b"))
    await a.execute(c.RegisterAgent(board_id="b", agent_id="w"))
    before = revision(url)
    task = await post(a)
    assert revision(url) == before + 1
    # An agent's heartbeat writes no event, but changes the agent's row.
    await b.execute(c.Heartbeat(board_id="b", agent_id="w"))
    assert revision(url) == before + 2
    seen = await a.get_agent("b", "w")
    # A batch of two commands is one revision; a refused command writes nothing.
    await a.apply([
        c.TransitionTask(board_id="b", task_id=task, to_status=IN_PROGRESS, assignee="w"),
        c.PostResult(board_id="b", task_id=task, output="ok", agent="w"),
    ])  # fmt: skip
    assert revision(url) == before + 3
    with pytest.raises(NotFound):
        await b.execute(c.PostResult(board_id="b", task_id="nothing", output="", agent="w"))
    assert revision(url) == before + 3
    # a heartbeat from b seen by a: a's next write of the agent starts from b's row.
    await a.execute(c.Heartbeat(board_id="b", agent_id="w"))
    after = await b.get_agent("b", "w")
    assert seen is not None
    assert after is not None
    assert after.last_seen_time >= seen.last_seen_time
    assert after.active_tasks == 0
