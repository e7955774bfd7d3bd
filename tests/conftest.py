"""Fixtures shared by every suite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import postgres
from support.server import ServerProcess

STORES = ["sqlite", "postgresql"]


def fresh_store(kind: str, folder: Path, request: pytest.FixtureRequest) -> str:
    """An empty store of that kind: a SQLite file, or a schema of the session's database."""
    if kind == "sqlite":
        return str(folder / "quadro.db")
    return postgres.new_schema_url(request.getfixturevalue("postgres_database"))


@pytest.fixture(scope="module", params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every test that uses a server runs against each store."""
    return str(request.param)


@pytest.fixture(scope="module")
def server(
    store_kind: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ServerProcess]:
    """One real server per test module and store, on a fresh store."""
    folder: Path = tmp_path_factory.mktemp("server")
    process = ServerProcess(fresh_store(store_kind, folder, request), log_dir=folder).start()
    yield process
    process.stop()


@pytest.fixture
def store_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh store, for tests that run servers of their own."""
    return fresh_store(store_kind, tmp_path, request)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own on the test PostgreSQL server, for this session."""
    name = postgres.create_database()
    yield name
    postgres.drop_database(name)


@pytest.fixture
def board_id() -> str:
    """A board id no other test uses."""
    return "b-" + uuid.uuid4().hex[:12]
