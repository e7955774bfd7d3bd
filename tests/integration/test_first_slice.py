"""The server answers over the wire: a board created, read back, and errors with details."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from quadro.v1 import board_pb2, board_pb2_grpc
from support.server import ServerProcess


def test_create_and_get_board(server: ServerProcess, board_id: str) -> None:
    with grpc.insecure_channel(server.address) as channel:
        boards = board_pb2_grpc.BoardServiceStub(channel)
        created = boards.CreateBoard(board_pb2.CreateBoardRequest(board_id=board_id)).board
        assert created.name == f"boards/{board_id}"
        got = boards.GetBoard(board_pb2.GetBoardRequest(name=created.name)).board
        assert got.default_profile == "review_required"
        assert set(got.profiles) == {"review_required", "fast"}
        assert list(got.profiles["fast"].terminal_statuses) == [
            "COMPLETE",
            "HUMAN_REVIEW",
            "ON_HOLD",
        ]


def test_bad_board_id_is_invalid_argument_with_field_violation(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.address) as channel:
        boards = board_pb2_grpc.BoardServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            boards.CreateBoard(board_pb2.CreateBoardRequest(board_id="Not Valid"))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        status = rpc_status.from_call(caught.value)  # type: ignore[arg-type]
        assert status is not None
        bad_request = error_details_pb2.BadRequest()
        assert any(d.Unpack(bad_request) for d in status.details)
        assert [v.field for v in bad_request.field_violations] == ["board_id"]
