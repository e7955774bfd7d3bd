"""Lifecycle rules, exhaustively: every pair of statuses of each built-in profile is either
allowed (declared or a global exit) or rejected; terminals are derived."""

from __future__ import annotations

import itertools

import pytest

from quadro_server.core import lifecycle as lc
from quadro_server.core.lifecycle import BUILT_INS, BoardLifecycles, Lifecycle, check_custom_profile

ALL_BUILT_IN_STATUSES = [
    lc.UNASSIGNED, lc.IN_PROGRESS, lc.PENDING_REVIEW, lc.REVISION_NEEDED, lc.APPROVED,
    lc.COMPLETE, lc.STALE, lc.HUMAN_REVIEW, lc.ON_HOLD,
]  # fmt: skip

# The brief's tables, written out independently of the implementation.
REVIEW_REQUIRED = {
    ("UNASSIGNED", "IN_PROGRESS"), ("IN_PROGRESS", "PENDING_REVIEW"),
    ("PENDING_REVIEW", "IN_PROGRESS"), ("IN_PROGRESS", "APPROVED"),
    ("IN_PROGRESS", "REVISION_NEEDED"), ("REVISION_NEEDED", "IN_PROGRESS"),
    ("APPROVED", "COMPLETE"), ("IN_PROGRESS", "STALE"), ("STALE", "UNASSIGNED"),
}  # fmt: skip
FAST = {
    ("UNASSIGNED", "IN_PROGRESS"), ("IN_PROGRESS", "COMPLETE"),
    ("IN_PROGRESS", "STALE"), ("STALE", "UNASSIGNED"),
}  # fmt: skip
STATUSES = {
    "review_required": set(ALL_BUILT_IN_STATUSES),
    "fast": {"UNASSIGNED", "IN_PROGRESS", "COMPLETE", "STALE", "HUMAN_REVIEW", "ON_HOLD"},
}
DECLARED = {"review_required": REVIEW_REQUIRED, "fast": FAST}


def expected_allowed(profile: str, frm: str, to: str) -> bool:
    if frm not in STATUSES[profile] or to not in STATUSES[profile]:
        return False
    if (frm, to) in DECLARED[profile]:
        return True
    # Global exits from every status except the exits themselves (which are terminal).
    return to in ("HUMAN_REVIEW", "ON_HOLD") and frm not in ("HUMAN_REVIEW", "ON_HOLD")


@pytest.mark.parametrize("profile", ["review_required", "fast"])
@pytest.mark.parametrize(
    ("frm", "to"), list(itertools.product(ALL_BUILT_IN_STATUSES, ALL_BUILT_IN_STATUSES))
)
def test_every_built_in_pair(profile: str, frm: str, to: str) -> None:
    assert BUILT_INS[profile].allows(frm, to) is expected_allowed(profile, frm, to)


@pytest.mark.parametrize("profile", ["review_required", "fast"])
def test_built_in_terminals(profile: str) -> None:
    assert BUILT_INS[profile].terminals == {"COMPLETE", "HUMAN_REVIEW", "ON_HOLD"}
    assert BUILT_INS[profile].statuses == STATUSES[profile]


def test_targets_are_sorted_and_complete() -> None:
    rr = BUILT_INS["review_required"]
    assert rr.targets_from("IN_PROGRESS") == (
        "APPROVED", "HUMAN_REVIEW", "ON_HOLD", "PENDING_REVIEW", "REVISION_NEEDED", "STALE",
    )  # fmt: skip
    assert rr.targets_from("COMPLETE") == ("HUMAN_REVIEW", "ON_HOLD")
    assert rr.targets_from("HUMAN_REVIEW") == ()


def test_custom_terminals_are_destinations_only() -> None:
    profile = Lifecycle(
        "newsroom",
        (
            ("UNASSIGNED", "drafting"), ("drafting", "editing"), ("editing", "drafting"),
            ("editing", "published"), ("editing", "spiked"),
        ),
    )  # fmt: skip
    assert profile.terminals == {"published", "spiked", "HUMAN_REVIEW", "ON_HOLD"}
    for status in ("UNASSIGNED", "drafting", "editing", "published", "spiked"):
        assert profile.allows(status, "HUMAN_REVIEW")
        assert profile.allows(status, "ON_HOLD")
    assert not profile.allows("HUMAN_REVIEW", "ON_HOLD")
    assert not profile.allows("drafting", "published")


def test_custom_profile_may_leave_a_global_exit() -> None:
    profile = Lifecycle(
        "resumable", (("UNASSIGNED", "work"), ("work", "done"), ("HUMAN_REVIEW", "UNASSIGNED"))
    )
    assert "HUMAN_REVIEW" not in profile.terminals
    assert "ON_HOLD" in profile.terminals
    assert profile.allows("HUMAN_REVIEW", "ON_HOLD")
    assert profile.allows("HUMAN_REVIEW", "UNASSIGNED")


@pytest.mark.parametrize(
    ("pairs", "complaint"),
    [
        ([], "at least one transition"),
        ([("drafting", "done")], "no transition leaves UNASSIGNED"),
        ([("UNASSIGNED", "UNASSIGNED")], "does not change the status"),
        ([("UNASSIGNED", "bad status")], "status 'bad status' is invalid"),
        ([("UNASSIGNED", "")], "status is required"),
    ],
)
def test_invalid_custom_profiles(pairs: list[tuple[str, str]], complaint: str) -> None:
    problems = check_custom_profile("custom", pairs)
    assert any(complaint in description for _, description in problems), problems


def test_built_in_names_are_reserved() -> None:
    problems = check_custom_profile("fast", [("UNASSIGNED", "x")])
    assert problems
    assert "reserved" in problems[0][1]


def test_result_status() -> None:
    assert BUILT_INS["review_required"].result_status("IN_PROGRESS") == "PENDING_REVIEW"
    assert BUILT_INS["fast"].result_status("IN_PROGRESS") == "COMPLETE"
    assert BUILT_INS["fast"].result_status("UNASSIGNED") is None
    custom = Lifecycle("c", (("UNASSIGNED", "work"), ("work", "shipped")))
    assert custom.result_status("work") == "shipped"
    forked = Lifecycle("f", (("UNASSIGNED", "work"), ("work", "won"), ("work", "lost")))
    assert forked.result_status("work") is None


def test_task_type_resolution_exact_beats_glob_and_globs_go_in_order() -> None:
    board = BoardLifecycles(
        {"custom": (("UNASSIGNED", "x"),)},
        [
            ("intake_*", "fast"),
            ("intake_*", "custom"),
            ("intake_review", "review_required"),
            ("*_payment", "custom"),
        ],
        "fast",
    )
    assert board.profile_name_for("intake_validate") == "fast"
    assert board.profile_name_for("intake_review") == "review_required"
    assert board.profile_name_for("claim_payment") == "custom"
    assert board.profile_name_for("other") == "fast"
    assert BoardLifecycles({}, [], "").profile_name_for("x") == "review_required"


def test_rules_must_name_known_profiles() -> None:
    problems = BoardLifecycles({}, [("a*", "nope")], "missing").check_rules()
    fields = {field for field, _ in problems}
    assert fields == {"task_types[0].profile", "default_profile"}
