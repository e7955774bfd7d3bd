"""Lifecycle profiles: which status moves a task may make, and which statuses end it.

A profile is a set of declared (from, to) pairs. Every profile is expanded with the
global exits HUMAN_REVIEW and ON_HOLD from each of its statuses. Terminal statuses are
derived, for built-in and custom profiles alike: statuses that appear only as
destinations of the declared pairs, plus each global exit that no declared pair leaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from quadro import limits
from quadro_server.core import globs, names

UNASSIGNED = "UNASSIGNED"
IN_PROGRESS = "IN_PROGRESS"
PENDING_REVIEW = "PENDING_REVIEW"
REVISION_NEEDED = "REVISION_NEEDED"
APPROVED = "APPROVED"
COMPLETE = "COMPLETE"
STALE = "STALE"
HUMAN_REVIEW = "HUMAN_REVIEW"
ON_HOLD = "ON_HOLD"

GLOBAL_EXITS: tuple[str, ...] = (HUMAN_REVIEW, ON_HOLD)
# The statuses in which a task waits for a Chief to give it to an agent.
WAITING_FOR_AN_AGENT: tuple[str, ...] = (UNASSIGNED, PENDING_REVIEW, REVISION_NEEDED, STALE)
INITIAL_STATUS = UNASSIGNED

Pair = tuple[str, str]

REVIEW_REQUIRED = "review_required"
FAST = "fast"
DEFAULT_PROFILE = REVIEW_REQUIRED

BUILT_IN_PAIRS: Mapping[str, tuple[Pair, ...]] = {
    REVIEW_REQUIRED: (
        (UNASSIGNED, IN_PROGRESS),
        (IN_PROGRESS, PENDING_REVIEW),
        (PENDING_REVIEW, IN_PROGRESS),
        (IN_PROGRESS, APPROVED),
        (IN_PROGRESS, REVISION_NEEDED),
        (REVISION_NEEDED, IN_PROGRESS),
        (APPROVED, COMPLETE),
        (IN_PROGRESS, STALE),
        (STALE, UNASSIGNED),
    ),
    FAST: (
        (UNASSIGNED, IN_PROGRESS),
        (IN_PROGRESS, COMPLETE),
        (IN_PROGRESS, STALE),
        (STALE, UNASSIGNED),
    ),
}


@dataclass(frozen=True)
class Lifecycle:
    """A profile with everything derived from its declared pairs."""

    name: str
    declared: tuple[Pair, ...]
    built_in: bool = False
    statuses: frozenset[str] = field(init=False)
    allowed: frozenset[Pair] = field(init=False)
    terminals: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        sources = {f for f, _ in self.declared}
        statuses = {s for pair in self.declared for s in pair} | {INITIAL_STATUS}
        statuses |= set(GLOBAL_EXITS)
        derived_terminals = {s for s in statuses if s not in sources}
        allowed = set(self.declared)
        for status in statuses:
            if status in derived_terminals and status in GLOBAL_EXITS:
                continue  # an exit nobody leaves is terminal: it has no way out
            allowed.update((status, exit_) for exit_ in GLOBAL_EXITS if exit_ != status)
        object.__setattr__(self, "statuses", frozenset(statuses))
        object.__setattr__(self, "allowed", frozenset(allowed))
        object.__setattr__(self, "terminals", frozenset(derived_terminals))

    def allows(self, from_status: str, to_status: str) -> bool:
        return (from_status, to_status) in self.allowed

    def targets_from(self, status: str) -> tuple[str, ...]:
        """Statuses reachable in one move, sorted."""
        return tuple(sorted(to for frm, to in self.allowed if frm == status))

    def is_terminal(self, status: str) -> bool:
        return status in self.terminals

    def result_status(self, current: str) -> str | None:
        """Where a posted result takes a task: PENDING_REVIEW if the profile allows it from
        `current`, else COMPLETE, else the only non-exit terminal reachable in one move."""
        for preferred in (PENDING_REVIEW, COMPLETE):
            if self.allows(current, preferred):
                return preferred
        ends = [
            to
            for to in self.targets_from(current)
            if to in self.terminals and to not in GLOBAL_EXITS
        ]
        return ends[0] if len(ends) == 1 else None


BUILT_INS: Mapping[str, Lifecycle] = {
    name: Lifecycle(name, pairs, built_in=True) for name, pairs in BUILT_IN_PAIRS.items()
}


def check_custom_profile(name: str, pairs: Sequence[Pair]) -> list[tuple[str, str]]:
    """Problems with a custom profile as (sub-path, description); empty when valid.

    Sub-paths are relative to the profile, e.g. `transitions[2].to_status`.
    """
    problems: list[tuple[str, str]] = []
    if name in BUILT_INS:
        problems.append(("", f"profile name {name!r} is reserved for a built-in profile"))
    elif bad := names.check_profile_name(name):
        problems.append(("", bad))
    if not pairs:
        problems.append(("transitions", "a profile needs at least one transition"))
    if len(pairs) > limits.TRANSITIONS_PER_PROFILE_MAX:
        problems.append(
            (
                "transitions",
                f"{len(pairs)} transitions; the limit is {limits.TRANSITIONS_PER_PROFILE_MAX}",
            )
        )
    for i, (frm, to) in enumerate(pairs):
        for side, status in (("from_status", frm), ("to_status", to)):
            if bad := names.check_status(status):
                problems.append((f"transitions[{i}].{side}", bad))
        if frm == to and frm:
            problems.append((f"transitions[{i}]", f"{frm} -> {to} does not change the status"))
    if pairs and not any(frm == INITIAL_STATUS for frm, _ in pairs):
        problems.append(
            ("transitions", f"no transition leaves {INITIAL_STATUS}, where every task starts")
        )
    return problems


class BoardLifecycles:
    """A board's profiles and the rules that pick one for a task type."""

    def __init__(
        self,
        custom: Mapping[str, Sequence[Pair]],
        rules: Iterable[tuple[str, str]],
        default_profile: str = "",
    ) -> None:
        self.profiles: dict[str, Lifecycle] = dict(BUILT_INS)
        for name, pairs in custom.items():
            self.profiles[name] = Lifecycle(name, tuple(pairs))
        self.rules = tuple(rules)
        self.default_profile = default_profile or DEFAULT_PROFILE
        self._exact = {p: prof for p, prof in reversed(self.rules) if not globs.is_glob(p)}
        self._globs = tuple((p, prof) for p, prof in self.rules if globs.is_glob(p))
        self.known_statuses = frozenset(s for lc in self.profiles.values() for s in lc.statuses)

    def profile_name_for(self, task_type: str) -> str:
        exact = self._exact.get(task_type)
        if exact is not None:
            return exact
        for pattern, profile in self._globs:
            if globs.matches(pattern, task_type):
                return profile
        return self.default_profile

    def profile(self, name: str) -> Lifecycle:
        return self.profiles[name]

    def check_rules(self) -> list[tuple[str, str]]:
        """Problems with the rules and default profile as (field, description)."""
        problems: list[tuple[str, str]] = []
        if len(self.rules) > limits.TASK_TYPE_RULES_MAX:
            problems.append(
                (
                    "task_types",
                    f"{len(self.rules)} rules; the limit is {limits.TASK_TYPE_RULES_MAX}",
                )
            )
        for i, (pattern, profile) in enumerate(self.rules):
            if bad := globs.check_glob(pattern):
                problems.append((f"task_types[{i}].pattern", bad))
            if profile not in self.profiles:
                problems.append((f"task_types[{i}].profile", self._unknown(profile)))
        if self.default_profile not in self.profiles:
            problems.append(("default_profile", self._unknown(self.default_profile)))
        return problems

    def _unknown(self, profile: str) -> str:
        known = ", ".join(sorted(self.profiles))
        return f"unknown profile {profile!r}; this board has: {known}"
