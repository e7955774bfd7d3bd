"""Event subscriptions through the real server: replay then live with nothing lost at the
switch, filters, progress while idle, several boards, limits, and clean errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import quadro
from quadro import errors
from quadro.v1 import event_pb2
from support.server import ServerProcess
from support.streams import RawStream, take


def test_replay_then_live_without_gap(client: quadro.Client, board: str) -> None:
    before = [client.post_task(board, "t", f"before {i}").event.sequence for i in range(5)]
    with client.subscribe(board, after_sequence=0) as subscription:
        stop = threading.Event()

        def write() -> None:
            while not stop.is_set():
                client.post_task(board, "t", "during")

        writer = threading.Thread(target=write)
        writer.start()
        try:
            events = take(subscription, 60)
        finally:
            stop.set()
            writer.join()
    assert [e.sequence for e in events] == list(range(1, 61))
    assert [e.sequence for e in events[:5]] == before
    assert subscription.positions[f"boards/{board}"] >= 60


def test_starts_at_the_head_by_default(client: quadro.Client, board: str) -> None:
    client.post_task(board, "t", "old")
    with client.subscribe(board) as subscription:
        # The subscription is open once its first message (positions) has arrived.
        threading.Timer(0.5, lambda: client.post_task(board, "t", "new")).start()
        (event,) = take(subscription, 1)
    assert event.sequence == 2


def test_filters_and_heartbeats(client: quadro.Client, board: str) -> None:
    client.register_agent(board, "w", concurrency=10)
    a = client.post_task(board, "intake_check", "a").task.name
    b = client.post_task(board, "payment_run", "b").task.name
    client.transition_task(a, "IN_PROGRESS", assignee="w")
    client.heartbeat(board, "w", task=a)
    client.post_result(a, "ok", agent="w")
    client.transition_task(b, "ON_HOLD")
    client.post_task(board, "marker", "end")

    def kinds(**filters: object) -> list[str]:
        with client.subscribe(board, after_sequence=0, **filters) as s:  # type: ignore[arg-type]
            end = client.get_board(board).board.head_sequence
            seen: list[str] = []
            for event in s:
                seen.append(f"{event.sequence}:{quadro.event_type_name(event.type)}")
                if s.positions[f"boards/{board}"] >= end and event.sequence == end:
                    break
            return seen

    every = kinds(include_heartbeats=True)
    assert every == [
        "1:task_posted", "2:task_posted", "3:task_assigned", "4:task_heartbeat",
        "5:task_completed", "6:task_failed", "7:task_posted",
    ]  # fmt: skip
    assert kinds() == [e for e in every if "heartbeat" not in e]
    assert kinds(task_types=["intake_*", "marker"]) == [
        "1:task_posted", "3:task_assigned", "5:task_completed", "7:task_posted",
    ]  # fmt: skip
    assert kinds(event_types=["task_heartbeat", "task_posted"]) == [
        "1:task_posted", "2:task_posted", "4:task_heartbeat", "7:task_posted",
    ]  # fmt: skip
    assert kinds(statuses=["ON_HOLD", "UNASSIGNED"]) == [
        "1:task_posted", "2:task_posted", "6:task_failed", "7:task_posted",
    ]  # fmt: skip


def test_progress_moves_positions_while_nothing_matches(server: ServerProcess, board: str) -> None:
    with grpc.insecure_channel(server.address) as channel:
        request = event_pb2.SubscribeEventsRequest(
            boards=[f"boards/{board}"],
            after_sequences={f"boards/{board}": 0},
            filter=event_pb2.EventFilter(task_types=["nothing-matches"]),
            progress_interval_seconds=1,
        )
        stream = RawStream(channel, request)
        first = stream.next()
        assert dict(first.positions) == {f"boards/{board}": 0}
        with quadro.Client(server.address) as client:
            for i in range(3):
                client.post_task(board, "t", f"{i}")
        started = time.monotonic()
        message = stream.next()
        while message.positions[f"boards/{board}"] < 3:
            message = stream.next()
        assert not message.events
        assert time.monotonic() - started < 5
        stream.cancel()


def test_several_boards(client: quadro.Client, board_id: str) -> None:
    boards = [board_id + "-a", board_id + "-b"]
    for b in boards:
        client.create_board(b)
    with client.subscribe(boards, after_sequence=0) as subscription:
        for i in range(4):
            client.post_task(boards[i % 2], "t", f"{i}")
        events = take(subscription, 4)
    per_board = {b: [e.sequence for e in events if e.board == f"boards/{b}"] for b in boards}
    assert per_board == {boards[0]: [1, 2], boards[1]: [1, 2]}


def test_bad_subscriptions_are_refused(client: quadro.Client, board: str) -> None:
    cases = [
        (dict(boards=[]), errors.InvalidArgument),
        (dict(boards=["nope-board"]), errors.NotFound),
        (dict(boards=board, after_sequences={"other": 0}), errors.InvalidArgument),
        (dict(boards=board, after_sequence=-1), errors.InvalidArgument),
        (dict(boards=board, task_types=["[bad"]), errors.InvalidArgument),
        (dict(boards=board, statuses=["NOT_A_STATUS"]), errors.InvalidArgument),
        (dict(boards=board, progress_interval=1000), errors.InvalidArgument),
    ]
    for kwargs, expected in cases:
        with pytest.raises(expected):
            list(client.subscribe(**kwargs))  # type: ignore[arg-type]


@pytest.fixture
def limited_server(store_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(
        store_url, "--max-streams-per-caller", "2", "--max-streams", "3", log_dir=tmp_path
    )
    yield process.start()
    process.stop()


def test_stream_limits(limited_server: ServerProcess) -> None:
    with grpc.insecure_channel(limited_server.address) as channel:
        quadro.Client(limited_server.address).create_board("lim")
        request = event_pb2.SubscribeEventsRequest(boards=["boards/lim"])
        open_streams = [RawStream(channel, request) for _ in range(2)]
        for stream in open_streams:
            stream.next()
        with pytest.raises(grpc.RpcError) as caught:
            RawStream(channel, request).next()
        error: grpc.Call = caught.value  # type: ignore[assignment]
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "limit" in (error.details() or "")
        # Closing one frees its place.
        open_streams[0].cancel()
        time.sleep(0.3)
        again = RawStream(channel, request)
        assert again.next().positions["boards/lim"] == 0
        for stream in (*open_streams, again):
            stream.cancel()


def test_shutdown_ends_streams_with_unavailable(store_url: str, tmp_path: Path) -> None:
    server = ServerProcess(store_url, log_dir=tmp_path).start()
    try:
        with grpc.insecure_channel(server.address) as channel:
            quadro.Client(server.address).create_board("bye")
            stream = RawStream(channel, event_pb2.SubscribeEventsRequest(boards=["boards/bye"]))
            stream.next()
            started = time.monotonic()
            assert server.process is not None
            server.process.send_signal(15)
            with pytest.raises(grpc.RpcError) as caught:
                stream.next()
            error: grpc.Call = caught.value  # type: ignore[assignment]
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            assert time.monotonic() - started < 4, "streams end at once, not after the grace"
        assert server.process is not None
        assert server.process.wait(30) == 0
    finally:
        server.stop()
