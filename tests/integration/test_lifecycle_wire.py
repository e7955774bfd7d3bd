"""Every pair of statuses, for both built-in profiles, through the real server: allowed
moves succeed with exactly one event of the right type; every other move is rejected
with the current status and the allowed targets, and writes nothing."""

from __future__ import annotations

import itertools

import pytest

import quadro
from quadro import errors
from support.server import ServerProcess

ALL = [
    "UNASSIGNED", "IN_PROGRESS", "PENDING_REVIEW", "REVISION_NEEDED", "APPROVED", "COMPLETE",
    "STALE", "HUMAN_REVIEW", "ON_HOLD",
]  # fmt: skip

# How to bring a fresh task into each status, per profile (the brief's tables).
PATHS = {
    "review_required": {
        "UNASSIGNED": [],
        "IN_PROGRESS": ["IN_PROGRESS"],
        "PENDING_REVIEW": ["IN_PROGRESS", "PENDING_REVIEW"],
        "REVISION_NEEDED": ["IN_PROGRESS", "REVISION_NEEDED"],
        "APPROVED": ["IN_PROGRESS", "APPROVED"],
        "COMPLETE": ["IN_PROGRESS", "APPROVED", "COMPLETE"],
        "STALE": ["IN_PROGRESS", "STALE"],
        "HUMAN_REVIEW": ["HUMAN_REVIEW"],
        "ON_HOLD": ["ON_HOLD"],
    },
    "fast": {
        "UNASSIGNED": [],
        "IN_PROGRESS": ["IN_PROGRESS"],
        "COMPLETE": ["IN_PROGRESS", "COMPLETE"],
        "STALE": ["IN_PROGRESS", "STALE"],
        "HUMAN_REVIEW": ["HUMAN_REVIEW"],
        "ON_HOLD": ["ON_HOLD"],
    },
}
DECLARED = {
    "review_required": {
        ("UNASSIGNED", "IN_PROGRESS"), ("IN_PROGRESS", "PENDING_REVIEW"),
        ("PENDING_REVIEW", "IN_PROGRESS"), ("IN_PROGRESS", "APPROVED"),
        ("IN_PROGRESS", "REVISION_NEEDED"), ("REVISION_NEEDED", "IN_PROGRESS"),
        ("APPROVED", "COMPLETE"), ("IN_PROGRESS", "STALE"), ("STALE", "UNASSIGNED"),
    },
    "fast": {
        ("UNASSIGNED", "IN_PROGRESS"), ("IN_PROGRESS", "COMPLETE"),
        ("IN_PROGRESS", "STALE"), ("STALE", "UNASSIGNED"),
    },
}  # fmt: skip
EXITS = ("HUMAN_REVIEW", "ON_HOLD")
EVENT_OF = {
    ("UNASSIGNED", "IN_PROGRESS"): "task_assigned",
    ("PENDING_REVIEW", "IN_PROGRESS"): "task_assigned",
    ("REVISION_NEEDED", "IN_PROGRESS"): "task_assigned",
    ("STALE", "UNASSIGNED"): "task_reassigned",
    ("IN_PROGRESS", "PENDING_REVIEW"): "task_completed",
    ("IN_PROGRESS", "COMPLETE"): "task_completed",
    ("IN_PROGRESS", "APPROVED"): "task_reviewed",
    ("IN_PROGRESS", "REVISION_NEEDED"): "task_reviewed",
    ("APPROVED", "COMPLETE"): "task_reviewed",
    ("IN_PROGRESS", "STALE"): "task_stale",
}


def allowed(profile: str, frm: str, to: str) -> bool:
    if (frm, to) in DECLARED[profile]:
        return True
    return to in EXITS and frm not in EXITS


def allowed_targets(profile: str, frm: str) -> list[str]:
    return sorted(to for to in PATHS[profile] if allowed(profile, frm, to))


@pytest.fixture(scope="module")
def lifecycle_board(server: ServerProcess) -> str:
    """One board for the whole table: `fast_*` task types use `fast`, the rest the default
    `review_required`; one agent with room for every task."""
    with quadro.Client(server.address) as client:
        client.create_board("lifecycles", task_types={"fast_*": "fast"})
        client.register_agent("lifecycles", "w", concurrency=10_000)
    return "lifecycles"


def head(client: quadro.Client, board: str) -> int:
    return client.get_board(board).board.head_sequence


def bring_to(client: quadro.Client, board: str, profile: str, status: str) -> str:
    task_type = "fast_work" if profile == "fast" else "work"
    task = client.post_task(board, task_type, f"to {status}").task.name
    for step in PATHS[profile][status]:
        client.transition_task(task, step, assignee="w" if step == "IN_PROGRESS" else "")
    assert client.get_task(task).task.status == status
    return task


CASES = [
    (profile, frm, to)
    for profile in ("review_required", "fast")
    for frm, to in itertools.product(PATHS[profile], ALL)
]


@pytest.mark.parametrize(("profile", "frm", "to"), CASES)
def test_move(client: quadro.Client, lifecycle_board: str, profile: str, frm: str, to: str) -> None:
    task = bring_to(client, lifecycle_board, profile, frm)
    before = head(client, lifecycle_board)
    assignee = "w" if to == "IN_PROGRESS" else ""
    if to not in PATHS[profile]:
        with pytest.raises(errors.InvalidArgument) as unknown:
            client.transition_task(task, to, assignee=assignee)
        assert unknown.value.reason == "UNKNOWN_STATUS"
        assert unknown.value.field_violations[0][0] == "to_status"
    elif allowed(profile, frm, to):
        response = client.transition_task(task, to, assignee=assignee)
        assert response.task.status == to
        assert response.event.sequence == before + 1
        assert (response.event.from_status, response.event.to_status) == (frm, to)
        expected = "task_failed" if to in EXITS else EVENT_OF[(frm, to)]
        assert quadro.event_type_name(response.event.type) == expected
        assert head(client, lifecycle_board) == before + 1
        return
    else:
        with pytest.raises(errors.TransitionRejected) as rejected:
            client.transition_task(task, to, assignee=assignee)
        assert rejected.value.current_status == frm
        assert rejected.value.allowed_statuses == allowed_targets(profile, frm)
        assert frm in rejected.value.message
        assert to in rejected.value.message
    # Rejected: nothing persisted, nothing emitted.
    assert head(client, lifecycle_board) == before
    assert client.get_task(task).task.status == frm


def test_custom_profile_global_exits_from_every_state(client: quadro.Client, board_id: str) -> None:
    client.create_board(
        board_id,
        profiles={"pipe": [("UNASSIGNED", "drafting"), ("drafting", "editing"),
                           ("editing", "published")]},
        default_profile="pipe",
    )  # fmt: skip
    path = {"UNASSIGNED": [], "drafting": ["drafting"], "editing": ["drafting", "editing"],
            "published": ["drafting", "editing", "published"]}  # fmt: skip
    for status, steps in path.items():
        for exit_ in EXITS:
            task = client.post_task(board_id, "article", f"{status} -> {exit_}").task.name
            for step in steps:
                event = client.transition_task(task, step).event
                assert quadro.event_type_name(event.type) == "task_completed"
            event = client.transition_task(task, exit_).event
            assert quadro.event_type_name(event.type) == "task_failed"
            with pytest.raises(errors.TransitionRejected):
                client.transition_task(task, "drafting")
