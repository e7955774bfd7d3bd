"""Schema upgrades: a database written by the first schema, opened by today's code, is
migrated in place with nothing lost, and every migration applies in order."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from quadro_server.core import commands as c
from quadro_server.core.results import TaskResult
from quadro_server.storage import migrations
from quadro_server.storage.base import EventQuery
from quadro_server.storage.sqlite import SqliteStore
from quadro_server.storage.sqlite.store import _statements

PACKAGE = "quadro_server.storage.sqlite.migrations"


def create_version_1(path: Path) -> None:
    """A database as the first schema left it, with a board, a task, its event and an
    idempotency record in the first encoding (fields by name)."""
    first = migrations.load(PACKAGE)[0]
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in _statements(first.sql):
        conn.execute(statement)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT "
                 "NOT NULL, applied_time INTEGER NOT NULL)")  # fmt: skip
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'initial', 0)")
    spec = {"display_name": "", "profiles": [], "task_type_rules": [],
            "default_profile": "review_required"}  # fmt: skip
    conn.execute("INSERT INTO boards VALUES ('b', ?, '', 10, 1)", (json.dumps(spec),))
    conn.execute(
        "INSERT INTO tasks VALUES ('b', 'old', 1, 't', 'from v1', 5, 'UNASSIGNED', "
        "'review_required', '', '', '[]', '{}', '', 0, 1, 0, NULL, 10, 10, NULL, '', '', "
        "'boards/b/tasks/old')"
    )
    conn.execute(
        "INSERT INTO events VALUES ('b', 1, 'old', 't', 'task_posted', '', '', 'UNASSIGNED', "
        "'{}', 'req-1', 'anonymous', 12345, 0, '')"
    )
    command = c.PostTask(board_id="b", task_type="t", label="from v1", task_id="old",
                         request_id="req-1")  # fmt: skip
    old_answer = {"$": "TaskResult", "task": None, "event": None}
    conn.execute("INSERT INTO requests VALUES ('req-1', ?, ?, 12345)",
                 (command.fingerprint(), json.dumps(old_answer)))  # fmt: skip
    conn.close()


async def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    create_version_1(path)
    store = SqliteStore(str(path))
    await store.start()
    try:
        task = await store.get_task("b", "old")
        assert task is not None
        assert task.label == "from v1"
        # The idempotency record survived the move to its new table and still replays.
        retry = await store.execute(c.PostTask(board_id="b", task_type="t", label="from v1",
                                               task_id="old", request_id="req-1"))  # fmt: skip
        assert retry.replayed
        assert retry.result == TaskResult(None, None)  # type: ignore[arg-type]
        # head_time was filled from the log, so new events never go back in time.
        posted = await store.execute(c.PostTask(board_id="b", task_type="t", label="new"))
        assert isinstance(posted.result, TaskResult)
        assert posted.result.event is not None
        assert posted.result.event.sequence == 2
        page = await store.list_events(EventQuery(board_id="b", limit=10))
        assert [e.sequence for e in page.events] == [1, 2]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == list(range(1, len(migrations.load(PACKAGE)) + 1))
    conn.close()


async def test_a_database_from_a_newer_quadro_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    store = SqliteStore(str(path))
    await store.start()
    await store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO schema_migrations VALUES (99, 'from_the_future', 0)")
    conn.close()
    future = SqliteStore(str(path))
    try:
        with pytest.raises(migrations.SchemaTooNew, match="Upgrade Quadro"):
            await future.start()
    finally:
        await future.close()
