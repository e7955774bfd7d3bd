"""The board's key-value store: values round-trip, internal keys stay out of listings,
writes emit no events."""

from __future__ import annotations

import pytest

import quadro
from quadro import errors


def test_put_get_delete(client: quadro.Client, board: str) -> None:
    value = {"limit": 5000, "currencies": ["EUR", "GBP"], "strict": True, "note": None}
    client.put_data(board, "policy", value)
    assert quadro.from_value(client.get_data(board, "policy").entry.value) == value
    client.put_data(board, "policy", "replaced")
    assert quadro.from_value(client.get_data(board, "policy").entry.value) == "replaced"
    assert client.delete_data(board, "policy").existed
    assert not client.delete_data(board, "policy").existed
    with pytest.raises(errors.NotFound) as caught:
        client.get_data(board, "policy")
    assert caught.value.reason == "DATA_NOT_FOUND"


def test_internal_keys_are_never_listed(client: quadro.Client, board: str) -> None:
    client.put_data(board, "_flight:abc", {"stage": "intake"})
    client.put_data(board, "visible", 1)
    client.put_data(board, "visible.two", 2)
    listed = [quadro.names.last_segment(e.name) for e in client.iter_data(board)]
    assert listed == ["visible", "visible.two"]
    assert quadro.from_value(client.get_data(board, "_flight:abc").entry.value) == {
        "stage": "intake"
    }
    assert [
        quadro.names.last_segment(e.name) for e in client.iter_data(board, key_prefix="visible.")
    ] == ["visible.two"]
    with pytest.raises(errors.InvalidArgument):
        client.list_data(board, key_prefix="_flight")


def test_data_writes_emit_no_events(client: quadro.Client, board: str) -> None:
    before = client.get_board(board).board.head_sequence
    client.put_data(board, "k", [1, 2, 3])
    client.delete_data(board, "k")
    assert client.get_board(board).board.head_sequence == before


def test_listing_pages(client: quadro.Client, board: str) -> None:
    keys = [f"k{i:02d}" for i in range(25)]
    for key in reversed(keys):
        client.put_data(board, key, key)
    assert [quadro.names.last_segment(e.name) for e in client.iter_data(board, page_size=4)] == keys


def test_nan_and_infinity_are_not_json(client: quadro.Client, board: str) -> None:
    for value in (float("nan"), float("inf"), [1, float("-inf")]):
        with pytest.raises(errors.InvalidArgument) as caught:
            client.put_data(board, "k", value)
        assert caught.value.field_violations[0][0] == "value"
    with pytest.raises(errors.NotFound):
        client.get_data(board, "k")
