"""The guarantees of subscriptions under load and failure:

- 4 writers making 5,000 writes while 50 subscribers (10 deliberately slow, pushed out
  of the server's memory window so that they are served from the store) follow with
  different filters: each receives exactly the committed events that match its filter,
  in order — no more, no fewer;
- a server killed with SIGKILL mid-stream and restarted: the client's subscription
  resumes on its own and the caller sees every event exactly once;
- a subscriber that stops reading entirely: writers keep at least half their speed and
  the server's memory stays bounded.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psutil
import pytest

import quadro
from quadro.v1 import event_pb2
from support.server import ServerProcess
from support.streams import RawStream

BOARD = "load"
TASK_TYPES = ["claim_intake", "claim_assess", "pay_batch", "legal_review"]

# Filters the subscribers cycle through (keyword arguments of Client.subscribe and
# Client.iter_events, which must agree).
FILTERS: list[dict[str, Any]] = [
    {},
    {"include_heartbeats": True},
    {"task_types": ["claim_*"]},
    {"task_types": ["pay_?atch", "legal_review"]},
    {"event_types": ["task_assigned"]},
    {"statuses": ["COMPLETE"]},
    {"agent": "w1"},
    {"task_types": ["claim_*"], "event_types": ["task_completed", "task_posted"]},
    {"event_types": ["task_heartbeat"]},
    {"agent": "w3", "statuses": ["IN_PROGRESS"]},
]


@pytest.fixture
def small_window_server(store_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server that keeps only 300 recent events in memory per board, so that slow
    subscribers fall behind it and are served from the store."""
    process = ServerProcess(
        store_url, "--stream-window", "300", "--durability", "fast", log_dir=tmp_path
    )
    yield process.start()
    process.stop()


@dataclass
class Follower:
    filters: dict[str, Any]
    slow: bool
    received: list[int] = field(default_factory=list)


async def follow(address: str, follower: Follower, done: asyncio.Event, head: list[int]) -> None:
    async with (
        quadro.AsyncClient(address) as client,
        client.subscribe(
            BOARD, after_sequence=0, progress_interval=1, **follower.filters
        ) as subscription,
    ):

        async def stop_at_head() -> None:
            # Once the writers are done, close when this subscriber has seen up to the head.
            await done.wait()
            while subscription.positions.get(f"boards/{BOARD}", 0) < head[0]:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await subscription.close()

        stopper = asyncio.create_task(stop_at_head())
        async for event in subscription:
            follower.received.append(event.sequence)
            if follower.slow:
                await asyncio.sleep(0.004)
        await stopper


