"""What a policy decides: actions, applied by the Chief through the client library, each
a compare-and-set on the board so that a Chief acting on an outdated snapshot, or racing
another Chief, changes nothing it did not mean to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Assign:
    """Give `task` (a full task name) to `agent`: it enters IN_PROGRESS. Applied only if
    the task is still in `expected_status` (and, if given, at `etag`): a task is
    dispatched at most once per UNASSIGNED period however many Chiefs race for it."""

    task: str
    agent: str
    expected_status: str = "UNASSIGNED"
    etag: str = ""
    note: str = ""
    context_snapshot_hash: str = ""


@dataclass(frozen=True)
class Transition:
    """Move `task` to `to_status`, if it is still in `expected_status` (and at `etag`)."""

    task: str
    to_status: str
    expected_status: str
    etag: str = ""
    note: str = ""
    output: str | None = None


@dataclass(frozen=True)
class PostTask:
    """Post a new task on `board`. `request_id` makes it exactly once: a Chief that runs
    the same decision again (after a crash, or racing another) posts nothing twice."""

    board: str
    task_type: str
    label: str
    request_id: str
    task_id: str = ""
    priority: int | None = None
    notes: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    parent_task: str = ""


@dataclass(frozen=True)
class HandOff:
    """Post the successor of a task on `board` (`HandOffTask`): a child task whose
    parent is `task`. With `to_status`, the task is moved to that terminal status (if
    still in `expected_status`) in the same atomic step; else it must be terminal. The
    board hands a task off once, whoever applies it and however often; a repeat is a
    lost race."""

    task: str
    board: str
    task_type: str
    label: str
    priority: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    to_status: str = ""
    expected_status: str = ""


Action = Assign | Transition | PostTask | HandOff
