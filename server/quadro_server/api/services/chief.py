"""ChiefService: Chiefs' registrations, states and cycle records on a board."""

from __future__ import annotations

import grpc

from quadro import reasons
from quadro.v1 import chief_pb2, chief_pb2_grpc
from quadro_server.api import chief_requests, convert, pagination
from quadro_server.api.services.context import ServiceContext, result_of
from quadro_server.api.validation import Violations
from quadro_server.core import names
from quadro_server.core.chiefs import (
    CHIEF_PREFIX,
    ChiefRecord,
    chief_from_json,
    chief_key,
    cycle_from_json,
    cycle_key,
    cycle_prefix,
)
from quadro_server.core.errors import NotFound
from quadro_server.core.results import ChiefCycleResult, ChiefResult

Context = grpc.aio.ServicerContext[object, object]


class ChiefService(chief_pb2_grpc.ChiefServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def _chief(self, ref: names.ChildName) -> ChiefRecord:
        await self._ctx.require_board(ref.board_id)
        entry = await self._ctx.store.get_data(ref.board_id, chief_key(ref.child_id))
        if entry is None:
            raise NotFound(
                names.chief_name(ref.board_id, ref.child_id), reason=reasons.CHIEF_NOT_FOUND
            )
        return chief_from_json(ref.board_id, ref.child_id, entry.value_json)

    async def RegisterChief(
        self, request: chief_pb2.RegisterChiefRequest, context: Context
    ) -> chief_pb2.RegisterChiefResponse:
        command = chief_requests.register_chief(request, self._ctx.principal(context))
        result = result_of(await self._ctx.store.execute(command), ChiefResult)
        return chief_pb2.RegisterChiefResponse(chief=convert.chief(result.chief))

    async def GetChief(
        self, request: chief_pb2.GetChiefRequest, context: Context
    ) -> chief_pb2.GetChiefResponse:
        chief = await self._chief(chief_requests.chief_name("name", request.name))
        return chief_pb2.GetChiefResponse(chief=convert.chief(chief))

    async def ListChiefs(
        self, request: chief_pb2.ListChiefsRequest, context: Context
    ) -> chief_pb2.ListChiefsResponse:
        v = Violations()
        board_id = v.board("parent", request.parent)
        limit = v.page_size(request.page_size)
        v.raise_if_any()
        after = pagination.str_position(request, request.page_token)
        await self._ctx.require_board(board_id)
        found = await self._ctx.store.list_data(
            board_id, CHIEF_PREFIX, chief_key(after) if after else "", limit + 1, internal=True
        )
        chiefs = [
            chief_from_json(board_id, e.key.removeprefix(CHIEF_PREFIX), e.value_json) for e in found
        ]
        page, token = pagination.page(request, chiefs, limit, lambda c: c.chief_id, convert.chief)
        return chief_pb2.ListChiefsResponse(chiefs=page, next_page_token=token)

    async def ReportChiefState(
        self, request: chief_pb2.ReportChiefStateRequest, context: Context
    ) -> chief_pb2.ReportChiefStateResponse:
        command = chief_requests.report_chief_state(request, self._ctx.principal(context))
        result = result_of(await self._ctx.store.execute(command), ChiefResult)
        return chief_pb2.ReportChiefStateResponse(chief=convert.chief(result.chief))

    async def RecordChiefCycle(
        self, request: chief_pb2.RecordChiefCycleRequest, context: Context
    ) -> chief_pb2.RecordChiefCycleResponse:
        command = chief_requests.record_chief_cycle(request, self._ctx.principal(context))
        result = result_of(await self._ctx.store.execute(command), ChiefCycleResult)
        return chief_pb2.RecordChiefCycleResponse(
            cycle=convert.chief_cycle(result.cycle), chief=convert.chief(result.chief)
        )

    async def ListChiefCycles(
        self, request: chief_pb2.ListChiefCyclesRequest, context: Context
    ) -> chief_pb2.ListChiefCyclesResponse:
        v = Violations()
        limit = v.page_size(request.page_size)
        v.raise_if_any()
        ref = chief_requests.chief_name("parent", request.parent)
        after = pagination.str_position(request, request.page_token)
        await self._chief(ref)
        found = await self._ctx.store.list_data(
            ref.board_id, cycle_prefix(ref.child_id), after, limit + 1, internal=True
        )
        cycles = [cycle_from_json(ref.board_id, e.key, e.value_json) for e in found]
        page, token = pagination.page(
            request, cycles, limit, lambda c: cycle_key(c.chief_id, c.number), convert.chief_cycle
        )
        return chief_pb2.ListChiefCyclesResponse(cycles=page, next_page_token=token)
