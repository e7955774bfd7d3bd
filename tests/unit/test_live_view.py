"""A Chief's live view as a pure function of a read and the events after it: what it
holds, what it ignores, and when it refuses to serve."""

from __future__ import annotations

import time

import pytest
from google.protobuf import struct_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from quadro.v1 import agent_pb2, board_pb2, event_pb2, task_pb2
from quadro_chiefs import Assign, BoardView, Snapshot, Transition, default_policy
from quadro_chiefs.live import LiveView

FAST = [("UNASSIGNED", "IN_PROGRESS"), ("IN_PROGRESS", "COMPLETE"), ("IN_PROGRESS", "UNASSIGNED")]
T = event_pb2


def board() -> board_pb2.Board:
    found = board_pb2.Board(name="boards/b")
    profile = found.profiles["fast"]
    profile.statuses.extend(["UNASSIGNED", "IN_PROGRESS", "COMPLETE"])
    profile.terminal_statuses.append("COMPLETE")
    profile.transitions.extend(board_pb2.Transition(from_status=f, to_status=t) for f, t in FAST)
    return found


def task(task_id: str, status: str = "UNASSIGNED", assigned_to: str = "") -> task_pb2.Task:
    return task_pb2.Task(
        name=f"boards/b/tasks/{task_id}",
        task_type="claim",
        status=status,
        assigned_to=assigned_to,
        profile="fast",
        priority=5,
        etag="1",
        create_time=Timestamp(seconds=100),
    )


def agent(agent_id: str, concurrency: int = 4, active: int = 0) -> agent_pb2.Agent:
    return agent_pb2.Agent(
        name=f"boards/b/agents/{agent_id}", concurrency=concurrency, active_tasks=active
    )


def event(
    sequence: int,
    task_id: str,
    kind: int,
    to_status: str,
    *,
    agent: str = "",
    etag: str = "2",
    priority: int | None = None,
    seconds: int = 200,
) -> event_pb2.Event:
    payload = struct_pb2.Struct()
    payload.update({"profile": "fast"})
    if priority is not None:
        payload.update({"priority": priority})
    return event_pb2.Event(
        sequence=sequence,
        board="boards/b",
        task=f"boards/b/tasks/{task_id}",
        task_type="claim",
        type=kind,  # type: ignore[arg-type]
        agent=agent,
        to_status=to_status,
        payload=payload,
        etag=etag,
        create_time=Timestamp(seconds=seconds),
    )


def started(
    *tasks: task_pb2.Task, agents: tuple[agent_pb2.Agent, ...] = (), head: int = 10
) -> LiveView:
    live = LiveView(max_age=60)
    live.reset(BoardView(board(), list(tasks), list(agents)), head)
    return live


def served(live: LiveView, position: int, in_progress: bool = True) -> BoardView:
    view = live.snapshot("b", position, in_progress)
    assert view is not None, "the view should serve"
    return view


def held(view: BoardView) -> dict[str, tuple[str, str]]:
    return {t.name.rsplit("/", 1)[-1]: (t.status, t.etag) for t in view.tasks}


def test_posted_moved_and_finished_tasks_follow_their_events() -> None:
    live = started(task("a"), agents=(agent("w"),))
    live.apply(event(11, "n", T.EVENT_TYPE_TASK_POSTED, "UNASSIGNED", etag="1", priority=1))
    live.apply(event(12, "a", T.EVENT_TYPE_TASK_ASSIGNED, "IN_PROGRESS", agent="w"))
    view = served(live, 12, True)
    assert held(view) == {"a": ("IN_PROGRESS", "2"), "n": ("UNASSIGNED", "1")}
    posted = next(t for t in view.tasks if t.name.endswith("/n"))
    assert (posted.priority, posted.profile, posted.create_time.seconds) == (1, "fast", 200)
    assert [a.active_tasks for a in view.agents] == [1], "counted from the tasks it holds"
    live.apply(event(13, "a", T.EVENT_TYPE_TASK_COMPLETED, "COMPLETE", agent="w", etag="3"))
    view = served(live, 13, True)
    assert held(view) == {"n": ("UNASSIGNED", "1")}
    assert [a.active_tasks for a in view.agents] == [0]


def test_the_default_policy_dispatches_from_the_view() -> None:
    live = started(agents=(agent("w", concurrency=2),))
    for i, priority in enumerate((5, 1, 3)):
        live.apply(event(11 + i, f"t{i}", T.EVENT_TYPE_TASK_POSTED, "UNASSIGNED", etag="1",
                         priority=priority))  # fmt: skip
    view = served(live, 13, False)
    actions = default_policy(Snapshot([view]))
    assert [(a.task.rsplit("/", 1)[-1], a.etag) for a in actions] == [("t1", "1"), ("t2", "1")]  # type: ignore[union-attr]


def test_an_echo_or_an_older_event_never_undoes_a_newer_change() -> None:
    live = started(task("a"), agents=(agent("w"),))
    # The answer of one's own move comes first, its echo later.
    live.apply(event(15, "a", T.EVENT_TYPE_TASK_ASSIGNED, "IN_PROGRESS", agent="w", etag="2"))
    live.apply(event(15, "a", T.EVENT_TYPE_TASK_ASSIGNED, "IN_PROGRESS", agent="w", etag="2"))
    live.apply(event(14, "a", T.EVENT_TYPE_TASK_REASSIGNED, "UNASSIGNED", agent="w", etag="9"))
    view = served(live, 15, True)
    assert held(view) == {"a": ("IN_PROGRESS", "2")}
    assert view.agents[0].active_tasks == 1


