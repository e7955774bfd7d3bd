"""Fixtures of the integration suite: clients connected to a real server process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

import quadro
from support.server import ServerProcess


@pytest.fixture
def client(server: ServerProcess) -> Iterator[quadro.Client]:
    with quadro.Client(server.address, timeout=20) as connected:
        yield connected


@pytest.fixture
def board(client: quadro.Client, board_id: str) -> str:
    """A fresh board with the built-in profiles, default `review_required`."""
    client.create_board(board_id)
    return board_id


@pytest.fixture
async def aclient(server: ServerProcess) -> AsyncIterator[quadro.AsyncClient]:
    async with quadro.AsyncClient(server.address, timeout=30) as connected:
        yield connected


@pytest.fixture
async def work_board(aclient: quadro.AsyncClient, board_id: str) -> str:
    """A fresh board for the runtimes: `quick_*` tasks are `fast`, the rest
    `review_required`."""
    await aclient.create_board(board_id, task_types={"quick_*": "fast"})
    return board_id
