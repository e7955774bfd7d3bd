"""The frozen event taxonomy and the mapping from a status move to its event type."""

from __future__ import annotations

import enum

from quadro_server.core.lifecycle import (
    APPROVED,
    COMPLETE,
    HUMAN_REVIEW,
    IN_PROGRESS,
    ON_HOLD,
    PENDING_REVIEW,
    REVISION_NEEDED,
    STALE,
    UNASSIGNED,
)


class EventType(enum.StrEnum):
    """The only event types that exist. Adding one is a new API version."""

    TASK_POSTED = "task_posted"
    TASK_ASSIGNED = "task_assigned"
    TASK_HEARTBEAT = "task_heartbeat"
    TASK_COMPLETED = "task_completed"
    TASK_REVIEWED = "task_reviewed"
    TASK_STALE = "task_stale"
    TASK_REASSIGNED = "task_reassigned"
    TASK_FAILED = "task_failed"


# Event types that wake a Chief: everything but heartbeats.
WAKING_TYPES = frozenset(EventType) - {EventType.TASK_HEARTBEAT}

_NAMED_MOVES: dict[tuple[str, str], EventType] = {
    (UNASSIGNED, IN_PROGRESS): EventType.TASK_ASSIGNED,
    (PENDING_REVIEW, IN_PROGRESS): EventType.TASK_ASSIGNED,
    (REVISION_NEEDED, IN_PROGRESS): EventType.TASK_ASSIGNED,
    (STALE, UNASSIGNED): EventType.TASK_REASSIGNED,
    (IN_PROGRESS, PENDING_REVIEW): EventType.TASK_COMPLETED,
    (IN_PROGRESS, COMPLETE): EventType.TASK_COMPLETED,
    (IN_PROGRESS, APPROVED): EventType.TASK_REVIEWED,
    (IN_PROGRESS, REVISION_NEEDED): EventType.TASK_REVIEWED,
    (APPROVED, COMPLETE): EventType.TASK_REVIEWED,
}


def event_type_for(from_status: str, to_status: str) -> EventType:
    """The event a move writes. Moves into STALE or a global exit are named by their
    destination; the named built-in moves by the pair; any other move (custom profiles)
    is `task_completed`."""
    if to_status == STALE:
        return EventType.TASK_STALE
    if to_status in (HUMAN_REVIEW, ON_HOLD):
        return EventType.TASK_FAILED
    return _NAMED_MOVES.get((from_status, to_status), EventType.TASK_COMPLETED)
