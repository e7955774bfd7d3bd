"""The hub: each board's most recent events in memory, and who to wake when more arrive.

Commits publish their events here, in commit order. Subscribers that are close to the
head read from memory — every event is encoded for the wire once, however many
subscribers send it — and subscribers that fell behind the window read from the store
until they catch up (the same split as etcd's synced and unsynced watchers). Memory is
bounded by the window, whatever the subscribers do.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from quadro_server.core.event_filter import EventFilter
from quadro_server.core.records import EventRecord, TaskRecord
from quadro_server.core.taxonomy import EventType
from quadro_server.storage.base import NO_TASKS, TasksAfter

Wake = Callable[[], None]

# Distinct (board, position, filter, head) scans remembered for sharing.
_SCANS_KEPT = 4096
# Watchers woken per turn of the event loop.
_WAKE_CHUNK = 4
# A fan-out to this many watchers or fewer goes at once: a Chief, a few workers and a
# watcher or two are woken on every commit. Coalescing is for many more, whose sends
# would otherwise take the event loop from the writers.
_FAN_OUT_AT_ONCE = 16
# Fan-out coalescing: the window grows by this much per watcher, up to the maximum.
_FAN_OUT_SECONDS_PER_WATCHER = 60e-6
FAN_OUT_WINDOW_MAX = 0.06
# Pacing: the next fan-out starts no sooner than the previous one took (up to this long),
# so that fan-out never takes more than about half of the event loop from the writers.
_FAN_OUT_PACING_MAX = 1.0
Encoder = Callable[[EventRecord], bytes]
_ASSIGNED = EventType.TASK_ASSIGNED.value


class Recent:
    """An event in the window, with its wire form computed on first use, and the task as
    the event left it when this process committed it (None when it came from another
    replica)."""

    __slots__ = ("_encode", "_wire", "record", "task")

    def __init__(self, record: EventRecord, encode: Encoder, task: TaskRecord | None) -> None:
        self.record = record
        self._encode = encode
        self._wire: bytes | None = None
        self.task = task

    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = self._encode(self.record)
        return self._wire


class _Window:
    """A board's last `size` events, contiguous in sequence."""

    def __init__(self, size: int) -> None:
        self.events: deque[Recent] = deque(maxlen=size)
        # Per task id, the sequence of its last event in the window.
        self.latest: dict[str, int] = {}
        # The last sequence readers may see: published events become visible when their
        # watchers are woken, so that a reader that happens to be awake does not send
        # them one by one ahead of the fan-out window.
        self.visible = 0

    @property
    def first(self) -> int:
        return self.events[0].record.sequence

    @property
    def last(self) -> int:
        return self.events[-1].record.sequence

    def append(self, recent: Recent) -> None:
        record = recent.record
        if self.events and record.sequence <= self.last:
            return  # already here
        if self.events and record.sequence != self.last + 1:
            # Not contiguous (events published out of band): start over from here; the
            # missing part is read from the store by whoever needs it.
            self.events.clear()
            self.latest.clear()
        if len(self.events) == self.events.maxlen:
            gone = self.events[0].record
            if self.latest.get(gone.task_id) == gone.sequence:
                del self.latest[gone.task_id]
        self.events.append(recent)
        self.latest[record.task_id] = record.sequence

    def task_after(self, sequence: int) -> TaskRecord | None:
        """The task as the event at `sequence` left it, if that event is the task's last
        one here and this process committed it."""
        if not self.events or not self.first <= sequence <= self.last:
            return None
        recent = self.events[sequence - self.first]
        if self.latest.get(recent.record.task_id) != sequence:
            return None  # it has moved on since (or the event is not a task's)
        return recent.task


@dataclass(slots=True)
class Scan:
    """What a reader at some position gets from the window: the matching events, already
    encoded and joined, and as records; and the position the scan reached. Readers that
    share a scan can share the whole message built from it (`framed`)."""

    wire: bytes
    records: list[EventRecord]
    position: int
    framed: bytes | None = None

    @property
    def count(self) -> int:
        return len(self.records)


