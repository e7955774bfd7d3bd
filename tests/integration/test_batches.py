"""Batch calls through the real server: each item answered on its own (valid, invalid,
duplicate request id, lost race), exactly the valid ones persisted; concurrent batches
keeping every invariant; and a crash that loses no acknowledged item and half-applies
no batch."""

from __future__ import annotations

import asyncio
import collections
import threading
from pathlib import Path

import pytest

import quadro
from quadro import errors, limits, reasons
from support.server import ServerProcess


def test_posts_are_answered_one_by_one(client: quadro.Client, board: str) -> None:
    results = client.post_tasks(
        board,
        [
            quadro.NewTask("t", "first", request_id="r-1"),
            quadro.NewTask("t", ""),  # no label: invalid
            quadro.NewTask("t", "first", request_id="r-1"),  # a retry: the first answer
            quadro.NewTask("t", "other", request_id="r-1"),  # same id, other content
            quadro.NewTask("t", "mine", task_id="fixed"),
            quadro.NewTask("t", "again", task_id="fixed"),  # id taken by the item before
            quadro.NewTask("t", "child", parent_task=f"boards/{board}/tasks/nope"),
            quadro.NewTask("t", "last", priority=1),
        ],
    )
    kinds = [type(r).__name__ for r in results]
    assert kinds == [
        "PostTaskResponse", "InvalidArgument", "PostTaskResponse", "RequestIdConflict",
        "PostTaskResponse", "AlreadyExists", "NotFound", "PostTaskResponse",
    ]  # fmt: skip
    first, invalid, retry = results[0], results[1], results[2]
    assert isinstance(first, quadro.v1.task_pb2.PostTaskResponse)
    assert retry == first
    assert isinstance(invalid, errors.InvalidArgument)
    assert invalid.field_violations == [("task.label", "label is required")]
    posted = [r for r in results if not isinstance(r, errors.QuadroError)]
    # Exactly the valid ones are on the board, with one event each.
    tasks = {t.name for t in client.iter_tasks(board)}
    assert tasks == {r.task.name for r in posted}
    assert len(tasks) == 3
    assert client.get_board(board).board.head_sequence == 3
    assert [e.sequence for e in client.iter_events(board)] == [1, 2, 3]


def test_moves_are_answered_one_by_one(client: quadro.Client, board: str) -> None:
    client.register_agent(board, "w", concurrency=10)
    a, b, c = (client.post_task(board, "t", n).task.name for n in "abc")
    before = client.get_board(board).board.head_sequence
    results = client.transition_tasks(
        [
            quadro.Move(a, "IN_PROGRESS", assignee="w"),
            quadro.Move(a, "HUMAN_REVIEW", expected_status="IN_PROGRESS"),  # sees the first
            quadro.Move(b, "COMPLETE"),  # not allowed from UNASSIGNED
            quadro.Move(c, "IN_PROGRESS", assignee="w", expected_status="STALE"),  # lost race
            quadro.Move(f"boards/{board}/tasks/none", "IN_PROGRESS", assignee="w"),
            quadro.Move(c, "IN_PROGRESS"),  # no assignee: invalid
            quadro.Move(b, "ON_HOLD", request_id="hold-b"),
            quadro.Move(b, "ON_HOLD", request_id="hold-b"),  # a retry in the same batch
        ]
    )
    kinds = [type(r).__name__ for r in results]
    assert kinds == [
        "TransitionTaskResponse", "TransitionTaskResponse", "TransitionRejected",
        "CompareAndSetFailed", "NotFound", "InvalidArgument", "TransitionTaskResponse",
        "TransitionTaskResponse",
    ]  # fmt: skip
    rejected, lost = results[2], results[3]
    assert isinstance(rejected, errors.TransitionRejected)
    assert rejected.reason == reasons.INVALID_TRANSITION
    assert rejected.metadata["current_status"] == "UNASSIGNED"
    assert isinstance(lost, errors.CompareAndSetFailed)
    assert lost.reason == reasons.STATUS_MISMATCH
    assert results[6] == results[7]
    statuses = {t.name: t.status for t in client.iter_tasks(board)}
    assert statuses == {a: "HUMAN_REVIEW", b: "ON_HOLD", c: "UNASSIGNED"}
    assert client.get_board(board).board.head_sequence == before + 3