def test_events_of_tasks_it_does_not_hold_are_ignored_unless_they_post_one() -> None:
    live = started(task("a"))
    # Finished before the read: its last moves come after it.
    live.apply(event(11, "gone", T.EVENT_TYPE_TASK_ASSIGNED, "IN_PROGRESS", agent="w"))
    live.apply(event(12, "gone", T.EVENT_TYPE_TASK_COMPLETED, "COMPLETE", agent="w"))
    view = served(live, 12, True)
    assert held(view) == {"a": ("UNASSIGNED", "1")}


def test_a_move_to_unassigned_clears_the_assignee() -> None:
    live = started(task("a", "IN_PROGRESS", assigned_to="w"), agents=(agent("w", active=1),))
    live.apply(event(11, "a", T.EVENT_TYPE_TASK_REASSIGNED, "UNASSIGNED", agent="w", etag="3"))
    view = served(live, 11, True)
    assert (view.tasks[0].status, view.tasks[0].assigned_to) == ("UNASSIGNED", "")
    assert view.agents[0].active_tasks == 0


def test_work_an_agent_holds_outside_the_scope_still_counts() -> None:
    """Read as holding 3 tasks, of which the view holds 1: the other 2 stay counted."""
    live = started(task("a", "IN_PROGRESS", assigned_to="w"), agents=(agent("w", active=3),))
    view = served(live, 10, True)
    assert view.agents[0].active_tasks == 3
    live.apply(event(11, "a", T.EVENT_TYPE_TASK_COMPLETED, "COMPLETE", agent="w"))
    view = served(live, 11, True)
    assert view.agents[0].active_tasks == 2


def test_tasks_in_progress_are_left_out_when_not_asked_for() -> None:
    live = started(
        task("a", "IN_PROGRESS", assigned_to="w"), task("b"), agents=(agent("w", active=1),)
    )
    view = served(live, 10, False)
    assert (held(view), view.in_progress_read, view.in_flight) == (
        {"b": ("UNASSIGNED", "1")},
        False,
        1,
    )


@pytest.mark.parametrize(
    "why",
    ["stream behind the read", "invalidated", "cut at the limit", "no etags", "never read"],
)  # fmt: skip
def test_a_view_that_cannot_be_trusted_is_not_served(why: str) -> None:
    live = LiveView(max_age=60)
    view = BoardView(board(), [task("a")], [agent("w")], truncated=why == "cut at the limit")
    if why != "never read":
        live.reset(view, head=10)
    position = 9 if why == "stream behind the read" else 10
    if why == "invalidated":
        live.invalidate()
    if why == "no etags":
        live.apply(event(11, "a", T.EVENT_TYPE_TASK_ASSIGNED, "IN_PROGRESS", agent="w", etag=""))
        position = 11
    assert live.snapshot("b", position, in_progress=True) is None
    # A read that held everything, with the stream past it, serves.
    live = LiveView(max_age=60)
    live.reset(BoardView(board(), [task("a")], [agent("w")]), head=10)
    assert live.snapshot("b", 10, in_progress=True) is not None


def test_an_old_view_goes_on_serving_and_is_due_for_a_read() -> None:
    live = LiveView(max_age=0.05)
    live.reset(BoardView(board(), [task("a")], [agent("w")]), head=10)
    assert not live.due("b")
    time.sleep(0.1)
    assert live.due("b")
    assert held(served(live, 10)) == {"a": ("UNASSIGNED", "1")}
    live.reset(BoardView(board(), [task("a")], [agent("w")]), head=10)
    assert not live.due("b"), "a read starts it over"
    assert not LiveView(max_age=0.05).due("b"), "nothing to read again before a first read"


def test_a_move_out_counts_as_done_until_its_answer_and_survives_a_read() -> None:
    """One's own assignment is taken in as it goes out (the next cycle must not hand the
    task out again, nor count the agent's slot as free), over a read that came back
    before it, until its cycle has its answer."""
    live = started(task("a"), task("b"), agents=(agent("w", concurrency=2),))
    move = Assign("boards/b/tasks/a", "w")
    live.expect(move)
    view = served(live, 10)
    assert held(view)["a"] == ("IN_PROGRESS", "1")
    assert view.agents[0].active_tasks == 1
    # A read that does not show it yet: the move is still out.
    live.reset(BoardView(board(), [task("a"), task("b")], [agent("w", concurrency=2)]), 10)
    assert held(served(live, 10))["a"][0] == "IN_PROGRESS"
    # Its cycle has the answer: the next read is the truth again.
    live.apply(event(11, "a", T.EVENT_TYPE_TASK_ASSIGNED, "IN_PROGRESS", agent="w", etag="2"))
    live.settle([move])
    live.reset(BoardView(board(), [task("a"), task("b")], [agent("w", concurrency=2)]), 10)
    assert held(served(live, 10))["a"] == ("UNASSIGNED", "1")


def test_a_move_out_to_a_terminal_status_leaves_the_view() -> None:
    live = started(task("a", "IN_PROGRESS", assigned_to="w"), agents=(agent("w", active=1),))
    live.expect(Transition("boards/b/tasks/a", "COMPLETE", "IN_PROGRESS"))
    view = served(live, 10)
    assert held(view) == {}
    assert view.agents[0].active_tasks == 0


@pytest.mark.parametrize("max_age", [0, -1, float("nan")])
def test_a_view_needs_a_positive_max_age(max_age: float) -> None:
    with pytest.raises(ValueError, match="max_age"):
        LiveView(max_age)
