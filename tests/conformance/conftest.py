"""The store conformance suite runs every test against every backend, unchanged.

A backend is a factory that opens a fresh, empty store; and a way to reach around the
store (raw SQL) for the tests that prove the database itself refuses what must never
happen."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from quadro_server.storage.base import Store
from quadro_server.storage.postgres import PostgresStore
from quadro_server.storage.sqlite import SqliteStore
from support import postgres


@dataclass
class Backend:
    name: str
    open: Callable[[], Store]
    # Runs one raw SQL statement against the store's database, outside the store.
    raw_sql: Callable[[str], None]


def sqlite_backend(tmp_path: Path) -> Backend:
    path = tmp_path / "conformance.db"

    def raw(sql: str) -> None:
        with sqlite3.connect(path) as conn:
            conn.execute(sql)

    return Backend("sqlite", lambda: SqliteStore(str(path)), raw)


def postgres_backend(database: str) -> Backend:
    url = postgres.new_schema_url(database)

    def raw(sql: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.encode())

    return Backend("postgresql", lambda: PostgresStore(url), raw)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return sqlite_backend(tmp_path)
    return postgres_backend(request.getfixturevalue("postgres_database"))


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    opened = backend.open()
    await opened.start()
    yield opened
    await opened.close()