class EventHub:
    def __init__(self, encode: Encoder, window: int = 8192) -> None:
        self._encode = encode
        self._size = window
        self._windows: dict[str, _Window] = {}
        # Readers that wake together usually sit at the same position with the same
        # filter: each distinct scan is computed once per head and shared.
        self._scans: OrderedDict[tuple[object, ...], Scan] = OrderedDict()
        self._watchers: dict[str, set[Wake]] = {}
        self._dirty: set[str] = set()
        self._flush_scheduled = False
        # How long the last fan-out took, from its first wake to its last.
        self._last_fan_out = 0.0
        self.closing = False

    def publish(self, events: Sequence[EventRecord], tasks: TasksAfter = NO_TASKS) -> None:
        """Add committed events (in commit order), with the tasks as they left them when
        known, and schedule a wake of their boards' watchers: at once when they are few;
        after a short window when they are many, so that each of them gets more events
        per message (see `_fan_out_delay`)."""
        for event in events:
            window = self._windows.get(event.board_id)
            if window is None:
                window = self._windows[event.board_id] = _Window(self._size)
            # Only assignment streams ask for a task, and only of assignment events:
            # keeping the others' would hold more memory for nothing.
            task = tasks.get((event.board_id, event.sequence)) if event.type == _ASSIGNED else None
            window.append(Recent(event, self._encode, task))
            self._dirty.add(event.board_id)
        if self._dirty and not self._flush_scheduled:
            self._flush_scheduled = True
            loop = asyncio.get_running_loop()
            delay = self._fan_out_delay()
            if delay:
                loop.call_later(delay, self._flush)
            else:
                loop.call_soon(self._flush)

    def _fan_out_delay(self) -> float:
        # Sending a message costs the server tens of microseconds: with many watchers,
        # waking them on every commit would spend the event loop on one-event messages
        # and leave no time to take in new calls. Coalescing over a window that grows
        # with the watchers keeps the cost per event bounded; the window never exceeds
        # FAN_OUT_WINDOW_MAX.
        # On a slow or loaded machine a fan-out to many watchers can take longer than
        # the window: pacing then spaces the fan-outs out so that calls keep coming in,
        # trading latency for the writers' throughput.
        watchers = self.watcher_count
        if watchers <= _FAN_OUT_AT_ONCE:
            return 0.0
        window = min(FAN_OUT_WINDOW_MAX, watchers * _FAN_OUT_SECONDS_PER_WATCHER)
        return max(window, min(self._last_fan_out, _FAN_OUT_PACING_MAX))

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, set()
        woken: set[Wake] = set()
        for board in dirty:
            window = self._windows[board]
            window.visible = window.last
            woken.update(self._watchers.get(board, ()))
        self._wake_in_chunks(list(woken), 0, asyncio.get_running_loop().time())

    def _wake_in_chunks(self, woken: list[Wake], start: int, began: float) -> None:
        # A woken subscription runs in the next turn of the loop. Waking them a chunk
        # per turn keeps every turn short: the gRPC server takes in new calls between
        # turns, so writers are never starved by a big fan-out.
        for wake in woken[start : start + _WAKE_CHUNK]:
            wake()
        loop = asyncio.get_running_loop()
        if start + _WAKE_CHUNK < len(woken):
            loop.call_soon(self._wake_in_chunks, woken, start + _WAKE_CHUNK, began)
        else:
            self._last_fan_out = loop.time() - began

    def scan(
        self, board: str, after: int, event_filter: EventFilter, max_events: int, max_bytes: int
    ) -> Scan | None:
        """The events of `board` after `after` that match, from memory, within the limits;
        None when `after` is older than the window (read the store instead)."""
        window = self._windows.get(board)
        if window is None or not window.events or after < window.first - 1:
            return None
        visible = min(window.visible, window.last)
        key = (board, after, visible, event_filter, max_events, max_bytes)
        found = self._scans.get(key)
        if found is not None:
            return found
        chunks: list[bytes] = []
        records: list[EventRecord] = []
        size = 0
        position = after
        start = after - window.first + 1
        stop = min(start + max_events, len(window.events), visible - window.first + 1)
        for i in range(start, stop):
            item = window.events[i]
            if event_filter.matches(item.record):
                wire = item.wire()
                if chunks and size + len(wire) > max_bytes:
                    break
                chunks.append(wire)
                records.append(item.record)
                size += len(wire)
            position = item.record.sequence
        result = Scan(b"".join(chunks), records, position)
        self._scans[key] = result
        if len(self._scans) > _SCANS_KEPT:
            self._scans.popitem(last=False)
        return result

    def task_after(self, board: str, sequence: int) -> TaskRecord | None:
        """The task as it stands after the board's assignment event at `sequence`, when
        no later event of that task has been published and this process wrote the
        event; None otherwise (read the store). A task changes without an event only once it is
        terminal (archived, or linked to its successor), which takes an event first."""
        window = self._windows.get(board)
        return None if window is None else window.task_after(sequence)

    def watch(self, boards: Iterable[str], wake: Wake) -> None:
        for board in boards:
            self._watchers.setdefault(board, set()).add(wake)

    def unwatch(self, boards: Iterable[str], wake: Wake) -> None:
        for board in boards:
            watchers = self._watchers.get(board)
            if watchers is not None:
                watchers.discard(wake)
                if not watchers:
                    del self._watchers[board]

    @property
    def watcher_count(self) -> int:
        return sum(len(w) for w in self._watchers.values())

    def close(self) -> None:
        """The server is shutting down: wake everyone so that their streams end."""
        self.closing = True
        for wake in {w for watchers in self._watchers.values() for w in watchers}:
            wake()
