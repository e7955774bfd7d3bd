"""Schema upgrades, on every store: a database written by the first schema, opened by
today's code, is migrated in place with nothing lost; every migration applies in order;
a database from a newer Quadro is refused."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from quadro_server.core import codec
from quadro_server.core import commands as c
from quadro_server.core.results import TaskResult
from quadro_server.storage import migrations
from quadro_server.storage.base import EventQuery, Store
from quadro_server.storage.postgres import PostgresStore
from quadro_server.storage.sqlite import SqliteStore
from quadro_server.storage.sqlite.store import _statements
from support import postgres

SPEC = {"display_name": "", "profiles": [], "task_type_rules": [],
        "default_profile": "review_required"}  # fmt: skip
RETRIED = c.PostTask(board_id="b", task_type="t", label="from v1", task_id="old",
                     request_id="req-1")  # fmt: skip
TASK_ROW = ("INSERT INTO tasks VALUES ('b', 'old', 1, 't', 'from v1', 5, 'UNASSIGNED', "
            "'review_required', '', '', '[]', '{}', '', 0, 1, 0, NULL, 10, 10, NULL, '', '', "
            "'boards/b/tasks/old')")  # fmt: skip
EVENT_ROW = ("INSERT INTO events VALUES ('b', 1, 'old', 't', 'task_posted', '', '', "
             "'UNASSIGNED', '{}', 'req-1', 'anonymous', 12345, 0, '')")  # fmt: skip
MIGRATIONS_TABLE = ("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT "
                    "NOT NULL, applied_time BIGINT NOT NULL)")  # fmt: skip


@dataclass
class Backend:
    package: str
    open: Callable[[], Store]
    # Splits a migration into statements the driver runs one at a time.
    split: Callable[[str], list[str]]
    # Runs statements (with parameters) on the database, outside the store.
    sql: Callable[[list[tuple[str, tuple[Any, ...]]]], list[tuple[Any, ...]]]
    # The board and the idempotency record as the first schema stored them.
    first_board: tuple[str, tuple[Any, ...]]
    first_request: tuple[str, tuple[Any, ...]]
    # What only the newest schema has, to show that every migration ran.
    newest_check: str
    newest_expected: list[tuple[Any, ...]]


def sqlite_backend(tmp_path: Path) -> Backend:
    path = tmp_path / "old.db"

    def sql(statements: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            found: list[tuple[Any, ...]] = []
            for statement, args in statements:
                found = conn.execute(statement, args).fetchall()
            return found
        finally:
            conn.close()

    # The first encoding of a stored answer: fields by name.
    old_answer = {"$": "TaskResult", "task": None, "event": None}
    return Backend(
        package="quadro_server.storage.sqlite.migrations",
        open=lambda: SqliteStore(str(path)),
        split=_statements,
        sql=sql,
        first_board=("INSERT INTO boards VALUES ('b', ?, '', 10, 1)", (json.dumps(SPEC),)),
        first_request=(
            "INSERT INTO requests VALUES ('req-1', ?, ?, 12345)",
            (RETRIED.fingerprint(), json.dumps(old_answer)),
        ),
        # The index of waiting tasks came with the seventh schema.
        newest_check="SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'tasks_waiting'",
        newest_expected=[("tasks_waiting",)],
    )


def postgres_backend(database: str) -> Backend:
    url = postgres.new_schema_url(database)

    def sql(statements: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
        with psycopg.connect(url, autocommit=True) as conn:
            found: list[tuple[Any, ...]] = []
            for statement, args in statements:
                cur = conn.execute(statement.replace("?", "%s").encode(), args or None)
                found = cur.fetchall() if cur.description else []
            return found

    return Backend(
        package="quadro_server.storage.postgres.migrations",
        open=lambda: PostgresStore(url),
        split=lambda script: [script],
        sql=sql,
        first_board=(
            "INSERT INTO boards VALUES ('b', ?, '', 10, 1, 12345)",
            (json.dumps(SPEC),),
        ),
        first_request=(
            "INSERT INTO requests (request_id, fingerprint, result, create_time) "
            "VALUES ('req-1', ?, ?, 12345)",
            (RETRIED.fingerprint(), codec.dumps(TaskResult(None, None))),  # type: ignore[arg-type]
        ),
        # The index of waiting tasks came with the sixth schema.
        newest_check=(
            "SELECT indexname FROM pg_indexes WHERE indexname = 'tasks_waiting' "
            "AND schemaname = current_schema()"
        ),
        newest_expected=[("tasks_waiting",)],
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return sqlite_backend(tmp_path)
    return postgres_backend(request.getfixturevalue("postgres_database"))


def create_version_1(backend: Backend) -> None:
    """A database as the first schema left it, with a board, a task, its event and an
    idempotency record."""
    first = migrations.load(backend.package)[0]
    backend.sql(
        [(statement, ()) for statement in backend.split(first.sql)]
        + [
            (MIGRATIONS_TABLE, ()),
            ("INSERT INTO schema_migrations VALUES (1, 'initial', 0)", ()),
            backend.first_board,
            (TASK_ROW, ()),
            (EVENT_ROW, ()),
            backend.first_request,
        ]
    )


async def test_a_version_1_database_is_upgraded_in_place(backend: Backend) -> None:
    create_version_1(backend)
    store = backend.open()
    await store.start()
    try:
        task = await store.get_task("b", "old")
        assert task is not None
        assert task.label == "from v1"
        # The idempotency record survived the migrations and still replays.
        retry = await store.execute(RETRIED)
        assert retry.replayed
        assert retry.result == TaskResult(None, None)  # type: ignore[arg-type]
        # New events follow the old ones, never going back in time.
        posted = await store.execute(c.PostTask(board_id="b", task_type="t", label="new"))
        assert isinstance(posted.result, TaskResult)
        assert posted.result.event is not None
        assert posted.result.event.sequence == 2
        assert posted.result.event.create_time >= 12345
        page = await store.list_events(EventQuery(board_id="b", limit=10))
        assert [e.sequence for e in page.events] == [1, 2]
    finally:
        await store.close()
    versions = backend.sql([("SELECT version FROM schema_migrations ORDER BY 1", ())])
    assert [v[0] for v in versions] == list(range(1, len(migrations.load(backend.package)) + 1))
    assert backend.sql([(backend.newest_check, ())]) == backend.newest_expected


async def test_a_database_from_a_newer_quadro_is_refused(backend: Backend) -> None:
    store = backend.open()
    await store.start()
    await store.close()
    backend.sql([("INSERT INTO schema_migrations VALUES (99, 'from_the_future', 0)", ())])
    future = backend.open()
    try:
        with pytest.raises(migrations.SchemaTooNew, match="Upgrade Quadro"):
            await future.start()
    finally:
        await future.close()