def test_results_are_answered_one_by_one(client: quadro.Client, board: str) -> None:
    client.register_agent(board, "w", concurrency=10)
    client.register_agent(board, "v", concurrency=10)
    mine, theirs, stale = (client.post_task(board, "t", n).task.name for n in "abc")
    for name, agent in ((mine, "w"), (theirs, "v"), (stale, "w")):
        client.transition_task(name, "IN_PROGRESS", assignee=agent)
    results = client.post_results(
        [
            quadro.Result(mine, "done", agent="w", attempt=1),
            quadro.Result(theirs, "stolen", agent="w"),  # not its task
            quadro.Result(stale, "late", agent="w", attempt=7),  # a superseded attempt
            quadro.Result(mine, "twice", agent="w"),  # it has moved on
        ]
    )
    kinds = [type(r).__name__ for r in results]
    assert kinds == [
        "PostResultResponse", "FailedPrecondition", "CompareAndSetFailed", "FailedPrecondition",
    ]  # fmt: skip
    assert [getattr(r, "reason", "") for r in results[1:]] == [
        reasons.NOT_ASSIGNEE, reasons.STALE_ATTEMPT, reasons.NO_RESULT_STATUS,
    ]  # fmt: skip
    statuses = {t.name: t.status for t in client.iter_tasks(board)}
    assert statuses == {mine: "PENDING_REVIEW", theirs: "IN_PROGRESS", stale: "IN_PROGRESS"}


def test_heartbeats_are_answered_one_by_one(client: quadro.Client, board: str) -> None:
    client.register_agent(board, "w", concurrency=10)
    client.register_agent(board, "v", concurrency=10)
    mine, theirs, stale = (client.post_task(board, "t", n).task.name for n in "abc")
    for name, agent in ((mine, "w"), (theirs, "v"), (stale, "w")):
        client.transition_task(name, "IN_PROGRESS", assignee=agent)
    before = client.get_board(board).board.head_sequence
    results = client.heartbeats(
        [
            quadro.Beat(board, "w", task=mine, attempt=1, request_id="hb-1"),
            quadro.Beat(board, "w", task=theirs),  # not its task
            quadro.Beat(board, "w", task=stale, attempt=7),  # a superseded attempt
            quadro.Beat(board, "w"),  # the agent alone
            quadro.Beat(board, "w", task=mine, attempt=1, request_id="hb-1"),  # a retry
            quadro.Beat(board, "nobody", task=mine),  # no such agent
            quadro.Beat(board, "w", task="not a task!"),  # invalid
        ]
    )
    kinds = [type(r).__name__ for r in results]
    assert kinds == [
        "HeartbeatResponse", "FailedPrecondition", "CompareAndSetFailed", "HeartbeatResponse",
        "HeartbeatResponse", "NotFound", "InvalidArgument",
    ]  # fmt: skip
    assert [getattr(r, "reason", "") for r in results[1:3]] == [
        reasons.NOT_ASSIGNEE, reasons.STALE_ATTEMPT,
    ]  # fmt: skip
    first, retry = results[0], results[4]
    assert retry == first
    assert isinstance(first, quadro.v1.agent_pb2.HeartbeatResponse)
    assert first.event.task == mine
    assert first.task.heartbeat_time.ToMicroseconds() > 0
    # One task_heartbeat event: the valid task heartbeat, once for its retry too.
    events = list(client.iter_events(board, after_sequence=before, event_types=["task_heartbeat"]))
    assert [(e.task, e.sequence) for e in events] == [(mine, before + 1)]
    assert client.get_board(board).board.head_sequence == before + 1


