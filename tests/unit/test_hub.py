"""The hub's window: what it serves from memory, when it sends readers to the store, and
whom it wakes."""

from __future__ import annotations

import asyncio

from quadro_server.core.records import EventRecord
from quadro_server.streaming.hub import EventHub


def event(board: str, sequence: int) -> EventRecord:
    return EventRecord(board, sequence, "t", "type", "task_posted", "", "", "UNASSIGNED", {}, "",
                       "p", 0, 0, "")  # fmt: skip


async def test_window_serves_recent_events_and_refers_older_reads_to_the_store() -> None:
    encoded: list[int] = []

    def encode(e: EventRecord) -> bytes:
        encoded.append(e.sequence)
        return b"x"

    hub = EventHub(encode, window=3)
    assert hub.recent("b", 0, 10) is None, "nothing in memory yet"
    hub.publish([event("b", s) for s in range(1, 6)])
    assert hub.recent("b", 1, 10) is None, "1 left the window (3, 4, 5 remain)"
    recent = hub.recent("b", 2, 10)
    assert recent is not None
    assert [r.record.sequence for r in recent] == [3, 4, 5]
    assert [r.record.sequence for r in hub.recent("b", 3, 1) or []] == [4]
    assert hub.recent("b", 5, 10) == []
    assert recent[0].wire() == recent[0].wire() == b"x"
    assert encoded == [3], "each event is encoded once, on first use"


async def test_a_gap_restarts_the_window() -> None:
    hub = EventHub(lambda e: b"", window=10)
    hub.publish([event("b", 1), event("b", 2), event("b", 7)])
    assert hub.recent("b", 2, 10) is None
    assert [r.record.sequence for r in hub.recent("b", 6, 10) or []] == [7]


async def test_wakes_watchers_of_the_board_once_per_loop_iteration() -> None:
    hub = EventHub(lambda e: b"", window=10)
    woken: list[str] = []
    hub.watch(["a"], lambda: woken.append("a"))
    hub.watch(["a", "b"], lambda: woken.append("ab"))
    hub.publish([event("a", 1)])
    hub.publish([event("a", 2)])
    assert woken == [], "wakes are coalesced until the loop runs"
    await asyncio.sleep(0)
    assert sorted(woken) == ["a", "ab"]
    hub.publish([event("b", 1)])
    await asyncio.sleep(0)
    assert sorted(woken) == ["a", "ab", "ab"]
    assert hub.watcher_count == 3
