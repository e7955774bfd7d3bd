"""The store conformance suite runs every test against every backend, unchanged.

A backend is a factory that opens a fresh, empty store; and a way to reach around the
store (raw SQL) for the tests that prove the database itself refuses what must never
happen."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from quadro_server.storage.base import Store
from quadro_server.storage.sqlite import SqliteStore


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


BACKENDS = {"sqlite": sqlite_backend}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    opened = backend.open()
    await opened.start()
    yield opened
    await opened.close()
