"""EventService: read the log."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import grpc

from quadro.v1 import event_pb2, event_pb2_grpc
from quadro_server.api import convert, pagination, requests
from quadro_server.api.services.context import ServiceContext
from quadro_server.core.records import EventRecord
from quadro_server.streaming.subscription import Subscription

Context = grpc.aio.ServicerContext[object, object]


class EventService(event_pb2_grpc.EventServiceServicer):
    """ListEvents reads the log; SubscribeEvents follows it."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def ListEvents(
        self, request: event_pb2.ListEventsRequest, context: Context
    ) -> event_pb2.ListEventsResponse:
        query = requests.list_events(request, pagination.int_position(request, request.page_token))
        board = await self._ctx.require_board(query.board_id)
        requests.check_known_statuses(board, "filter.statuses", query.filter.statuses)
        page = await self._ctx.store.list_events(dataclasses.replace(query, limit=query.limit + 1))
        events, token = pagination.page(
            request, page.events, query.limit, lambda e: e.sequence, convert.event
        )
        return event_pb2.ListEventsResponse(
            events=events,
            next_page_token=token,
            head_sequence=page.head_sequence,
        )

    async def SubscribeEvents(  # type: ignore[override]
        self, request: event_pb2.SubscribeEventsRequest, context: Context
    ) -> None:
        # Writes pre-encoded SubscribeEventsResponse messages (see convert.event_entry);
        # the error interceptor passes bytes through its serializer untouched.
        spec = requests.subscribe(request)
        for board_id in spec.boards:
            board = await self._ctx.require_board(board_id)
            requests.check_known_statuses(board, "filter.statuses", spec.filter.statuses)
        with self._ctx.streams.hold(self._ctx.principal(context)):
            subscription = Subscription(
                spec,
                self._ctx.store,
                self._ctx.hub,
                convert.event_entry,
                convert.subscription_message,
            )

            async def send(message: bytes, _: Sequence[EventRecord]) -> None:
                await context.write(message)

            await subscription.run(send)
