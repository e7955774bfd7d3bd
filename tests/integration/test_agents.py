"""Agents over the wire: cards, status following assignments, capacity, heartbeats and
activity."""

from __future__ import annotations

import pytest

import quadro
from quadro import errors
from quadro.v1 import agent_pb2


def status(client: quadro.Client, board: str, agent: str) -> int:
    return client.get_agent(board, agent).agent.status


def test_register_and_update_card(client: quadro.Client, board: str) -> None:
    first = client.register_agent(board, "alice", display_name="Alice", capabilities=["a_*"],
                                  review_capabilities=["b_*", "c"], version="1.0",
                                  concurrency=2).agent  # fmt: skip
    assert first.name == f"boards/{board}/agents/alice"
    assert (first.concurrency, list(first.capabilities)) == (2, ["a_*"])
    assert list(first.review_capabilities) == ["b_*", "c"]
    assert list(client.get_agent(board, "alice").agent.review_capabilities) == ["b_*", "c"]
    assert first.status == agent_pb2.AGENT_STATUS_IDLE
    updated = client.register_agent(board, "alice", version="1.1").agent
    assert updated.version == "1.1"
    assert list(updated.review_capabilities) == [], "a registration replaces the card"
    assert updated.concurrency == 1
    assert updated.register_time == first.register_time
    assert [a.name for a in client.iter_agents(board)] == [first.name]


def test_status_follows_assignments(client: quadro.Client, board: str) -> None:
    client.register_agent(board, "bob")
    task = client.post_task(board, "t", "work").task.name
    assert status(client, board, "bob") == agent_pb2.AGENT_STATUS_IDLE
    client.transition_task(task, "IN_PROGRESS", assignee="bob")
    agent = client.get_agent(board, "bob").agent
    assert (agent.status, agent.active_tasks) == (agent_pb2.AGENT_STATUS_BUSY, 1)
    client.post_result(task, "done", agent="bob")
    agent = client.get_agent(board, "bob").agent
    assert (agent.status, agent.active_tasks) == (agent_pb2.AGENT_STATUS_IDLE, 0)
    # The reviewer becomes busy when it takes the review.
    client.register_agent(board, "carol")
    client.transition_task(task, "IN_PROGRESS", assignee="carol")
    assert status(client, board, "carol") == agent_pb2.AGENT_STATUS_BUSY
    assert status(client, board, "bob") == agent_pb2.AGENT_STATUS_IDLE
    client.transition_task(task, "STALE")
    # Its work went quiet: OFFLINE, and given nothing, until it shows a sign of life.
    carol = client.get_agent(board, "carol").agent
    assert (carol.status, carol.active_tasks) == (agent_pb2.AGENT_STATUS_OFFLINE, 0)
    assert carol.HasField("stale_time")
    assert not client.get_agent(board, "bob").agent.HasField("stale_time")
    client.transition_task(task, "UNASSIGNED")
    assert client.get_task(task).task.assigned_to == ""
    assert status(client, board, "carol") == agent_pb2.AGENT_STATUS_OFFLINE
    client.heartbeat(board, "carol")
    assert status(client, board, "carol") == agent_pb2.AGENT_STATUS_IDLE


def test_capacity_is_enforced(client: quadro.Client, board: str) -> None:
    client.register_agent(board, "dave", concurrency=2)
    tasks = [client.post_task(board, "t", f"{i}").task.name for i in range(3)]
    client.transition_task(tasks[0], "IN_PROGRESS", assignee="dave")
    client.transition_task(tasks[1], "IN_PROGRESS", assignee="dave")
    with pytest.raises(errors.FailedPrecondition) as full:
        client.transition_task(tasks[2], "IN_PROGRESS", assignee="dave")
    assert full.value.reason == "AGENT_AT_CAPACITY"
    assert client.get_task(tasks[2]).task.status == "UNASSIGNED"


def test_assignee_must_be_registered(client: quadro.Client, board: str) -> None:
    task = client.post_task(board, "t", "x").task.name
    with pytest.raises(errors.NotFound) as caught:
        client.transition_task(task, "IN_PROGRESS", assignee="ghost")
    assert caught.value.reason == "AGENT_NOT_FOUND"
    with pytest.raises(errors.InvalidArgument) as missing:
        client.transition_task(task, "IN_PROGRESS")
    assert missing.value.field_violations[0][0] == "assignee"


def test_heartbeat_moves_time_without_changing_etag(client: quadro.Client, board: str) -> None:
    client.register_agent(board, "erin")
    task = client.post_task(board, "t", "x").task.name
    assigned = client.transition_task(task, "IN_PROGRESS", assignee="erin").task
    beat = client.heartbeat(board, "erin", task=task)
    assert beat.task.HasField("heartbeat_time")
    assert beat.task.etag == assigned.etag
    assert quadro.event_type_name(beat.event.type) == "task_heartbeat"
    assert (beat.event.from_status, beat.event.to_status) == ("IN_PROGRESS", "IN_PROGRESS")
    assert beat.agent.last_seen_time.ToMicroseconds() >= assigned.update_time.ToMicroseconds()
    alone = client.heartbeat(board, "erin")
    assert not alone.HasField("event")
    client.register_agent(board, "frank")
    with pytest.raises(errors.FailedPrecondition) as not_yours:
        client.heartbeat(board, "frank", task=task)
    assert not_yours.value.reason == "NOT_ASSIGNEE"


def test_activity_lists_an_agents_events_in_order(client: quadro.Client, board: str) -> None:
    client.register_agent(board, "gina", concurrency=5)
    client.register_agent(board, "hank")
    mine = [client.post_task(board, "t", f"{i}").task.name for i in range(3)]
    other = client.post_task(board, "t", "other").task.name
    client.transition_task(mine[0], "IN_PROGRESS", assignee="gina")
    client.transition_task(other, "IN_PROGRESS", assignee="hank")
    client.transition_task(mine[1], "IN_PROGRESS", assignee="gina")
    client.heartbeat(board, "gina", task=mine[0])
    client.post_result(mine[1], "ok", agent="gina")
    activity = client.agent_activity(board, "gina")
    assert [
        (quadro.names.last_segment(e.task), quadro.event_type_name(e.type)) for e in activity
    ] == [
        (quadro.names.last_segment(mine[0]), "task_assigned"),
        (quadro.names.last_segment(mine[1]), "task_assigned"),
        (quadro.names.last_segment(mine[0]), "task_heartbeat"),
        (quadro.names.last_segment(mine[1]), "task_completed"),
    ]
    sequences = [e.sequence for e in activity]
    assert sequences == sorted(sequences)
