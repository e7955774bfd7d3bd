"""The default policy, as a pure function of a snapshot: who gets what, in which order,
and what it never does."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from quadro.v1 import agent_pb2, board_pb2, task_pb2
from quadro_chiefs import Assign, BoardView, Snapshot, Transition, default_policy

REVIEW = [
    ("UNASSIGNED", "IN_PROGRESS"), ("IN_PROGRESS", "PENDING_REVIEW"),
    ("PENDING_REVIEW", "IN_PROGRESS"), ("IN_PROGRESS", "APPROVED"),
    ("IN_PROGRESS", "REVISION_NEEDED"), ("REVISION_NEEDED", "IN_PROGRESS"),
    ("APPROVED", "COMPLETE"), ("IN_PROGRESS", "STALE"), ("STALE", "UNASSIGNED"),
]  # fmt: skip
SHIP = [("UNASSIGNED", "PACKED"), ("PACKED", "SHIPPED")]


def board() -> board_pb2.Board:
    found = board_pb2.Board(name="boards/b")
    for name, pairs in (("review_required", REVIEW), ("ship", SHIP)):
        found.profiles[name].transitions.extend(
            board_pb2.Transition(from_status=f, to_status=t) for f, t in pairs
        )
    return found


def task(
    task_id: str,
    status: str = "UNASSIGNED",
    *,
    task_type: str = "claim",
    priority: int | None = None,
    age: int = 0,
    assigned_to: str = "",
    profile: str = "review_required",
) -> task_pb2.Task:
    made = task_pb2.Task(
        name=f"boards/b/tasks/{task_id}",
        task_type=task_type,
        status=status,
        assigned_to=assigned_to,
        profile=profile,
        etag=f"e-{task_id}",
        create_time=Timestamp(seconds=1000 - age),
    )
    if priority is not None:
        made.priority = priority
    return made


def agent(
    agent_id: str,
    *,
    capabilities: tuple[str, ...] = (),
    reviews: tuple[str, ...] = (),
    concurrency: int = 1,
    active: int = 0,
    offline: bool = False,
) -> agent_pb2.Agent:
    return agent_pb2.Agent(
        name=f"boards/b/agents/{agent_id}",
        capabilities=capabilities,
        review_capabilities=reviews,
        concurrency=concurrency,
        active_tasks=active,
        status=agent_pb2.AGENT_STATUS_OFFLINE if offline else agent_pb2.AGENT_STATUS_IDLE,
    )


def decide(tasks: list[task_pb2.Task], agents: list[agent_pb2.Agent]) -> list[object]:
    return list(default_policy(Snapshot([BoardView(board(), tasks, agents)])))


def test_dispatch_by_priority_then_age_within_capacity() -> None:
    tasks = [
        task("late", age=1),
        task("urgent", priority=1),
        task("old", age=50),
        task("lowest", priority=9, age=99),
    ]
    actions = decide(tasks, [agent("w", concurrency=3)])
    assert actions == [
        Assign("boards/b/tasks/urgent", "w", "UNASSIGNED", "e-urgent"),
        Assign("boards/b/tasks/old", "w", "UNASSIGNED", "e-old"),
        Assign("boards/b/tasks/late", "w", "UNASSIGNED", "e-late"),
    ]


def test_capabilities_decide_who_and_busy_or_offline_agents_get_nothing() -> None:
    tasks = [task("i", task_type="intake_check"), task("p", task_type="pay_out")]
    agents = [
        agent("payer", capabilities=("pay_*",)),
        agent("busy", capabilities=("intake_*",), active=1),
        agent("gone", offline=True),
    ]
    assert decide(tasks, agents) == [Assign("boards/b/tasks/p", "payer", "UNASSIGNED", "e-p")]


def test_work_is_spread_over_the_agents_with_most_room() -> None:
    tasks = [task(str(i), age=10 - i) for i in range(4)]
    actions = decide(tasks, [agent("a", concurrency=3), agent("b", concurrency=2, active=1)])
    # a has 3 free, b 1: a, a, then a tie that goes to the first agent, then b.
    assert [a.agent for a in actions if isinstance(a, Assign)] == ["a", "a", "a", "b"]


def test_reviews_go_to_reviewers_never_to_the_author() -> None:
    done = task("r", "PENDING_REVIEW", assigned_to="alice")
    agents = [
        agent("alice", capabilities=("claim",), reviews=("claim",)),
        agent("bob", reviews=("claim",)),
    ]
    assert decide([done], agents) == [Assign("boards/b/tasks/r", "bob", "PENDING_REVIEW", "e-r")]
    assert decide([done], agents[:1]) == [], "the author may not review its own work"


def test_a_reviewer_only_agent_takes_no_work() -> None:
    assert decide([task("t")], [agent("bob", reviews=("claim",))]) == []


def test_stale_goes_back_and_out_again_approved_completes() -> None:
    tasks = [task("s", "STALE", assigned_to="gone"), task("a", "APPROVED")]
    actions = decide(tasks, [agent("w")])
    assert actions == [
        Transition("boards/b/tasks/a", "COMPLETE", "APPROVED", "e-a"),
        Transition("boards/b/tasks/s", "UNASSIGNED", "STALE", "e-s"),
        Assign("boards/b/tasks/s", "w", "UNASSIGNED", ""),
    ]


def test_revisions_are_dispatched_again() -> None:
    actions = decide([task("v", "REVISION_NEEDED", assigned_to="bob")], [agent("w")])
    assert actions == [Assign("boards/b/tasks/v", "w", "REVISION_NEEDED", "e-v")]


def test_profiles_without_an_in_progress_route_are_left_alone() -> None:
    assert decide([task("x", profile="ship")], [agent("w")]) == []