def test_an_event_only_batch_answers_each_item_with_its_event(
    client: quadro.Client, board: str
) -> None:
    client.register_agent(board, "w", concurrency=10)
    full = client.post_tasks(board, [quadro.NewTask("t", "a", request_id="p-a")])[0]
    assert isinstance(full, quadro.v1.task_pb2.PostTaskResponse)
    posted = client.post_tasks(
        board,
        [
            quadro.NewTask("t", "b"),
            quadro.NewTask("t", ""),  # invalid: still its own error
            quadro.NewTask("t", "a", request_id="p-a"),  # a replay, in this call's view
        ],
        event_only=True,
    )
    b, invalid, replay = posted
    assert isinstance(invalid, errors.InvalidArgument)
    assert isinstance(b, quadro.v1.task_pb2.PostTaskResponse)
    assert isinstance(replay, quadro.v1.task_pb2.PostTaskResponse)
    assert not b.HasField("task")
    assert not replay.HasField("task")
    assert replay.event == full.event
    assert (b.event.type, b.event.to_status) == (
        quadro.v1.event_pb2.EVENT_TYPE_TASK_POSTED, "UNASSIGNED",
    )  # fmt: skip
    assert client.get_task(b.event.task).task.label == "b"
    a = full.task.name
    moved = client.transition_tasks(
        [quadro.Move(a, "IN_PROGRESS", assignee="w"), quadro.Move(b.event.task, "COMPLETE")],
        event_only=True,
    )
    assert isinstance(moved[1], errors.FailedPrecondition)  # UNASSIGNED cannot complete
    assert isinstance(moved[0], quadro.v1.task_pb2.TransitionTaskResponse)
    assert not moved[0].HasField("task")
    assert (moved[0].event.task, moved[0].event.to_status) == (a, "IN_PROGRESS")
    (result,) = client.post_results([quadro.Result(a, "done", agent="w")], event_only=True)
    assert isinstance(result, quadro.v1.task_pb2.PostResultResponse)
    assert not result.HasField("task")
    assert result.event.to_status == client.get_task(a).task.status == "PENDING_REVIEW"
    # The answers name the events of the log, in its order.
    events = [e.sequence for e in client.iter_events(board)]
    assert events == [
        full.event.sequence,
        b.event.sequence,
        moved[0].event.sequence,
        result.event.sequence,
    ]


def test_batch_limits(client: quadro.Client, board: str) -> None:
    for items in ([], [quadro.NewTask("t", "x")] * (limits.BATCH_ITEMS_MAX + 1)):
        with pytest.raises(errors.InvalidArgument) as caught:
            client.post_tasks(board, items)
        assert caught.value.field_violations[0][0] == "requests"
    with pytest.raises(errors.InvalidArgument):
        client.transition_tasks([])
    with pytest.raises(errors.InvalidArgument):
        client.heartbeats([quadro.Beat(board, "w")] * (limits.BATCH_ITEMS_MAX + 1))
    assert client.get_board(board).board.head_sequence == 0
    full = client.post_tasks(board, [quadro.NewTask("t", f"{i}") for i in range(500)])
    assert not [r for r in full if isinstance(r, errors.QuadroError)]


async def test_concurrent_batches_keep_every_invariant(
    aclient: quadro.AsyncClient, board_id: str
) -> None:
    """64 callers race batches over the same tasks: the log stays gapless, each move
    writes one event, and each task is dispatched to exactly one caller."""
    await aclient.create_board(board_id)
    await asyncio.gather(
        *(aclient.register_agent(board_id, f"a{i}", concurrency=100) for i in range(64))
    )
    posted = await aclient.post_tasks(board_id, [quadro.NewTask("t", f"{i}") for i in range(100)])
    names = [r.task.name for r in posted if not isinstance(r, errors.QuadroError)]
    assert len(names) == 100

    async def racer(i: int) -> list[str]:
        moves = [
            quadro.Move(n, "IN_PROGRESS", assignee=f"a{i}", expected_status="UNASSIGNED")
            for n in names
        ]
        won = await aclient.transition_tasks(moves[i % 7 :] + moves[: i % 7])
        for r in won:
            if isinstance(r, errors.QuadroError):
                assert r.reason == reasons.STATUS_MISMATCH
        return [r.task.name for r in won if not isinstance(r, errors.QuadroError)]

    wins = await asyncio.gather(*(racer(i) for i in range(64)))
    every_win = [n for won in wins for n in won]
    assert sorted(every_win) == sorted(names)  # each exactly once
    events = [e async for e in aclient.iter_events(board_id, page_size=1000)]
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assigned = collections.Counter(e.task for e in events if e.to_status == "IN_PROGRESS")
    assert set(assigned.values()) == {1}
    assert len(events) == 200


