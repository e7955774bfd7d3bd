"""One subscriber's stream: replay from its positions, then follow the hub, with no gap,
duplicate or reordering across the switch, and progress while nothing matches.

The loop is pull-based: the subscription asks for what comes after its positions, from
the hub's window when it is close to the head or from the store when it is not. A slow
subscriber therefore costs the writers nothing and holds no growing buffer; it simply
reads from further back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from quadro import limits, reasons
from quadro_server.core.errors import Unavailable
from quadro_server.core.event_filter import EventFilter
from quadro_server.core.records import EventRecord
from quadro_server.storage.base import EventQuery, Store
from quadro_server.streaming.hub import Encoder, EventHub

# Builds one wire message from encoded events and the positions reached, by board id.
Framer = Callable[[list[bytes], dict[str, int]], bytes]
# Sends one wire message; given the events it carries, as records, too.
Send = Callable[[bytes, Sequence[EventRecord]], Awaitable[None]]

# At most this many events in one message (and at most PAGE_MAX_BYTES of them).
MAX_EVENTS_PER_MESSAGE = 512


@dataclass(frozen=True)
class SubscriptionSpec:
    boards: tuple[str, ...]
    # Per board id: deliver events after this sequence; None starts at the head.
    after: dict[str, int | None]
    filter: EventFilter
    progress_interval: float


class Subscription:
    def __init__(
        self, spec: SubscriptionSpec, store: Store, hub: EventHub, encode: Encoder, frame: Framer
    ) -> None:
        self._spec = spec
        self._store = store
        self._hub = hub
        self._encode = encode
        self._frame = frame
        self.positions: dict[str, int] = {}

    async def run(self, send: Send) -> None:
        """Send wire messages, forever; ends with Unavailable when the server shuts down.
        Messages are sent rather than yielded: each layer of async generators between
        the stream and the transport costs every message of every subscriber."""
        spec = self._spec
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        # Watch before reading the heads: whatever commits after this point wakes us.
        self._hub.watch(spec.boards, wake.set)
        try:
            for board in spec.boards:
                start = spec.after.get(board)
                if start is None:
                    found = await self._store.get_board(board)
                    start = found.head_sequence if found is not None else 0
                self.positions[board] = start
            await send(self._frame([], dict(self.positions)), ())
            last_sent = time.monotonic()
            while not self._hub.closing:
                wake.clear()
                shared = self._shared_message()
                if shared is not None:
                    await send(*shared)
                    last_sent = time.monotonic()
                    continue
                chunks, records, moved = await self._collect()
                if chunks:
                    await send(self._frame(chunks, dict(self.positions)), records)
                    last_sent = time.monotonic()
                    continue
                if moved:
                    continue  # scanned past non-matching events; there may be more to read
                remaining = spec.progress_interval - (time.monotonic() - last_sent)
                if remaining <= 0:
                    await send(self._frame([], dict(self.positions)), ())
                    last_sent = time.monotonic()
                    continue
                # A timer that sets the same event: cheaper than asyncio.wait_for, which
                # makes a task for every wait of every subscriber.
                timer = loop.call_later(remaining, wake.set)
                try:
                    await wake.wait()
                finally:
                    timer.cancel()
            raise Unavailable(
                "the server is shutting down; resume elsewhere", reason=reasons.SHUTTING_DOWN
            )
        finally:
            self._hub.unwatch(spec.boards, wake.set)

    def _shared_message(self) -> tuple[bytes, list[EventRecord]] | None:
        """For a one-board subscription near the head, the next message from the hub,
        framed once and shared by every subscriber at the same place, and its events;
        None otherwise (nothing new, or the general path is needed)."""
        if len(self._spec.boards) != 1:
            return None
        (board,) = self._spec.boards
        after = self.positions[board]
        scan = self._hub.scan(
            board, after, self._spec.filter, MAX_EVENTS_PER_MESSAGE, limits.PAGE_MAX_BYTES
        )
        if scan is None or not scan.count:
            return None
        if scan.framed is None:
            scan.framed = self._frame([scan.wire], {board: scan.position})
        self.positions[board] = scan.position
        return scan.framed, scan.records

    async def _collect(self) -> tuple[list[bytes], list[EventRecord], bool]:
        """Matching events after the positions, within one message's budget, encoded and
        as records; and whether any position moved."""
        chunks: list[bytes] = []
        records: list[EventRecord] = []
        count = 0
        size = 0
        moved = False
        for board in self._spec.boards:
            room = MAX_EVENTS_PER_MESSAGE - count
            budget = limits.PAGE_MAX_BYTES - size
            if room <= 0 or budget <= 0:
                break
            after = self.positions[board]
            scan = self._hub.scan(board, after, self._spec.filter, room, budget)
            if scan is not None:
                if scan.count:
                    chunks.append(scan.wire)
                    records.extend(scan.records)
                    count += scan.count
                    size += len(scan.wire)
                self.positions[board] = scan.position
            else:
                # Behind the window: the store serves the same filter as a query.
                page = await self._store.list_events(
                    EventQuery(board, room, after, self._spec.filter)
                )
                for event in page.events:
                    wire = self._encode(event)
                    if count and size + len(wire) > limits.PAGE_MAX_BYTES:
                        break
                    chunks.append(wire)
                    records.append(event)
                    count += 1
                    size += len(wire)
                    self.positions[board] = event.sequence
                else:
                    if len(page.events) < room:
                        # Nothing else matches up to the head the page was read at.
                        self.positions[board] = max(self.positions[board], page.head_sequence)
            moved = moved or self.positions[board] != after
        return chunks, records, moved
