"""A raw SubscribeEvents stream, for tests that look at the wire messages themselves."""

from __future__ import annotations

from typing import Any

import grpc

from quadro.v1 import event_pb2, event_pb2_grpc


class RawStream:
    def __init__(
        self, channel: grpc.Channel, request: event_pb2.SubscribeEventsRequest, timeout: float = 30
    ) -> None:
        stub = event_pb2_grpc.EventServiceStub(channel)
        self._call: Any = stub.SubscribeEvents(request, timeout=timeout)

    def next(self) -> event_pb2.SubscribeEventsResponse:
        message: event_pb2.SubscribeEventsResponse = next(self._call)
        return message

    def cancel(self) -> None:
        self._call.cancel()
