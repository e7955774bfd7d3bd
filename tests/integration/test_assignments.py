"""Assignment streams through the real server: an agent's assignments, each with its
task, replayed then live; only its own; the task as it stands when sent; resuming after a
restart; and clean errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

import quadro
from quadro import errors
from quadro.v1 import agent_pb2, agent_pb2_grpc
from support.server import ServerProcess
from support.streams import take


def assign(client: quadro.Client, board: str, agent: str, note: str) -> str:
    name = client.post_task(board, "t", note).task.name
    client.transition_task(name, "IN_PROGRESS", assignee=agent)
    return name


def test_replay_then_live_with_tasks(client: quadro.Client, board: str) -> None:
    client.register_agent(board, "w", concurrency=100)
    client.register_agent(board, "v", concurrency=100)
    before = [assign(client, board, "w", f"before {i}") for i in range(3)]
    assign(client, board, "v", "not w's")
    client.post_task(board, "t", "never assigned")
    with client.watch_assignments(board, "w", after_sequence=0) as stream:
        threading.Timer(0.5, lambda: assign(client, board, "w", "live")).start()
        got = take(stream, 4)
    names = [a.task.name for a in got]
    assert names[:3] == before
    assert [a.task.label for a in got] == ["before 0", "before 1", "before 2", "live"]
    for a in got:
        assert quadro.event_type_name(a.event.type) == "task_assigned"
        assert a.event.agent == a.task.assigned_to == "w"
        assert a.event.task == a.task.name
        assert a.task.status == "IN_PROGRESS"
        assert a.task.attempt == a.event.attempt == 1
        assert a.current
    assert [a.event.sequence for a in got] == sorted(a.event.sequence for a in got)
    assert stream.positions[f"boards/{board}"] == got[-1].event.sequence


def test_starts_at_the_head_by_default(client: quadro.Client, board: str) -> None:
    client.register_agent(board, "w", concurrency=10)
    assign(client, board, "w", "old")
    with client.watch_assignments(board, "w") as stream:
        threading.Timer(0.5, lambda: assign(client, board, "w", "new")).start()
        (got,) = take(stream, 1)
    assert got.task.label == "new"


def test_the_task_is_sent_as_it_stands(client: quadro.Client, board: str) -> None:
    """A replayed assignment carries the task as it is now: a finished one is no longer
    current, and of a task assigned twice only the later assignment is."""
    client.register_agent(board, "w", concurrency=10)
    done = assign(client, board, "w", "finished")
    client.post_result(done, "out", agent="w")
    again = assign(client, board, "w", "assigned twice")
    client.transition_task(again, "STALE")
    client.transition_task(again, "UNASSIGNED")
    client.transition_task(again, "IN_PROGRESS", assignee="w")
    with client.watch_assignments(board, "w", after_sequence=0) as stream:
        got = take(stream, 3)
    assert [(a.task.name, a.event.attempt) for a in got] == [(done, 1), (again, 1), (again, 2)]
    assert (got[0].task.status, got[0].task.output) == ("PENDING_REVIEW", "out")
    assert [a.current for a in got] == [False, False, True]
    assert got[1].task.attempt == got[2].task.attempt == 2


def test_one_message_carries_each_task_once(server: ServerProcess, board: str) -> None:
    client = quadro.Client(server.address)
    client.register_agent(board, "w", concurrency=10)
    name = assign(client, board, "w", "twice")
    client.transition_task(name, "STALE")
    client.transition_task(name, "UNASSIGNED")
    client.transition_task(name, "IN_PROGRESS", assignee="w")
    with grpc.insecure_channel(server.address) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        request = agent_pb2.WatchAssignmentsRequest(
            name=f"boards/{board}/agents/w", after_sequence=0
        )
        call: Any = stub.WatchAssignments(request, timeout=10)
        message = next(m for m in call if m.events)
        call.cancel()
    assert [e.attempt for e in message.events] == [1, 2]
    assert [t.name for t in message.tasks] == [name]
    assert message.positions[f"boards/{board}"] == message.events[-1].sequence
    client.close()


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"name": "boards/b/agents/"}, "name"),
        ({"name": "agents/w"}, "name"),
        ({"name": "boards/b/agents/w", "after_sequence": -1}, "after_sequence"),
        ({"name": "boards/b/agents/w", "progress_interval_seconds": 301}, "progress_interval"),
    ],
)
def test_bad_requests_are_refused(
    server: ServerProcess, request_fields: dict[str, Any], field: str
) -> None:
    with grpc.insecure_channel(server.address) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        call: Any = stub.WatchAssignments(agent_pb2.WatchAssignmentsRequest(**request_fields))
        with pytest.raises(grpc.RpcError) as caught:
            next(call)
    error = errors.from_rpc_error(caught.value)
    assert isinstance(error, errors.InvalidArgument)
    assert any(name.startswith(field) for name, _ in error.field_violations)


def test_unknown_board_is_not_found(client: quadro.Client) -> None:
    stream = client.watch_assignments("no-such-board", "w")
    with pytest.raises(errors.NotFound) as caught:
        next(iter(stream))
    assert caught.value.reason == "BOARD_NOT_FOUND"


def test_resumes_after_a_restart(store_url: str, tmp_path: Path) -> None:
    """The server is killed between assignments: the stream reopens from its position,
    and every assignment arrives exactly once."""
    server = ServerProcess(store_url, log_dir=tmp_path).start()
    try:
        client = quadro.Client(server.address, retry=quadro.RetryPolicy(max_attempts=50))
        client.create_board("resume")
        client.register_agent("resume", "w", concurrency=100)
        first = [assign(client, "resume", "w", f"first {i}") for i in range(5)]
        watcher = quadro.Client(server.address)
        stream = watcher.watch_assignments("resume", "w", after_sequence=0)
        items = iter(stream)  # one stream throughout: it must reconnect by itself
        assert [a.task.name for a in take(items, 5)] == first
        server.kill()
        server.restart()
        second = [assign(client, "resume", "w", f"second {i}") for i in range(5)]
        started = time.monotonic()
        assert [a.task.name for a in take(items, 5, timeout=60)] == second
        assert stream.reconnects >= 1
        assert time.monotonic() - started < 60
        stream.close()
        watcher.close()
        client.close()
    finally:
        server.stop()
