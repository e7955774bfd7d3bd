"""Fixtures of the integration suite: clients connected to a real server process."""

from __future__ import annotations

from collections.abc import Iterator

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
