"""The reference for bench_subscriptions.py: a bare gRPC streaming server.

It does what any server-streaming fan-out must do and nothing Quadro adds: no store, no
board, no filters, no interceptor, positions encoded once per publish rather than per
message. Events are published by a timer at a given rate, or one per unary call; every
stream is woken when events arrive and sends whatever it has not sent yet as one
message, as Quadro's subscriptions do (so that both coalesce the same way when they fall
behind).

The messages are SubscribeEventsResponse bytes built from a real Quadro event (the
template, passed on the command line), with the sequence and `create_time` (the send
time) restamped, and the same `positions` map: the same size and shape as Quadro's, so
the benchmark client parses both with the same code. Each event is encoded once,
however many streams send it. The handlers are generic with identity serializers: the
transport sees bytes only.

Methods (requests and answers are bytes):

- `/bench.Bare/Subscribe` (server streaming): a positions-only message at once, then
  the events published after the stream opened.
- `/bench.Bare/Control` (unary): `b"<rate>"` (events/s) starts the publisher, `b"0"`
  stops it, `b"+"` publishes one event now (a write that comes as a call, like
  Quadro's), an empty request changes nothing; the answer is
  `b"<published> <head> <time>"`: `published` counts the publisher's events only, and
  `time` (time.time()) says when they were counted, since a busy server answers late.

Run by bench_subscriptions.py through `BareServer`; on its own:

    .venv/bin/python bench/_bare_stream_server.py --template-hex HEX
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc

from quadro import limits
from quadro.v1 import event_pb2

SERVICE = "bench.Bare"
SUBSCRIBE = f"/{SERVICE}/Subscribe"
CONTROL = f"/{SERVICE}/Control"
_READY = "bare: serving on port "
# The same budget per message as Quadro's subscriptions (MAX_EVENTS_PER_MESSAGE).
MAX_EVENTS_PER_MESSAGE = 512
# Published events kept for streams that have not sent them yet: Quadro's default
# --stream-window. A stream further behind skips ahead; the benchmark sees it as lag.
WINDOW = 8192


class Feed:
    """Published events, encoded once, and the streams to wake when more arrive."""

    def __init__(self, template: bytes, board: str) -> None:
        self._event = event_pb2.Event.FromString(template)
        self._board = board
        self.head = 0
        self._first = 1  # sequence of _entries[0]
        self._entries: list[bytes] = []
        self._head_tail = self.positions(0)
        self._watchers: set[Callable[[], None]] = set()

    def positions(self, sequence: int) -> bytes:
        return event_pb2.SubscribeEventsResponse(
            positions={self._board: sequence}
        ).SerializeToString()

    def publish(self, count: int) -> None:
        # Microseconds, as Quadro records time.
        stamp = time.time_ns() // 1000 * 1000
        event = self._event
        for _ in range(count):
            self.head += 1
            event.sequence = self.head
            event.create_time.FromNanoseconds(stamp)
            # A one-event SubscribeEventsResponse is exactly one entry of its `events`
            # field: messages are these entries joined, then the positions.
            message = event_pb2.SubscribeEventsResponse()
            message.events.append(event)
            self._entries.append(message.SerializeToString())
        self._head_tail = self.positions(self.head)
        if len(self._entries) > 2 * WINDOW:
            del self._entries[:WINDOW]
            self._first += WINDOW
        for wake in self._watchers:
            wake()

    def after(self, position: int) -> tuple[bytes, int]:
        """The message for a stream that has sent up to `position`, and its new position."""
        start = max(position + 1, self._first)
        stop = min(self.head, start + MAX_EVENTS_PER_MESSAGE - 1)
        tail = self._head_tail if stop == self.head else self.positions(stop)
        chunk = self._entries[start - self._first : stop - self._first + 1]
        return b"".join(chunk) + tail, stop

    def watch(self, wake: Callable[[], None]) -> None:
        self._watchers.add(wake)

    def unwatch(self, wake: Callable[[], None]) -> None:
        self._watchers.discard(wake)


class Publisher:
    """Stamps events at a steady rate; when the loop was busy it publishes everything
    due at once, as commits batch the writes that queued during the previous one."""

    def __init__(self, feed: Feed) -> None:
        self._feed = feed
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def set_rate(self, rate: float) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if rate > 0:
            self._task = asyncio.get_running_loop().create_task(self._run(rate))

    async def _run(self, rate: float) -> None:
        start = time.perf_counter()
        sent = 0
        while True:
            due = int((time.perf_counter() - start) * rate) + 1 - sent
            if due > 0:
                self._feed.publish(due)
                sent += due
                self.published += due
            await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))


def handlers(feed: Feed, publisher: Publisher) -> grpc.GenericRpcHandler[Any, Any]:
    async def control(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        if request == b"+":
            feed.publish(1)
        elif request:
            publisher.set_rate(float(request))
        return f"{publisher.published} {feed.head} {time.time()!r}".encode()

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            # No serializers: the handlers take and give bytes.
            "Subscribe": grpc.unary_stream_rpc_method_handler(_subscribe(feed)),
            "Control": grpc.unary_unary_rpc_method_handler(control),
        },
    )


def _subscribe(
    feed: Feed,
) -> Callable[[bytes, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[bytes]]:
    async def subscribe(
        request: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[bytes]:
        wake = asyncio.Event()
        feed.watch(wake.set)
        try:
            position = feed.head
            yield feed.positions(position)
            while True:
                wake.clear()
                if feed.head > position:
                    message, position = feed.after(position)
                    yield message
                    continue
                await wake.wait()
        finally:
            feed.unwatch(wake.set)

    return subscribe


async def serve(template: bytes, board: str) -> None:
    feed = Feed(template, board)
    publisher = Publisher(feed)
    # Quadro's limit on message size.
    options = [
        ("grpc.max_send_message_length", limits.MESSAGE_MAX_BYTES),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.aio.server(options=options)
    server.add_generic_rpc_handlers((handlers(feed, publisher),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"{_READY}{port}", flush=True)
    await server.wait_for_termination()


class BareServer:
    """This module run as a subprocess, on an ephemeral loopback port."""

    def __init__(self, template: bytes, board: str) -> None:
        self._args = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--template-hex",
            template.hex(),
            "--board",
            board,
        ]
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> BareServer:
        self.process = subprocess.Popen(self._args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith(_READY):
            self.stop()
            raise RuntimeError(f"the bare server did not start: {line!r}")
        self.port = int(line[len(_READY) :])
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--template-hex", required=True, help="a serialized quadro.v1.Event")
    parser.add_argument("--board", default="boards/bench", help="key of the positions map")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(bytes.fromhex(args.template_hex), args.board))


if __name__ == "__main__":
    main()
