"""Hand-offs and lineage across boards, through the real server: a finished task seeds
its successor on another board exactly once (retries, races and a crash included), and
the lineage query walks ancestors and descendants across boards."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

import quadro
from quadro import errors, reasons
from support.server import ServerProcess


@pytest.fixture
def boards(client: quadro.Client) -> tuple[str, str, str]:
    """Three departments: intake, assessment, payment; every task type `fast`."""
    suffix = uuid.uuid4().hex[:8]
    made = tuple(f"{name}-{suffix}" for name in ("intake", "assess", "pay"))
    for board in made:
        client.create_board(board, default_profile="fast")
    return made  # type: ignore[return-value]


def finished(client: quadro.Client, board: str, label: str, parent: str = "") -> str:
    client.register_agent(board, "w", concurrency=1000)
    name = client.post_task(board, "t", label, parent_task=parent).task.name
    client.transition_task(name, "IN_PROGRESS", assignee="w")
    client.post_result(name, "done", agent="w")
    return name


def test_hand_off_across_boards(client: quadro.Client, boards: tuple[str, str, str]) -> None:
    intake, assess, _ = boards
    parent = finished(client, intake, "claim 1042")
    head_before = client.get_board(intake).board.head_sequence
    etag_before = client.get_task(parent).task.etag
    response = client.hand_off_task(
        parent, assess, "assess_claim", "assess 1042", priority=2, labels={"claim": "1042"}
    )
    child = response.successor
    assert child.name.startswith(f"boards/{assess}/tasks/")
    assert (child.task_type, child.label, child.priority) == ("assess_claim", "assess 1042", 2)
    assert child.labels == {"claim": "1042"}
    assert child.status == "UNASSIGNED"
    assert child.parent_task == parent
    assert child.origin_task == parent  # a root's origin is itself
    assert response.task.successor_task == child.name
    assert response.task.etag != etag_before
    assert client.get_task(parent).task.successor_task == child.name
    # The successor's post is an event on its board; the parent's board logs nothing.
    assert response.event.board == f"boards/{assess}"
    assert quadro.event_type_name(response.event.type) == "task_posted"
    assert response.event.task == child.name
    assert client.get_board(intake).board.head_sequence == head_before
    assert not response.HasField("transition_event")


def test_a_live_task_is_not_handed_off(client: quadro.Client, boards: tuple[str, str, str]) -> None:
    intake, assess, _ = boards
    live = client.post_task(intake, "t", "not done").task.name
    with pytest.raises(errors.FailedPrecondition) as caught:
        client.hand_off_task(live, assess, "t", "too early")
    assert caught.value.reason == reasons.NOT_TERMINAL
    assert client.get_board(assess).board.head_sequence == 0
    assert client.get_task(live).task.successor_task == ""


def test_hand_off_that_finishes_the_task(
    client: quadro.Client, boards: tuple[str, str, str]
) -> None:
    """With to_status, the move and the successor are one step: both events or none."""
    intake, assess, _ = boards
    client.register_agent(intake, "w", concurrency=10)
    task = client.post_task(intake, "t", "claim").task.name
    client.transition_task(task, "IN_PROGRESS", assignee="w")
    with pytest.raises(errors.FailedPrecondition) as caught:
        client.hand_off_task(task, assess, "t", "x", to_status="COMPLETE", expected_status="STALE")
    assert caught.value.reason == reasons.STATUS_MISMATCH
    with pytest.raises(errors.InvalidArgument):
        client.hand_off_task(task, assess, "t", "x", to_status="STALE")
    client.post_task(assess, "t", "taken", task_id="taken")
    with pytest.raises(errors.AlreadyExists):
        client.hand_off_task(task, assess, "t", "x", to_status="COMPLETE", successor_id="taken")
    assert client.get_task(task).task.status == "IN_PROGRESS"  # nothing half done
    response = client.hand_off_task(
        task, assess, "t", "next", to_status="COMPLETE", expected_status="IN_PROGRESS"
    )
    assert response.task.status == "COMPLETE"
    assert response.transition_event.to_status == "COMPLETE"
    assert response.transition_event.board == f"boards/{intake}"
    assert client.get_agent(intake, "w").agent.active_tasks == 0
    history = [quadro.event_type_name(e.type) for e in client.task_history(task)]
    assert history == ["task_posted", "task_assigned", "task_completed"]


def test_exactly_once_under_retries_and_races(
    client: quadro.Client, boards: tuple[str, str, str], server: ServerProcess
) -> None:
    intake, assess, _ = boards
    parent = finished(client, intake, "claim")
    first = client.hand_off_task(parent, assess, "t", "next", request_id="h-1")
    # A retry of the same call: the first answer, nothing new.
    again = client.hand_off_task(parent, assess, "t", "next", request_id="h-1")
    assert again.successor == first.successor
    assert client.get_board(assess).board.head_sequence == 1
    # Any other hand-off of that task is refused and names the successor.
    with pytest.raises(errors.FailedPrecondition) as caught:
        client.hand_off_task(parent, assess, "t", "another")
    assert caught.value.reason == reasons.ALREADY_HANDED_OFF
    assert caught.value.metadata["successor_task"] == first.successor.name
    # Sixteen racers on a fresh parent: one wins, the others are told who did.
    racer_parent = finished(client, intake, "raced")
    outcomes: list[str] = []

    def race(i: int) -> None:
        with quadro.Client(server.address) as own:
            try:
                own.hand_off_task(racer_parent, assess, "t", f"racer {i}")
                outcomes.append("won")
            except errors.FailedPrecondition as exc:
                outcomes.append(exc.reason)

    racers = [threading.Thread(target=race, args=(i,)) for i in range(16)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert Counter(outcomes) == {"won": 1, reasons.ALREADY_HANDED_OFF: 15}
    children = client.get_lineage(racer_parent).descendants
    assert len(children) == 1


def test_lineage_across_boards(client: quadro.Client, boards: tuple[str, str, str]) -> None:
    intake, assess, pay = boards
    root = finished(client, intake, "root")
    middle = client.hand_off_task(root, assess, "assess", "middle").successor.name
    client.register_agent(assess, "w", concurrency=10)
    client.transition_task(middle, "IN_PROGRESS", assignee="w")
    client.post_result(middle, "ok", agent="w")
    leaf = client.hand_off_task(middle, pay, "pay", "leaf").successor.name
    side = client.post_task(assess, "note", "side", parent_task=middle).task.name
    grandchild = client.post_task(pay, "audit", "deep", parent_task=leaf).task.name

    lineage = client.get_lineage(middle)
    assert lineage.task.name == middle
    assert (lineage.task.depth, lineage.task.board) == (1, f"boards/{assess}")
    assert [h.name for h in lineage.ancestors] == [root]
    assert [(h.name, h.depth) for h in lineage.descendants] == [
        (leaf, 2), (side, 2), (grandchild, 3),
    ]  # fmt: skip
    by_name = {h.name: h for h in (lineage.task, *lineage.ancestors, *lineage.descendants)}
    assert by_name[root].status == "COMPLETE"
    assert by_name[root].parent_task == ""
    assert by_name[leaf].board == f"boards/{pay}"
    assert by_name[leaf].task_type == "pay"
    assert by_name[grandchild].parent_task == leaf
    assert by_name[side].create_time.ToMicroseconds() <= by_name[side].update_time.ToMicroseconds()
    assert not lineage.truncated
    # From the deepest task: the whole chain up, nothing below.
    deep = client.get_lineage(grandchild)
    assert [h.name for h in deep.ancestors] == [leaf, middle, root]
    assert [h.depth for h in deep.ancestors] == [2, 1, 0]
    assert deep.task.depth == 3
    assert list(deep.descendants) == []
    assert client.get_task(grandchild).task.origin_task == root
    with pytest.raises(errors.NotFound):
        client.get_lineage(f"boards/{intake}/tasks/nope")


def test_no_two_children_across_a_crash(store_url: str, tmp_path: Path) -> None:
    """Hand-offs in flight when the server is killed: retried with their request ids
    after the restart (and raced by a second caller), every parent has exactly one
    successor and its board logs exactly one post per successor. Half the parents are
    still IN_PROGRESS: their hand-off finishes them in the same step, so none ends up
    completed without a successor, or completed twice."""
    server = ServerProcess(store_url, log_dir=tmp_path).start()
    try:
        retrying = quadro.RetryPolicy(max_attempts=60)
        client = quadro.Client(server.address, retry=retrying)
        client.create_board("from", default_profile="fast")
        client.create_board("to", default_profile="fast")
        parents = [finished(client, "from", f"p{i}") for i in range(20)]
        live = [client.post_task("from", "t", f"live {i}").task.name for i in range(20)]
        for name in live:
            client.transition_task(name, "IN_PROGRESS", assignee="w")
        finishing = {name: "COMPLETE" for name in live}
        parents += live
        done: dict[str, str] = {}
        refusals: list[str] = []

        def hand_off_all(who: str) -> None:
            with quadro.Client(server.address, retry=retrying) as own:
                for parent in parents:
                    try:
                        own.hand_off_task(
                            parent, "to", "t", "child", request_id=f"{parent}-{who}",
                            to_status=finishing.get(parent, ""),
                            expected_status="IN_PROGRESS" if parent in finishing else "",
                        )  # fmt: skip
                        done[parent] = who
                    except errors.FailedPrecondition as exc:
                        refusals.append(exc.reason)

        racers = [threading.Thread(target=hand_off_all, args=(w,)) for w in ("a", "b")]
        for racer in racers:
            racer.start()
        deadline = time.monotonic() + 30
        while len(done) < 5 and time.monotonic() < deadline:
            time.sleep(0.001)
        server.kill()  # mid-flight: some handed off, the rest not yet or being
        server.restart()
        for racer in racers:
            racer.join(120)
            assert not racer.is_alive()
        assert set(done) == set(parents)  # never zero children
        assert set(refusals) <= {reasons.ALREADY_HANDED_OFF, reasons.STATUS_MISMATCH}
        for parent in parents:
            children = client.get_lineage(parent).descendants
            assert len(children) == 1, parent
            assert client.get_task(parent).task.successor_task == children[0].name
        posts = list(client.iter_events("to", event_types=["task_posted"]))
        assert len(posts) == len(parents)
        for name in live:
            assert client.get_task(name).task.status == "COMPLETE"
            moves = [e.to_status for e in client.task_history(name)]
            assert moves.count("COMPLETE") == 1
        client.close()
    finally:
        server.stop()
