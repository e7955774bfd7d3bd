"""DataService: the board's key-value store."""

from __future__ import annotations

import grpc

from quadro import reasons
from quadro.v1 import data_pb2, data_pb2_grpc
from quadro_server.api import convert, pagination, requests
from quadro_server.api.services.context import ServiceContext, result_of
from quadro_server.core import names
from quadro_server.core.errors import NotFound
from quadro_server.core.results import DataResult, DeleteDataResult

Context = grpc.aio.ServicerContext[object, object]


class DataService(data_pb2_grpc.DataServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def PutData(
        self, request: data_pb2.PutDataRequest, context: Context
    ) -> data_pb2.PutDataResponse:
        command = requests.put_data(request, self._ctx.principal(context))
        result = result_of(await self._ctx.store.execute(command), DataResult)
        return data_pb2.PutDataResponse(entry=convert.data_entry(result.entry))

    async def GetData(
        self, request: data_pb2.GetDataRequest, context: Context
    ) -> data_pb2.GetDataResponse:
        ref = requests.data_name("name", request.name)
        entry = await self._ctx.store.get_data(ref.board_id, ref.child_id)
        if entry is None:
            raise NotFound(
                names.data_name(ref.board_id, ref.child_id), reason=reasons.DATA_NOT_FOUND
            )
        return data_pb2.GetDataResponse(entry=convert.data_entry(entry))

    async def DeleteData(
        self, request: data_pb2.DeleteDataRequest, context: Context
    ) -> data_pb2.DeleteDataResponse:
        command = requests.delete_data(request, self._ctx.principal(context))
        result = result_of(await self._ctx.store.execute(command), DeleteDataResult)
        return data_pb2.DeleteDataResponse(existed=result.existed)

    async def ListData(
        self, request: data_pb2.ListDataRequest, context: Context
    ) -> data_pb2.ListDataResponse:
        board_id, prefix, limit = requests.list_data(request)
        after = pagination.str_position(request, request.page_token)
        await self._ctx.require_board(board_id)
        found = await self._ctx.store.list_data(board_id, prefix, after, limit + 1)
        entries, token = pagination.page(request, found, limit, lambda e: e.key, convert.data_entry)
        return data_pb2.ListDataResponse(entries=entries, next_page_token=token)
