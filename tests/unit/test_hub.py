"""The hub's window: what it serves from memory, when it sends readers to the store,
whom it wakes, and that readers at the same place share one scan."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable

from quadro_server.core.event_filter import EventFilter
from quadro_server.core.records import EventRecord, TaskRecord
from quadro_server.streaming.hub import EventHub

EVERYTHING = EventFilter()


def event(board: str, sequence: int, task_type: str = "t") -> EventRecord:
    return EventRecord(board, sequence, "t", task_type, "task_posted", "", "", "UNASSIGNED", {},
                       "", "p", 0, 0, "")  # fmt: skip


def encode_sequence(e: EventRecord) -> bytes:
    return bytes([e.sequence])


async def test_window_serves_recent_events_and_refers_older_reads_to_the_store() -> None:
    encoded: list[int] = []

    def encode(e: EventRecord) -> bytes:
        encoded.append(e.sequence)
        return bytes([e.sequence])

    hub = EventHub(encode, window=3)
    assert hub.scan("b", 0, EVERYTHING, 10, 1000) is None, "nothing in memory yet"
    hub.publish([event("b", s) for s in range(1, 6)])
    await asyncio.sleep(0)  # published events become visible at the wake
    assert hub.scan("b", 1, EVERYTHING, 10, 1000) is None, "1 left the window (3, 4, 5 remain)"
    scan = hub.scan("b", 2, EVERYTHING, 10, 1000)
    assert scan is not None
    assert (scan.wire, scan.count, scan.position) == (bytes([3, 4, 5]), 3, 5)
    limited = hub.scan("b", 3, EVERYTHING, 1, 1000)
    assert limited is not None
    assert (limited.wire, limited.position) == (bytes([4]), 4)
    caught_up = hub.scan("b", 5, EVERYTHING, 10, 1000)
    assert caught_up is not None
    assert (caught_up.count, caught_up.position) == (0, 5)
    assert sorted(encoded) == [3, 4, 5], "each event is encoded once, on first use"


async def test_filters_advance_the_position_past_what_they_skip() -> None:
    hub = EventHub(encode_sequence, window=10)
    hub.publish([event("b", 1, "a"), event("b", 2, "x"), event("b", 3, "a"), event("b", 4, "x")])
    await asyncio.sleep(0)  # published events become visible at the wake
    scan = hub.scan("b", 0, EventFilter(task_types=("x",)), 10, 1000)
    assert scan is not None
    assert (scan.wire, scan.position) == (bytes([2, 4]), 4)
    small = hub.scan("b", 0, EventFilter(task_types=("x",)), 10, 1)
    assert small is not None
    assert (small.wire, small.position) == (bytes([2]), 3), "the byte budget stops the scan"


async def test_readers_at_the_same_place_share_one_scan() -> None:
    hub = EventHub(encode_sequence, window=10)
    hub.publish([event("b", 1), event("b", 2)])
    await asyncio.sleep(0)  # published events become visible at the wake
    first = hub.scan("b", 0, EVERYTHING, 10, 1000)
    assert hub.scan("b", 0, EVERYTHING, 10, 1000) is first
    hub.publish([event("b", 3)])
    await asyncio.sleep(0)  # published events become visible at the wake
    later = hub.scan("b", 0, EVERYTHING, 10, 1000)
    assert later is not first, "a new head is a new scan"
    assert later is not None
    assert later.position == 3


async def test_a_gap_restarts_the_window() -> None:
    hub = EventHub(encode_sequence, window=10)
    hub.publish([event("b", 1), event("b", 2), event("b", 7)])
    await asyncio.sleep(0)  # published events become visible at the wake
    assert hub.scan("b", 2, EVERYTHING, 10, 1000) is None
    scan = hub.scan("b", 6, EVERYTHING, 10, 1000)
    assert scan is not None
    assert scan.wire == bytes([7])


async def test_wakes_watchers_of_the_board_once_per_loop_iteration() -> None:
    hub = EventHub(encode_sequence, window=10)
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


async def test_events_become_visible_when_their_watchers_are_woken() -> None:
    hub = EventHub(encode_sequence, window=10)
    hub.publish([event("b", 1)])
    await asyncio.sleep(0)
    hub.publish([event("b", 2)])
    early = hub.scan("b", 0, EVERYTHING, 10, 1000)
    assert early is not None
    assert early.position == 1, "2 is published but its wake has not run yet"
    await asyncio.sleep(0)
    later = hub.scan("b", 0, EVERYTHING, 10, 1000)
    assert later is not None
    assert later.position == 2


async def test_a_fan_out_to_a_few_watchers_goes_at_once() -> None:
    """A Chief, workers and an observer or two are woken on every commit, in the next
    turns of the loop, with no coalescing window, however long the last fan-out took."""
    hub = EventHub(encode_sequence, window=100)
    woken: list[int] = []
    for i in range(16):
        hub.watch(["b"], functools.partial(woken.append, i))
    hub._last_fan_out = 0.5  # as if the last one had been slow
    hub.publish([event("b", 1)])
    for _ in range(4):  # four turns: a chunk of watchers each
        await asyncio.sleep(0)
    assert sorted(woken) == list(range(16))


async def test_a_slow_fan_out_spaces_out_the_next_one() -> None:
    """With many watchers, the next fan-out waits at least as long as the last one took,
    so that fan-out never holds the event loop more than about half of the time."""
    hub = EventHub(encode_sequence, window=100)
    rounds: list[list[int]] = [[], []]
    done = [asyncio.Event(), asyncio.Event()]

    def watcher(i: int) -> Callable[[], None]:
        def wake() -> None:
            time.sleep(0.002)  # a costly send: 40 of them take at least 80 ms
            current = 0 if len(rounds[0]) < 40 else 1
            rounds[current].append(i)
            if len(rounds[current]) == 40:
                done[current].set()

        return wake

    for i in range(40):
        hub.watch(["b"], watcher(i))
    hub.publish([event("b", 1)])
    await asyncio.wait_for(done[0].wait(), 10)
    hub.publish([event("b", 2)])
    await asyncio.sleep(0.02)
    assert rounds[1] == [], "the second fan-out waits as long as the first took"
    await asyncio.wait_for(done[1].wait(), 10)
    assert sorted(rounds[0]) == sorted(rounds[1]) == list(range(40))


def task_event(board: str, sequence: int, task_id: str) -> EventRecord:
    return EventRecord(board, sequence, task_id, "t", "task_assigned", "w", "UNASSIGNED",
                       "IN_PROGRESS", {}, "", "p", 0, 1, "")  # fmt: skip


def task(board: str, task_id: str, version: int) -> TaskRecord:
    return TaskRecord(board, task_id, "t", "l", 5, "IN_PROGRESS", "fast", "w", "", (), {}, "",
                      1, version, False, None, 0, 0, None, "", "", "", 1)  # fmt: skip


async def test_the_task_an_event_left_is_known_until_the_task_moves_on() -> None:
    hub = EventHub(encode_sequence, window=4)
    hub.publish(
        [task_event("b", 1, "x"), task_event("b", 2, "y")],
        {("b", 1): task("b", "x", 2), ("b", 2): task("b", "y", 2)},
    )
    assert hub.task_after("b", 1) == task("b", "x", 2)
    assert hub.task_after("b", 2) == task("b", "y", 2)
    # x moves on, in an event published without its task (another replica's commit):
    # neither of its events says how it stands now.
    hub.publish([task_event("b", 3, "x")])
    assert hub.task_after("b", 1) is None
    assert hub.task_after("b", 3) is None
    assert hub.task_after("b", 2) == task("b", "y", 2)
    # Out of the window, or on another board, or not yet published: unknown.
    hub.publish([task_event("b", s, "z") for s in (4, 5, 6)])
    assert hub.task_after("b", 2) is None
    assert hub.task_after("c", 2) is None
    assert hub.task_after("b", 7) is None
    # A gap starts the window over: what it knew is forgotten with it.
    hub.publish([task_event("b", 9, "y")], {("b", 9): task("b", "y", 3)})
    assert hub.task_after("b", 9) == task("b", "y", 3)
    assert hub.task_after("b", 6) is None
    # Only an assignment event keeps its task: the streams ask of no other.
    hub.publish([event("b", 10)], {("b", 10): task("b", "t", 1)})
    assert hub.task_after("b", 10) is None
