"""Fixtures shared by every suite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.server import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server per test module, on its own fresh SQLite store."""
    folder: Path = tmp_path_factory.mktemp("server")
    process = ServerProcess(folder / "quadro.db").start()
    yield process
    process.stop()


@pytest.fixture
def board_id() -> str:
    """A board id no other test uses."""
    return "b-" + uuid.uuid4().hex[:12]
