"""The board's records as immutable values. Times are integer microseconds since the Unix
epoch (UTC); `None` means "never"."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar

from quadro_server.core import fields, names
from quadro_server.core.lifecycle import BoardLifecycles, Pair
from quadro_server.core.values import value

R = TypeVar("R")


def evolve(record: R, **changes: Any) -> R:
    """A copy of a record with some fields changed: `dataclasses.replace`, several times
    faster (it sits on the write path of every command)."""
    cls = type(record)
    known = fields.of(cls)
    values = list(known.read(record))
    for name, changed in changes.items():
        position = known.positions.get(name)
        if position is None:
            raise TypeError(f"{cls.__name__} has no field {name!r}")
        values[position] = changed
    return cls(*values)


@value
class BoardRecord:
    board_id: str
    display_name: str
    # Custom profiles only, sorted by name: (name, declared pairs). Built-ins are implied.
    profiles: tuple[tuple[str, tuple[Pair, ...]], ...]
    # (pattern, profile) in the order given.
    task_type_rules: tuple[tuple[str, str], ...]
    default_profile: str
    scope: str
    create_time: int
    head_sequence: int = 0

    @property
    def name(self) -> str:
        return names.board_name(self.board_id)

    def lifecycles(self) -> BoardLifecycles:
        return _lifecycles(self.profiles, self.task_type_rules, self.default_profile)


@functools.lru_cache(maxsize=1024)
def _lifecycles(
    profiles: tuple[tuple[str, tuple[Pair, ...]], ...],
    rules: tuple[tuple[str, str], ...],
    default_profile: str,
) -> BoardLifecycles:
    # A board's lifecycle spec never changes, so what is derived from it is computed once.
    return BoardLifecycles(dict(profiles), rules, default_profile)


@value
class TaskRecord:
    board_id: str
    task_id: str
    task_type: str
    label: str
    priority: int
    status: str
    profile: str
    assigned_to: str
    output: str
    notes: tuple[str, ...]
    labels: Mapping[str, str]
    context_snapshot_hash: str
    attempt: int
    version: int
    archived: bool
    heartbeat_time: int | None
    create_time: int
    update_time: int
    archive_time: int | None
    scope: str
    parent_task: str
    origin_task: str
    # Sequence of the task's `task_posted` event: the order tasks are listed in.
    created_sequence: int
    # The task it was handed off to; empty if none.
    successor_task: str = ""

    @property
    def name(self) -> str:
        return names.task_name(self.board_id, self.task_id)

    @property
    def etag(self) -> str:
        return str(self.version)


@value
class AgentRecord:
    board_id: str
    agent_id: str
    display_name: str
    capabilities: tuple[str, ...]
    version: str
    concurrency: int
    active_tasks: int
    register_time: int
    last_seen_time: int
    scope: str
    review_capabilities: tuple[str, ...] = ()
    # When a task of the agent was last declared STALE (0: never).
    stale_time: int = 0

    @property
    def name(self) -> str:
        return names.agent_name(self.board_id, self.agent_id)


class AgentStatus:
    IDLE = "IDLE"
    BUSY = "BUSY"
    OFFLINE = "OFFLINE"


def agent_status(agent: AgentRecord, now: int, offline_after_us: int) -> str:
    """BUSY while it holds a task in IN_PROGRESS; OFFLINE when not seen within the window,
    or not seen since one of its tasks was declared STALE (its work went quiet: it is
    probably gone, and must not be given the work again); IDLE otherwise."""
    if agent.active_tasks > 0:
        return AgentStatus.BUSY
    if agent.stale_time > agent.last_seen_time:
        return AgentStatus.OFFLINE
    if now - agent.last_seen_time > offline_after_us:
        return AgentStatus.OFFLINE
    return AgentStatus.IDLE


@value
class EventRecord:
    board_id: str
    sequence: int
    task_id: str
    task_type: str
    type: str
    agent: str
    from_status: str
    to_status: str
    payload: Mapping[str, str | int]
    request_id: str
    principal: str
    create_time: int
    attempt: int
    scope: str
    # The task's etag after the event (a heartbeat leaves it as it was); empty for
    # events recorded before etags were.
    etag: str = ""


@value
class DataRecord:
    board_id: str
    key: str
    # The value as compact JSON text.
    value_json: str
    update_time: int

    @property
    def name(self) -> str:
        return names.data_name(self.board_id, self.key)


def is_internal_key(key: str) -> bool:
    """Keys starting with `_` are internal: never listed."""
    return key.startswith("_")


@value
class LeaseRecord:
    """Leadership of a singleton job: who holds it, since which epoch, until when."""

    name: str
    holder: str
    epoch: int
    expires_at: int
