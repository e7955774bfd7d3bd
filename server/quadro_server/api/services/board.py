"""BoardService: create, get and list boards."""

from __future__ import annotations

import grpc

from quadro import reasons
from quadro.v1 import board_pb2, board_pb2_grpc
from quadro_server.api import convert, pagination, requests
from quadro_server.api.gate import CALLER
from quadro_server.api.services.context import ServiceContext, result_of
from quadro_server.api.validation import Violations
from quadro_server.core import names
from quadro_server.core.errors import NotFound
from quadro_server.core.records import BoardRecord
from quadro_server.core.results import BoardResult

Context = grpc.aio.ServicerContext[object, object]


class BoardService(board_pb2_grpc.BoardServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def CreateBoard(
        self, request: board_pb2.CreateBoardRequest, context: Context
    ) -> board_pb2.CreateBoardResponse:
        command = requests.create_board(request, self._ctx.principal(context))
        applied = await self._ctx.store.execute(command)
        return board_pb2.CreateBoardResponse(
            board=convert.board(result_of(applied, BoardResult).board)
        )

    async def GetBoard(
        self, request: board_pb2.GetBoardRequest, context: Context
    ) -> board_pb2.GetBoardResponse:
        board_id = requests.board_name(request)
        board = await self._ctx.store.get_board(board_id)
        if board is None:
            raise NotFound(names.board_name(board_id), reason=reasons.BOARD_NOT_FOUND)
        return board_pb2.GetBoardResponse(board=convert.board(board))

    async def ListBoards(
        self, request: board_pb2.ListBoardsRequest, context: Context
    ) -> board_pb2.ListBoardsResponse:
        v = Violations()
        limit = v.page_size(request.page_size)
        v.raise_if_any()
        after = pagination.pair_position(request, request.page_token)
        found = await self._visible_boards(after, limit + 1)
        boards, token = pagination.page(
            request, found, limit, lambda b: [b.create_time, b.board_id], convert.board
        )
        return board_pb2.ListBoardsResponse(boards=boards, next_page_token=token)

    async def _visible_boards(self, after: tuple[int, str] | None, limit: int) -> list[BoardRecord]:
        """Up to `limit` boards after `after` that the caller may see: all of them, or
        those of its scopes (read on until enough are found)."""
        caller = CALLER.get()
        found = await self._ctx.store.list_boards(after, limit)
        if not caller.scoped:
            return found
        visible: list[BoardRecord] = []
        while found:
            visible.extend(b for b in found if caller.sees(b.board_id))
            if len(visible) >= limit or len(found) < limit:
                break
            last = found[-1]
            found = await self._ctx.store.list_boards((last.create_time, last.board_id), limit)
        return visible[:limit]
