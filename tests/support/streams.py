"""Stream helpers for tests: the next items of a client stream with a deadline, and a
raw SubscribeEvents stream for tests that look at the wire messages themselves."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, TypeVar

import grpc
import pytest

from quadro.v1 import event_pb2, event_pb2_grpc

T = TypeVar("T")


def take(stream: Iterable[T], count: int, timeout: float = 20) -> list[T]:
    """The next `count` items of a client stream (or of one iterator over it), or fail
    after `timeout` seconds."""
    got: list[T] = []
    done = threading.Event()

    def read() -> None:
        for item in stream:
            got.append(item)
            if len(got) >= count:
                break
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not done.wait(timeout):
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        pytest.fail(f"got {len(got)} of {count} items in {timeout}s")
    return got


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