async def write(address: str, worker: str, writes: int) -> int:
    """Post, assign, heartbeat, complete, again and again: exactly `writes` writes."""
    async with quadro.AsyncClient(address) as client:
        task = ""
        for n in range(writes):
            step = n % 4
            if step == 0:
                posted = await client.post_task(BOARD, TASK_TYPES[n // 4 % 4], f"{worker} {n}")
                task = posted.task.name
            elif step == 1:
                await client.transition_task(task, "IN_PROGRESS", assignee=worker)
            elif step == 2:
                await client.heartbeat(BOARD, worker, task=task)
            else:
                await client.post_result(task, "done", agent=worker)
    return writes


async def test_50_subscribers_4_writers_exactly_the_matching_events(
    small_window_server: ServerProcess,
) -> None:
    address = small_window_server.address
    async with quadro.AsyncClient(address) as setup:
        await setup.create_board(BOARD, default_profile="fast")
        for i in range(4):
            await setup.register_agent(BOARD, f"w{i}", concurrency=10)

    followers = [Follower(FILTERS[i % len(FILTERS)], slow=i % 5 == 0) for i in range(50)]
    assert sum(f.slow for f in followers) == 10
    done = asyncio.Event()
    head = [0]
    # Half follow from the start; the other half join while the writers are busy, so
    # their replay-to-live switch races with the writes.
    early = [asyncio.create_task(follow(address, f, done, head)) for f in followers[:25]]
    writers = [asyncio.create_task(write(address, f"w{i}", 1250)) for i in range(4)]
    await asyncio.sleep(1.0)
    late = [asyncio.create_task(follow(address, f, done, head)) for f in followers[25:]]
    written = sum(await asyncio.gather(*writers))
    assert written == 5000

    async with quadro.AsyncClient(address) as reader:
        head[0] = (await reader.get_board(BOARD)).board.head_sequence
        assert head[0] == 5000
        done.set()
        await asyncio.wait_for(asyncio.gather(*early, *late), 120)
        for follower in followers:
            filters = dict(follower.filters)
            include_heartbeats = filters.pop("include_heartbeats", False)
            expected = [
                e.sequence async for e in reader.iter_events(BOARD, page_size=1000, **filters)
            ]
            if not include_heartbeats and "event_types" not in filters:
                kinds = {
                    e.sequence: e.type async for e in reader.iter_events(BOARD, page_size=1000)
                }
                heartbeat = event_pb2.EVENT_TYPE_TASK_HEARTBEAT
                expected = [s for s in expected if kinds[s] != heartbeat]
            assert expected, f"filter {follower.filters} matches something"
            assert follower.received == expected, (
                f"{'slow' if follower.slow else 'fast'} subscriber with {follower.filters}: "
                f"got {len(follower.received)} events, expected {len(expected)}"
            )


def test_kill_9_mid_stream_the_subscription_resumes_exactly_once(
    store_url: str, tmp_path: Path
) -> None:
    server = ServerProcess(store_url, log_dir=tmp_path).start()
    try:
        writer = quadro.Client(server.address, retry=quadro.RetryPolicy(max_attempts=50))
        writer.create_board("resume")
        subscriber = quadro.Client(server.address)
        subscription = subscriber.subscribe("resume", after_sequence=0)
        received: list[int] = []
        total = 300

        def read() -> None:
            for event in subscription:
                received.append(event.sequence)
                if event.sequence >= total:
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        for i in range(150):
            writer.post_task("resume", "t", f"before {i}")
        deadline = time.monotonic() + 20
        while len(received) < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()
        server.restart()
        for i in range(150):
            writer.post_task("resume", "t", f"after {i}")
        reader.join(60)
        assert not reader.is_alive(), f"received {len(received)} of {total}"
        assert received == list(range(1, total + 1))
        assert subscription.reconnects >= 1
        subscription.close()
        writer.close()
        subscriber.close()
    finally:
        server.stop()


def write_many(address: str, count: int, note: str) -> float:
    """Seconds that 4 concurrent writers take to make `count` writes in all."""
    per_writer = count // 4

    def run(i: int) -> None:
        with quadro.Client(address) as client:
            for _ in range(per_writer):
                client.post_task("stall", "t", f"{i}", notes=[note])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - start


def test_a_stalled_subscriber_slows_nobody_and_holds_no_memory(
    store_url: str, tmp_path: Path
) -> None:
    """Stated bound: with a subscriber that stopped reading, writers keep at least half
    of their throughput, and the server's memory grows by less than a quarter of the
    event bytes written meanwhile (a server that buffered them would grow by all of it).
    The amount written is fixed, not the time, so that a slow machine cannot make the
    test meaningless."""
    server = ServerProcess(store_url, "--durability", "fast", log_dir=tmp_path).start()
    try:
        with quadro.Client(server.address) as client:
            client.create_board("stall")
        note = "\U0001f642" * 8000  # 32 kB of UTF-8 per event
        writes = 800  # 25.6 MB of events: far beyond any buffer a stream may hold
        baseline = write_many(server.address, writes, note)
        process = psutil.Process(server.process.pid)  # type: ignore[union-attr]
        with grpc.insecure_channel(server.address) as channel:
            stalled = RawStream(
                channel,
                event_pb2.SubscribeEventsRequest(
                    boards=["boards/stall"], after_sequences={"boards/stall": 0}
                ),
                timeout=120,
            )
            stalled.next()  # connected; from here on it never reads again
            rss_before = process.memory_info().rss
            during = write_many(server.address, writes, note)
            rss_after = process.memory_info().rss
            stalled.cancel()
        written_bytes = writes * len(note.encode())
        assert during <= baseline * 2, f"writers slowed from {baseline:.2f} s to {during:.2f} s"
        assert rss_after - rss_before < written_bytes / 4, (
            f"RSS grew by {(rss_after - rss_before) / 1e6:.1f} MB while "
            f"{written_bytes / 1e6:.1f} MB of events were written"
        )
        # The server is still healthy and the stalled stream's events are all readable.
        with quadro.Client(server.address) as client:
            assert client.get_board("stall").board.head_sequence == 2 * writes
    finally:
        server.stop()
