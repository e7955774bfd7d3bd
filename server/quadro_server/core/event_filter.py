"""Which events a reader wants. One definition serves every reader: stores turn it into
their query language, live subscriptions apply `matches` to events in memory, and the two
must agree (tests/unit/test_event_filter.py holds them to it)."""

from __future__ import annotations

from dataclasses import dataclass

from quadro_server.core import globs
from quadro_server.core.records import EventRecord
from quadro_server.core.taxonomy import EventType

ALL_BUT_HEARTBEATS = tuple(t.value for t in EventType if t is not EventType.TASK_HEARTBEAT)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Fields combine with AND; values inside one field with OR; empty means any."""

    task_id: str = ""
    agent: str = ""
    # Event type values (`task_posted`, ...).
    types: tuple[str, ...] = ()
    # Task types or globs.
    task_types: tuple[str, ...] = ()
    # Statuses moved to.
    statuses: tuple[str, ...] = ()

    def matches(self, event: EventRecord) -> bool:
        return (
            (not self.task_id or event.task_id == self.task_id)
            and (not self.agent or event.agent == self.agent)
            and (not self.types or event.type in self.types)
            and (not self.statuses or event.to_status in self.statuses)
            and (not self.task_types or globs.matches_any(self.task_types, event.task_type))
        )

    def without_heartbeats(self) -> EventFilter:
        """The same filter, leaving heartbeats out unless its types name them."""
        if self.types:
            return self
        return EventFilter(
            self.task_id, self.agent, ALL_BUT_HEARTBEATS, self.task_types, self.statuses
        )

    @property
    def matches_everything(self) -> bool:
        return not (self.task_id or self.agent or self.types or self.task_types or self.statuses)
