"""Crashes and restarts: a SIGKILL in the middle of a stream of writes loses nothing that
was acknowledged and leaves no gap in the log; SIGTERM drains cleanly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import quadro
from quadro import errors
from support.server import ServerProcess


@pytest.fixture
def own_server(store_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server this test may kill."""
    process = ServerProcess(store_url, log_dir=tmp_path).start()
    yield process
    process.stop()


def test_kill_9_mid_stream_loses_no_acknowledged_write(own_server: ServerProcess) -> None:
    board = "crash"
    with quadro.Client(own_server.address) as client:
        client.create_board(board, default_profile="fast")
        client.register_agent(board, "w", concurrency=10_000)

    acknowledged: list[str] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        # A client that does not retry: the point is to record exactly what the server
        # acknowledged before it died.
        no_retry = quadro.RetryPolicy(max_attempts=1)
        with quadro.Client(own_server.address, retry=no_retry, timeout=5) as client:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    task = client.post_task(board, "w", f"write {n}").task.name
                    acknowledged.append(task)
                    client.transition_task(task, "IN_PROGRESS", assignee="w")
                    acknowledged.append(task + "#assigned")
                except errors.Unavailable:
                    return
                except BaseException as exc:
                    failures.append(exc)
                    return

    writers = [threading.Thread(target=write) for _ in range(4)]
    for writer in writers:
        writer.start()
    time.sleep(1.5)
    own_server.kill()
    stop.set()
    for writer in writers:
        writer.join(30)
    assert not failures
    assert len(acknowledged) > 50, "the writers made progress before the kill"

    own_server.restart()
    with quadro.Client(own_server.address) as client:
        tasks = {t.name: t for t in client.iter_tasks(board, page_size=1000)}
        for entry in acknowledged:
            name, _, step = entry.partition("#")
            assert name in tasks, f"acknowledged post of {name} was lost"
            if step == "assigned":
                assert tasks[name].status == "IN_PROGRESS", f"acknowledged move of {name} lost"
        events = list(client.iter_events(board, page_size=1000))
        head = client.get_board(board).board.head_sequence
        assert [e.sequence for e in events] == list(range(1, head + 1))
        # Every task on the board has a consistent history: posted once, at most one move.
        posted = [e.task for e in events if quadro.event_type_name(e.type) == "task_posted"]
        assert sorted(posted) == sorted(tasks)
        # The board keeps working after the crash.
        after = client.post_task(board, "w", "after restart").event.sequence
        assert after == head + 1


def test_sigterm_drains_and_exits_cleanly(own_server: ServerProcess) -> None:
    with quadro.Client(own_server.address) as client:
        client.create_board("drain")
        posted = client.post_task("drain", "t", "before shutdown").task.name
    assert own_server.terminate() == 0
    own_server.start()
    with quadro.Client(own_server.address) as client:
        assert client.get_task(posted).task.label == "before shutdown"
