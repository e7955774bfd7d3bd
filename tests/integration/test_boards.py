"""Boards over the wire: creation, lifecycles as the board reports them, listing."""

from __future__ import annotations

import grpc
import pytest

import quadro
from quadro import errors
from support.server import ServerProcess


def test_create_and_get_board(client: quadro.Client, board_id: str) -> None:
    created = client.create_board(board_id, display_name="Claims").board
    assert created.name == f"boards/{board_id}"
    got = client.get_board(board_id).board
    assert got.display_name == "Claims"
    assert got.default_profile == "review_required"
    assert set(got.profiles) == {"review_required", "fast"}
    assert list(got.profiles["fast"].terminal_statuses) == ["COMPLETE", "HUMAN_REVIEW", "ON_HOLD"]
    assert got.profiles["fast"].built_in


def test_custom_profile_terminals_are_derived(client: quadro.Client, board_id: str) -> None:
    board = client.create_board(
        board_id,
        profiles={
            "legal": [("UNASSIGNED", "review"), ("review", "liable"), ("review", "not_liable"),
                      ("review", "UNASSIGNED")]
        },
        task_types={"legal_*": "legal"},
    ).board  # fmt: skip
    legal = board.profiles["legal"]
    assert not legal.built_in
    assert list(legal.terminal_statuses) == ["HUMAN_REVIEW", "ON_HOLD", "liable", "not_liable"]
    assert set(legal.statuses) == {
        "UNASSIGNED", "review", "liable", "not_liable", "HUMAN_REVIEW", "ON_HOLD",
    }  # fmt: skip
    task = client.post_task(board_id, "legal_liability", "Decide liability").task
    assert task.profile == "legal"


def test_duplicate_board_is_already_exists(client: quadro.Client, board: str) -> None:
    with pytest.raises(errors.AlreadyExists) as caught:
        client.create_board(board)
    assert caught.value.reason == "BOARD_EXISTS"


def test_unknown_board_is_not_found(client: quadro.Client) -> None:
    with pytest.raises(errors.NotFound) as caught:
        client.get_board("no-such-board")
    assert caught.value.reason == "BOARD_NOT_FOUND"
    assert caught.value.resource == "boards/no-such-board"


def test_list_boards_pages_through_all(client: quadro.Client) -> None:
    ids = [f"page-{i}-{id(client) % 10000}" for i in range(5)]
    for board_id in ids:
        client.create_board(board_id)
    listed = [b.name for b in client.iter_boards(page_size=2)]
    assert len(listed) == len(set(listed))
    assert [n for n in listed if n.removeprefix("boards/") in ids] == [f"boards/{i}" for i in ids]


def test_bad_board_id_is_invalid_argument_with_field_violation(server: ServerProcess) -> None:
    with quadro.Client(server.address) as client, pytest.raises(errors.InvalidArgument) as caught:
        client.create_board("Not Valid")
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in caught.value.field_violations] == ["board_id"]
