"""The databases run the stores' hot queries the way the schema means them to.

A new database starts empty and grows while the server runs. A prepared statement's
generic plan, made while a table is empty, finds every index alike and may pick one
that filters the whole table (a task looked up by key through the status index, say);
PostgreSQL keeps it until the next ANALYZE, a minute or more later: the PostgreSQL
store never prepares a statement, so each is planned for its values. And a Chief's read of the head of its
backlog, in dispatch order, walks the index of waiting tasks instead of sorting every
waiting task of the board, on both stores. A batch's updates find their rows by key, and
the text keys of every index compare bytes, not words of a language."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from quadro_server.core import commands as c
from quadro_server.core.lifecycle import PENDING_REVIEW, UNASSIGNED
from quadro_server.storage.base import Store, TaskQuery
from quadro_server.storage.postgres import PostgresStore
from quadro_server.storage.postgres import store as postgres_store
from quadro_server.storage.sqlite import SqliteStore
from quadro_server.storage.sqlite import store as sqlite_store
from support import postgres


async def test_a_lookup_repeated_as_the_table_grows_is_never_prepared(
    postgres_database: str,
) -> None:
    # One connection: every call below runs on it.
    store = PostgresStore(postgres.new_schema_url(postgres_database), pool_size=1)
    await store.start()
    try:
        await store.execute(c.CreateBoard(board_id="b"))
        for _ in range(8):  # past psycopg's default threshold for preparing a statement
            assert await store.get_tasks("b", ["nothing-yet"]) == {}
        task_ids = await post(store, 500)
        for _ in range(4):
            found = await store.get_tasks("b", task_ids[:3])
            assert sorted(found) == sorted(task_ids[:3])
        async with store._pool.connection() as conn:
            cursor = await conn.execute("SELECT statement FROM pg_prepared_statements")
            prepared = [row["statement"] for row in await cursor.fetchall()]
        assert prepared == []
    finally:
        await store.close()


async def post(store: Store, count: int) -> list[str]:
    """Post `count` tasks of priorities 1 to 9 on board b: their ids."""
    posted = await store.apply(
        [
            c.PostTask(board_id="b", task_type="t", label=str(i), priority=1 + i % 9)
            for i in range(count)
        ]
    )
    return [o.result.task.task_id for o in posted]  # type: ignore[union-attr]


@pytest.fixture(params=["sqlite", "postgresql"])
async def grown(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Store, str]]:
    """A store whose board b holds 3,000 tasks, half of them complete."""
    if request.param == "sqlite":
        target = str(tmp_path / "quadro.db")
        store: Store = SqliteStore(target)
    else:
        target = postgres.new_schema_url(request.getfixturevalue("postgres_database"))
        store = PostgresStore(target)
    await store.start()
    try:
        await store.execute(c.CreateBoard(board_id="b", default_profile="fast"))
        await store.execute(c.RegisterAgent(board_id="b", agent_id="w", concurrency=10_000))
        task_ids = await post(store, 3000)
        for move, who in (("IN_PROGRESS", "w"), ("COMPLETE", "")):
            await store.apply(
                [
                    c.TransitionTask(board_id="b", task_id=t, to_status=move, assignee=who)
                    for t in task_ids[::2]
                ]
            )
        yield store, target
    finally:
        await store.close()


def plan(target: str, sql: str, args: list[Any]) -> str:
    """How the database would run `sql`: its plan, as text."""
    if target.startswith("postgresql:"):
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("ANALYZE tasks")  # as autovacuum would have by now
            (found,) = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", args).fetchone()  # type: ignore[misc]
            return json.dumps(found)
    with sqlite3.connect(target) as conn:
        return "; ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))


async def test_the_head_of_the_backlog_is_read_from_the_index_of_waiting_tasks(
    grown: tuple[Store, str],
) -> None:
    store, target = grown
    listing = (
        postgres_store.task_listing
        if isinstance(store, PostgresStore)
        else sqlite_store.task_listing
    )
    for statuses in ((UNASSIGNED,), (UNASSIGNED, PENDING_REVIEW)):
        query = TaskQuery("b", limit=100, statuses=statuses, dispatch_order=True)
        shown = plan(target, *listing(query))
        assert "tasks_waiting" in shown, shown
        assert "Sort" not in shown, shown
        assert "TEMP B-TREE" not in shown, shown
        found = await store.list_tasks(query)
        assert len(found) == 100
        assert all(t.status == UNASSIGNED for t in found)
        order = [(t.priority, t.created_sequence) for t in found]
        assert order == sorted(order)
        assert order[0][0] == 1
    # A listing of other statuses in dispatch order cannot use it, and still works.
    done = TaskQuery("b", limit=10, statuses=("COMPLETE",), dispatch_order=True)
    assert "tasks_waiting" not in plan(target, *listing(done))
    assert [t.status for t in await store.list_tasks(done)] == ["COMPLETE"] * 10


def scans(node: dict[str, Any]) -> list[tuple[str, str]]:
    """(node type, relation) of every node of a PostgreSQL JSON plan that reads a table."""
    found = [(node["Node Type"], node["Relation Name"])] if "Relation Name" in node else []
    for child in node.get("Plans", []):
        found += scans(child)
    return found


async def test_a_batch_updates_its_tasks_through_the_primary_key(
    postgres_database: str,
) -> None:
    # The rows come as JSON, whose length PostgreSQL does not know: without their keys
    # as arrays beside them it plans for a hundred, and scans the whole table for them.
    target = postgres.new_schema_url(postgres_database)
    store = PostgresStore(target)
    await store.start()
    try:
        await store.execute(c.CreateBoard(board_id="b"))
        task_ids = await post(store, 3000)
    finally:
        await store.close()
    rows = [{"board_id": "b", "task_id": t, "status": "STALE", "version": 9} for t in task_ids[:2]]
    sql, args = postgres_store.update_statement(
        "tasks", ("board_id", "task_id"), ("status", "version"), rows
    )
    (shown,) = json.loads(plan(target, sql, list(args)))
    read = scans(shown["Plan"])
    assert ("Index Scan", "tasks") in read, read
    assert ("Seq Scan", "tasks") not in read, read
    # And the statement does what it says.
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(sql, args)
        changed = conn.execute(
            "SELECT task_id, status, version FROM tasks WHERE status = 'STALE' ORDER BY task_id"
        ).fetchall()
    assert changed == sorted((t, "STALE", 9) for t in task_ids[:2])


async def test_every_text_key_of_an_index_compares_bytes(postgres_database: str) -> None:
    # Under a database's language collation (en_US.UTF-8, C.UTF-8) each comparison of
    # an index key calls the C library's strcoll; a batch descends its indexes
    # thousands of times. An index added later with a text column of the default
    # collation would bring that back, as would a rewritten table.
    target = postgres.new_schema_url(postgres_database)
    store = PostgresStore(target)
    await store.start()
    await store.close()
    with psycopg.connect(target, autocommit=True) as conn:
        keys = conn.execute(
            "SELECT i.indexrelid::regclass::text, a.attname, co.collname "
            "FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indexrelid "
            "JOIN pg_collation co ON co.oid = a.attcollation "
            "JOIN pg_class t ON t.oid = i.indrelid "
            "WHERE t.relnamespace = current_schema()::regnamespace"
        ).fetchall()
    assert {"tasks_pkey", "events_pkey", "requests_pkey", "tasks_waiting"} <= {
        index.rsplit(".", 1)[-1] for index, _, _ in keys
    }
    assert [key for key in keys if key[2] != "C"] == []
