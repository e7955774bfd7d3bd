"""The event type of every move, from the brief's mapping."""

from __future__ import annotations

import itertools

import pytest

from quadro_server.core.lifecycle import BUILT_INS
from quadro_server.core.taxonomy import EventType, event_type_for

NAMED = {
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


@pytest.mark.parametrize("profile", ["review_required", "fast"])
def test_every_allowed_built_in_move_has_its_event(profile: str) -> None:
    lifecycle = BUILT_INS[profile]
    for frm, to in sorted(lifecycle.allowed):
        expected = "task_failed" if to in ("HUMAN_REVIEW", "ON_HOLD") else NAMED[(frm, to)]
        assert event_type_for(frm, to) == expected, (frm, to)


def test_custom_moves_are_completed_unless_named() -> None:
    assert event_type_for("drafting", "editing") == "task_completed"
    assert event_type_for("editing", "STALE") == "task_stale"
    assert event_type_for("editing", "HUMAN_REVIEW") == "task_failed"
    assert event_type_for("editing", "ON_HOLD") == "task_failed"
    assert event_type_for("UNASSIGNED", "IN_PROGRESS") == "task_assigned"


def test_taxonomy_is_frozen() -> None:
    assert {t.value for t in EventType} == {
        "task_posted", "task_assigned", "task_heartbeat", "task_completed",
        "task_reviewed", "task_stale", "task_reassigned", "task_failed",
    }  # fmt: skip
    assert set(itertools.chain(NAMED.values())) <= {t.value for t in EventType}
