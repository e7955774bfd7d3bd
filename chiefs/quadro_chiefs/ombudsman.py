"""The Ombudsman: notices work whose heartbeat went quiet and says so on the board.

Every sweep it lists the tasks in the statuses it watches and, for each one quiet for
longer than that status's timeout, moves it: to STALE when its lifecycle has a route
there (a Chief then reassigns it), else to HUMAN_REVIEW. The move is a compare-and-set
on the status, the etag and the task's quiet period as the server measures it
(`if_quiet_for`), so a worker heartbeating on time never loses its task, however late
the sweep or skewed the clocks, and several Ombudsmen can sweep at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import quadro
from quadro import errors, names
from quadro.v1 import board_pb2, task_pb2

log = logging.getLogger("quadro.ombudsman")

STALE = "STALE"
HUMAN_REVIEW = "HUMAN_REVIEW"
DEFAULT_TIMEOUTS: Mapping[str, float] = {"IN_PROGRESS": 60.0}


@dataclass
class SweepRecord:
    """One sweep over the boards."""

    start: float
    duration: float = 0.0
    checked: int = 0
    # Moved to STALE or HUMAN_REVIEW, by status moved to.
    moved: dict[str, int] = field(default_factory=dict)
    # Found alive at the last moment, or moved by someone else first.
    spared: int = 0
    errors: int = 0


def heard_of(task: task_pb2.Task) -> float:
    """When the task last showed a sign of life (heartbeat or change), in seconds."""
    last = task.update_time.ToMicroseconds()
    if task.HasField("heartbeat_time"):
        last = max(last, task.heartbeat_time.ToMicroseconds())
    return last / 1e6


def destination(board: board_pb2.Board, task: task_pb2.Task) -> str:
    """STALE if the task's lifecycle has a route there from its status, else the global
    exit HUMAN_REVIEW."""
    profile = board.profiles.get(task.profile)
    if profile is not None and any(
        (t.from_status, t.to_status) == (task.status, STALE) for t in profile.transitions
    ):
        return STALE
    return HUMAN_REVIEW


class Ombudsman:
    """Sweeps `boards` (every board the caller can see when empty) every `interval`
    seconds; `timeouts` maps a status to the seconds of quiet after which its tasks are
    stale."""

    def __init__(
        self,
        client: quadro.AsyncClient,
        boards: Sequence[str] = (),
        *,
        timeouts: Mapping[str, float] = DEFAULT_TIMEOUTS,
        interval: float = 5.0,
        sweeps_kept: int = 1000,
    ) -> None:
        if not timeouts or min(timeouts.values()) <= 0:
            raise ValueError("the Ombudsman needs a positive timeout for at least one status")
        self.client = client
        self.boards = [names.board_id(names.board(b)) for b in boards]
        self.timeouts = dict(timeouts)
        self.interval = interval
        self.sweeps: list[SweepRecord] = []
        self._sweeps_kept = sweeps_kept
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        self.ready.set()
        while not self._stopping.is_set():
            await self.sweep()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    async def sweep(self) -> SweepRecord:
        record = SweepRecord(start=time.time())
        clock = time.monotonic()
        try:
            boards = self.boards or [
                names.board_id(b.name) async for b in self.client.iter_boards(page_size=1000)
            ]
            for board in boards:
                await self._sweep_board(board, record)
        except errors.QuadroError as exc:
            log.warning("ombudsman: sweep failed: %s", exc)
            record.errors += 1
        record.duration = time.monotonic() - clock
        self.sweeps.append(record)
        del self.sweeps[: -self._sweeps_kept]
        return record

    async def _sweep_board(self, board_id: str, record: SweepRecord) -> None:
        try:
            board = (await self.client.get_board(board_id)).board
        except errors.NotFound:
            return
        known = {s for p in board.profiles.values() for s in p.statuses}
        watched = sorted(s for s in self.timeouts if s in known)
        if not watched:
            return
        now = time.time()
        async for task in self.client.iter_tasks(board_id, statuses=watched, page_size=1000):
            record.checked += 1
            timeout = self.timeouts[task.status]
            # Our clock only chooses the candidates; the server's decides (if_quiet_for).
            if now - heard_of(task) < timeout:
                continue
            target = destination(board, task)
            try:
                await self.client.transition_task(
                    task.name,
                    target,
                    expected_status=task.status,
                    etag=task.etag,
                    if_quiet_for=timeout,
                    note=f"no sign of life for {timeout:g}s in {task.status}",
                )
            except errors.CompareAndSetFailed:
                record.spared += 1
                continue
            except errors.QuadroError as exc:
                log.warning("ombudsman: %s: %s", task.name, exc)
                record.errors += 1
                continue
            record.moved[target] = record.moved.get(target, 0) + 1
            log.info("ombudsman: %s was quiet in %s; moved to %s", task.name, task.status, target)


def parse_timeouts(items: Sequence[str]) -> dict[str, float]:
    """`STATUS=SECONDS` items, e.g. `IN_PROGRESS=60`."""
    timeouts: dict[str, float] = {}
    for item in items:
        status, _, seconds = item.partition("=")
        try:
            timeouts[status] = float(seconds)
        except ValueError:
            raise ValueError(f"timeout {item!r}: expected STATUS=SECONDS") from None
        if not status or timeouts[status] <= 0:
            raise ValueError(f"timeout {item!r}: expected STATUS=SECONDS, seconds > 0")
    return timeouts
