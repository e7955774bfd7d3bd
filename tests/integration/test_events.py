"""The event log over the wire: listing after a sequence, filters, history order, pages."""

from __future__ import annotations

import pytest

import quadro
from quadro import errors, reasons


@pytest.fixture
def busy_board(client: quadro.Client, board: str) -> str:
    """Two task types, a few moves, a heartbeat."""
    client.register_agent(board, "w", concurrency=10)
    a = client.post_task(board, "intake_check", "a").task.name
    b = client.post_task(board, "payment_run", "b").task.name
    client.transition_task(a, "IN_PROGRESS", assignee="w")
    client.heartbeat(board, "w", task=a)
    client.post_result(a, "ok", agent="w")
    client.transition_task(b, "ON_HOLD")
    return board


def kinds(events: list[quadro.v1.event_pb2.Event]) -> list[str]:
    return [quadro.event_type_name(e.type) for e in events]


def test_sequences_are_gapless_from_one(client: quadro.Client, busy_board: str) -> None:
    events = list(client.iter_events(busy_board))
    assert [e.sequence for e in events] == list(range(1, 7))
    assert client.list_events(busy_board).head_sequence == 6
    times = [e.create_time.ToMicroseconds() for e in events]
    assert times == sorted(times)
    assert all(e.principal for e in events)


def test_after_sequence_and_pages(client: quadro.Client, busy_board: str) -> None:
    assert [e.sequence for e in client.iter_events(busy_board, after_sequence=4)] == [5, 6]
    page = client.list_events(busy_board, page_size=4)
    assert [e.sequence for e in page.events] == [1, 2, 3, 4]
    rest = client.list_events(busy_board, page_size=4, page_token=page.next_page_token)
    assert [e.sequence for e in rest.events] == [5, 6]
    assert rest.next_page_token == ""


def test_filters(client: quadro.Client, busy_board: str) -> None:
    assert kinds(list(client.iter_events(busy_board, event_types=["task_heartbeat"]))) == [
        "task_heartbeat"
    ]
    assert kinds(list(client.iter_events(busy_board, task_types=["payment_*"]))) == [
        "task_posted",
        "task_failed",
    ]
    assert kinds(list(client.iter_events(busy_board, statuses=["PENDING_REVIEW", "ON_HOLD"]))) == [
        "task_completed",
        "task_failed",
    ]
    assert kinds(list(client.iter_events(busy_board, agent="w"))) == [
        "task_assigned",
        "task_heartbeat",
        "task_completed",
    ]


def test_task_history_in_order(client: quadro.Client, busy_board: str) -> None:
    task = next(t for t in client.iter_tasks(busy_board) if t.task_type == "intake_check")
    history = client.task_history(task.name)
    assert kinds(history) == ["task_posted", "task_assigned", "task_heartbeat", "task_completed"]
    assert [e.sequence for e in history] == sorted(e.sequence for e in history)
    by_id = list(client.iter_events(busy_board, task=quadro.names.last_segment(task.name)))
    assert by_id == history


def test_unknown_event_type_is_rejected(client: quadro.Client, busy_board: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        client.list_events(busy_board, event_types=[42])
    assert caught.value.field_violations[0][0] == "filter.event_types[0]"
    with pytest.raises(errors.InvalidArgument):
        client.list_events(busy_board, event_types=[0])


def test_each_event_carries_the_etag_its_move_left(client: quadro.Client, board: str) -> None:
    """A follower of the log can quote an event's etag in a move, as it would the task's
    after that move; a heartbeat leaves it as it was, and the posted event says the
    task's priority, so that a backlog can be ordered from events alone."""
    client.register_agent(board, "w", concurrency=10)
    client.register_agent(board, "r", concurrency=10)
    task = client.post_task(board, "intake_check", "a", priority=2).task
    history = [task.etag]
    history.append(client.transition_task(task.name, "IN_PROGRESS", assignee="w").task.etag)
    client.heartbeat(board, "w", task=task.name)
    history.append(client.post_result(task.name, "ok", agent="w").task.etag)
    events = client.task_history(task.name)
    assert kinds(events) == ["task_posted", "task_assigned", "task_heartbeat", "task_completed"]
    assert [e.etag for e in events] == [history[0], history[1], history[1], history[2]]
    assert len(set(history)) == 3, "every move changes the etag"
    assert events[0].payload["priority"] == 2
    assert all("priority" not in e.payload for e in events[1:])
    # The etag of the last event is the one a move must quote.
    now = client.get_task(task.name).task
    assert now.etag == events[-1].etag
    with pytest.raises(errors.FailedPrecondition) as caught:
        client.transition_task(task.name, "IN_PROGRESS", assignee="r", etag=events[1].etag)
    assert caught.value.reason == reasons.ETAG_MISMATCH
    moved = client.transition_task(task.name, "IN_PROGRESS", assignee="r", etag=events[-1].etag)
    assert moved.task.assigned_to == "r"
