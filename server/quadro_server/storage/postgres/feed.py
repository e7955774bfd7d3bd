"""Keeping a replica's subscribers current with the commits of every replica.

Each commit NOTIFYs the boards it advanced and their new heads. The feed LISTENs on a
connection of its own and reads the new events from the table; every `poll_interval`
it also compares every board's head with what it has delivered, which catches what a
notification lost with a dropped connection would have missed. A notification is only
ever a hint that the table has moved.

The replica's own commits reach its listeners straight from the store; their
notifications, which may arrive before the committing call resumes, are not read back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import psycopg

from quadro_server.core.records import EventRecord

if TYPE_CHECKING:
    from quadro_server.storage.postgres.store import PostgresStore

log = logging.getLogger(__name__)

CHANNEL = "quadro_events"
# A board first heard of is seeded with at most this many recent events: subscribers
# further back read the store anyway.
_SEED = 256
_PAGE = 1000


class EventFeed:
    def __init__(self, store: PostgresStore, poll_interval: float) -> None:
        self.channel = CHANNEL
        self._store = store
        self._poll_interval = poll_interval
        # Per board, the last sequence handed to the listeners.
        self._delivered: dict[str, int] = {}
        # Per board, the head a local commit in flight will hand to the listeners itself.
        self._expected: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="quadro-postgres-feed")

    async def stop(self) -> None:
        # The flag as well as the cancellation: a library may turn a CancelledError into
        # an error of its own, which the loop below would take for a lost connection.
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def admit(self, events: Sequence[EventRecord]) -> list[EventRecord]:
        """The events not delivered yet (each is delivered once, whichever of the local
        commit or the feed brings it first)."""
        fresh = []
        for event in events:
            if event.sequence > self._delivered.get(event.board_id, 0):
                self._delivered[event.board_id] = event.sequence
                fresh.append(event)
        return fresh

    def expect(self, heads: dict[str, int]) -> None:
        """A local commit in flight will deliver these heads itself (until `settle`)."""
        for board_id, head in heads.items():
            self._expected[board_id] = max(head, self._expected.get(board_id, 0))

    def settle(self, heads: Mapping[str, int] | None = None) -> None:
        """A local commit is over (those of `heads`, or every one): delivered, or of
        unknown outcome, which the next poll brings. A head a later commit in flight
        expects stays expected."""
        if heads is None:
            self._expected.clear()
            return
        for board_id, head in heads.items():
            if self._expected.get(board_id) == head:
                del self._expected[board_id]

    async def _run(self) -> None:
        delay = 0.1
        while not self._stopping:
            try:
                conn = await psycopg.AsyncConnection.connect(self._store.url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {self.channel}")
                    delay = 0.1
                    await self._poll()  # whatever happened while not listening
                    while not self._stopping:
                        async for notice in conn.notifies(timeout=self._poll_interval):
                            await self._on_notice(notice.payload)
                        await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: reconnect, then catch up
                if self._stopping:
                    return
                log.warning("event feed interrupted (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _on_notice(self, payload: str) -> None:
        for item in payload.split(";"):
            board_id, _, head = item.rpartition(":")
            if board_id and head.isdigit() and int(head) > self._expected.get(board_id, 0):
                await self._catch_up(board_id, int(head))

    async def _poll(self) -> None:
        for board_id, head in (await self._store.heads()).items():
            await self._catch_up(board_id, head)

    async def _catch_up(self, board_id: str, head: int) -> None:
        delivered = self._delivered.get(board_id)
        after = max(0, head - _SEED) if delivered is None else delivered
        while after < head:
            events = await self._store.events_after(board_id, after, _PAGE)
            if not events:
                return
            self._store.deliver(events)
            after = events[-1].sequence