def test_a_crash_loses_no_acknowledged_item_and_half_applies_no_batch(
    store_url: str, tmp_path: Path
) -> None:
    server = ServerProcess(store_url, log_dir=tmp_path).start()
    try:
        setup = quadro.Client(server.address)
        setup.create_board("crash")
        acknowledged: list[tuple[str, list[str]]] = []
        sent: list[str] = []
        stop = threading.Event()

        def writer(w: int) -> None:
            client = quadro.Client(server.address, retry=quadro.RetryPolicy(max_attempts=1))
            n = 0
            while not stop.is_set():
                batch = f"w{w}-b{n}"
                n += 1
                sent.append(batch)
                items = [quadro.NewTask("t", f"{batch}-{i}") for i in range(20)]
                try:
                    results = client.post_tasks("crash", items)
                except errors.QuadroError:
                    return  # the server is gone
                acknowledged.append(
                    (batch, [r.task.name for r in results if not isinstance(r, errors.QuadroError)])
                )
            client.close()

        writers = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
        for thread in writers:
            thread.start()
        while len(acknowledged) < 20:
            threading.Event().wait(0.01)
        server.kill()
        stop.set()
        for thread in writers:
            thread.join(30)
        server.restart()
        with quadro.Client(server.address) as after:
            labels = collections.Counter(
                t.label.rsplit("-", 1)[0] for t in after.iter_tasks("crash", page_size=1000)
            )
            names = {t.name for t in after.iter_tasks("crash", page_size=1000)}
            events = [e.sequence for e in after.iter_events("crash", page_size=1000)]
        for batch, posted in acknowledged:
            assert len(posted) == 20
            assert set(posted) <= names, f"acknowledged batch {batch} lost items"
        assert set(labels.values()) <= {20}, "a batch was half applied"
        assert set(labels) <= set(sent)
        assert events == list(range(1, len(events) + 1))
        setup.close()
    finally:
        server.stop()


def test_a_batch_call_is_one_commit_whatever_the_commit_size(tmp_path: Path) -> None:
    """With commits of at most 4 commands, concurrent single calls share commits of up
    to 4, and a batch call of 10 still commits whole (one commit time for all)."""
    server = ServerProcess(tmp_path / "q.db", "--max-batch", "4").start()
    try:
        with quadro.Client(server.address) as client:
            client.create_board("b")

            def post_some(i: int) -> None:
                with quadro.Client(server.address) as other:
                    for j in range(10):
                        other.post_task("b", "single", f"{i}-{j}")

            posters = [threading.Thread(target=post_some, args=(i,)) for i in range(8)]
            for poster in posters:
                poster.start()
            batch = client.post_tasks("b", [quadro.NewTask("batch", f"{i}") for i in range(10)])
            for poster in posters:
                poster.join()
            events = list(client.iter_events("b", page_size=1000))
    finally:
        server.stop()
    assert not [r for r in batch if isinstance(r, errors.QuadroError)]
    commits = collections.Counter(e.create_time.ToMicroseconds() for e in events)
    batch_times = {e.create_time.ToMicroseconds() for e in events if e.task_type == "batch"}
    assert len(batch_times) == 1
    (batch_time,) = batch_times
    assert commits[batch_time] >= 10
    assert max(n for t, n in commits.items() if t != batch_time) <= 4
    assert [e.sequence for e in events] == list(range(1, 91))
