"""Built-in policies. A policy is a plain callable: it gets the Chief's snapshot and
returns the actions to apply, and keeps no state of its own (the board is the only
source of truth)."""

from __future__ import annotations

from collections.abc import Iterable

from quadro.v1 import agent_pb2, task_pb2
from quadro_chiefs.actions import Action, Assign, Transition
from quadro_chiefs.snapshot import (
    APPROVED,
    IN_PROGRESS,
    PENDING_REVIEW,
    REVISION_NEEDED,
    STALE,
    UNASSIGNED,
    BoardView,
    Snapshot,
    matches,
)


def dispatch_order(task: task_pb2.Task) -> tuple[int, int, int]:
    """Priority first (lower sooner; unset is 5), then age."""
    priority = task.priority if task.HasField("priority") else 5
    return priority, task.create_time.seconds, task.create_time.nanos


def does_work(agent: agent_pb2.Agent, task_type: str) -> bool:
    """An agent works on the task types its capabilities match; one that declares no
    capabilities works on anything, unless it is a reviewer only."""
    if agent.capabilities:
        return matches(task_type, agent.capabilities)
    return not agent.review_capabilities


def reviews(agent: agent_pb2.Agent, task: task_pb2.Task) -> bool:
    """An agent reviews the task types its review capabilities match, never its own work
    (the agent a task in PENDING_REVIEW is still assigned to did the work)."""
    return (
        matches(task.task_type, agent.review_capabilities)
        and agent.name.rsplit("/", 1)[-1] != task.assigned_to
    )


class _Capacity:
    """Spare slots per agent during one decision."""

    def __init__(self, agents: Iterable[agent_pb2.Agent]) -> None:
        self.agents = [a for a in agents if a.status != agent_pb2.AGENT_STATUS_OFFLINE]
        self.spare = {a.name: max(0, (a.concurrency or 1) - a.active_tasks) for a in self.agents}

    def take(self, eligible: Iterable[agent_pb2.Agent]) -> str | None:
        """The eligible agent with the most spare slots (its id), one slot taken."""
        best = max(eligible, key=lambda a: self.spare[a.name], default=None)
        if best is None or self.spare[best.name] <= 0:
            return None
        self.spare[best.name] -= 1
        return best.name.rsplit("/", 1)[-1]


def default_policy(snapshot: Snapshot) -> list[Action]:
    """The common case, on every board of the scope:

    - STALE tasks go back to UNASSIGNED (and are dispatched again at once when an agent
      is free);
    - APPROVED tasks are completed;
    - UNASSIGNED and REVISION_NEEDED tasks go, by priority then age, to agents with spare
      concurrency whose capabilities match;
    - PENDING_REVIEW tasks go to agents whose review capabilities match, never to the
      agent that did the work.
    """
    actions: list[Action] = []
    for view in snapshot.boards:
        actions.extend(_decide(view))
    return actions


def _decide(view: BoardView) -> list[Action]:
    actions: list[Action] = []
    capacity = _Capacity(view.agents)
    for task in view.in_status(APPROVED):
        if view.allows(task, "COMPLETE"):
            actions.append(Transition(task.name, "COMPLETE", APPROVED, task.etag))
    queue = sorted(view.in_status(UNASSIGNED, REVISION_NEEDED, STALE), key=dispatch_order)
    for task in queue:
        expected = task.status
        if task.status == STALE:
            if not view.allows(task, UNASSIGNED):
                continue
            actions.append(Transition(task.name, UNASSIGNED, STALE, task.etag))
            expected = UNASSIGNED
        if view.allows(task, IN_PROGRESS, from_status=expected):
            agent = capacity.take(a for a in capacity.agents if does_work(a, task.task_type))
            if agent is not None:
                etag = "" if task.status == STALE else task.etag
                actions.append(Assign(task.name, agent, expected, etag))
    for task in sorted(view.in_status(PENDING_REVIEW), key=dispatch_order):
        agent = capacity.take(a for a in capacity.agents if reviews(a, task))
        if agent is not None:
            actions.append(Assign(task.name, agent, PENDING_REVIEW, task.etag))
    return actions
