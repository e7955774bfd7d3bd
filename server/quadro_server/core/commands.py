"""Mutations of the board, as values. A store applies a list of them in one transaction;
each one is validated and answered on its own.

Commands arrive here well-formed (ids, sizes and syntax checked by the API layer); the
engine checks everything that depends on the board's state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import operator
from collections.abc import Callable
from typing import Any

from quadro_server.core.lifecycle import Pair
from quadro_server.core.values import value


@value
class LeaseKey:
    """Proof of leadership a command carries: it is applied only if this holder still
    holds the lease at this epoch (checked in the command's own transaction)."""

    name: str
    holder: str
    epoch: int


# Principals whose request ids are keyed as they are: the one caller of a server without
# authentication, and internal commands.
_SHARED_NAMESPACE = ("", "anonymous")


@value(kw_only=True)
class Command:
    # Idempotency key; empty disables deduplication.
    request_id: str = ""
    # Who asked, as authenticated by the server.
    principal: str = ""
    # For the work of singleton jobs: the lease the command is applied under.
    lease: LeaseKey | None = None

    @property
    def request_key(self) -> str:
        """What the command is deduplicated by: its request id, in the principal's own
        namespace, so that one caller's request ids never meet another's."""
        if self.principal in _SHARED_NAMESPACE:
            return self.request_id
        return f"{self.principal}\x1f{self.request_id}"

    def fingerprint(self) -> str:
        """Digest of what the command asks for, request id and principal excluded: a retry
        must carry the same fingerprint as the first attempt. Every field is a str, int,
        None or a tuple of those, whose repr is exact and stable."""
        asked = (type(self).__name__, *_asked_fields(type(self))(self))
        return hashlib.blake2b(repr(asked).encode(), digest_size=16).hexdigest()


_asked: dict[type[Command], Callable[[Command], tuple[Any, ...]]] = {}


def _asked_fields(cls: type[Command]) -> Callable[[Command], tuple[Any, ...]]:
    """What a command of `cls` asks for: its fields' values in order, request id,
    principal and lease excluded (the reader is made once per class)."""
    read = _asked.get(cls)
    if read is None:
        names = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in ("request_id", "principal", "lease")
        ]
        read = _asked[cls] = _tuple_getter(names)
    return read


def _tuple_getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The values of attributes `names` as a tuple (attrgetter gives a tuple only for
    two names or more)."""
    if len(names) >= 2:
        return operator.attrgetter(*names)
    if names:
        one = operator.attrgetter(names[0])
        return lambda c: (one(c),)
    return lambda _: ()


@value(kw_only=True)
class CreateBoard(Command):
    board_id: str
    display_name: str = ""
    profiles: tuple[tuple[str, tuple[Pair, ...]], ...] = ()
    task_type_rules: tuple[tuple[str, str], ...] = ()
    default_profile: str = ""


@value(kw_only=True)
class PostTask(Command):
    board_id: str
    task_type: str
    label: str
    # Empty: the engine generates a short id.
    task_id: str = ""
    priority: int = 5
    notes: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    parent_task: str = ""


@value(kw_only=True)
class HandOffTask(Command):
    """Post the successor of a finished task (on `successor_board_id`) and record it."""

    board_id: str
    task_id: str
    successor_board_id: str
    task_type: str
    label: str
    # Empty: the engine generates a short id.
    successor_id: str = ""
    priority: int = 5
    notes: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    # Empty: the task must be terminal already. Else the terminal status it moves to
    # first, in the same transaction, if it is in `expected_status` (when given).
    to_status: str = ""
    expected_status: str = ""


@value(kw_only=True)
class TransitionTask(Command):
    board_id: str
    task_id: str
    to_status: str
    assignee: str = ""
    # None keeps the current output.
    output: str | None = None
    note: str = ""
    context_snapshot_hash: str = ""
    expected_status: str = ""
    expected_etag: str = ""
    # 0 skips the fencing check.
    attempt: int = 0
    # Microseconds; None skips the liveness check.
    if_quiet_for_us: int | None = None
    # Non-empty: a worker's own move, allowed only on a task assigned to one of these.
    acting_agents: tuple[str, ...] = ()


@value(kw_only=True)
class PostResult(Command):
    board_id: str
    task_id: str
    output: str
    agent: str = ""
    attempt: int = 0
    note: str = ""


@value(kw_only=True)
class ArchiveTask(Command):
    board_id: str
    task_id: str
    expected_etag: str = ""


@value(kw_only=True)
class RegisterAgent(Command):
    board_id: str
    agent_id: str
    display_name: str = ""
    capabilities: tuple[str, ...] = ()
    review_capabilities: tuple[str, ...] = ()
    version: str = ""
    concurrency: int = 1


@value(kw_only=True)
class Heartbeat(Command):
    board_id: str
    agent_id: str
    # Empty: an agent-only heartbeat (no task, no event).
    task_id: str = ""
    attempt: int = 0


@value(kw_only=True)
class RegisterChief(Command):
    board_id: str
    chief_id: str
    display_name: str = ""
    task_types: tuple[str, ...] = ()
    boards: tuple[str, ...] = ()
    cadence: str = ""
    version: str = ""


@value(kw_only=True)
class ReportChiefState(Command):
    board_id: str
    chief_id: str
    state: str


@value(kw_only=True)
class RecordChiefCycle(Command):
    board_id: str
    chief_id: str
    trigger: str
    start_time: int
    duration_us: int
    actions: int
    lost_races: int
    errors: int
    in_flight: int
    waiting: int
    noop: bool


@value(kw_only=True)
class PutData(Command):
    board_id: str
    key: str
    value_json: str


@value(kw_only=True)
class DeleteData(Command):
    board_id: str
    key: str


@value(kw_only=True)
class ExpireRequests(Command):
    """Housekeeping, not an API call: forget idempotency records created before `before`
    (microseconds), at most `limit` of them (the oldest), so that one command never holds
    the writer long. A retry arriving after that is treated as a new request."""

    before: int
    limit: int = 10_000


@value(kw_only=True)
class AcquireLease(Command):
    """Take, renew or (after expiry) take over the lease `name` for `ttl_us`."""

    name: str
    holder: str
    ttl_us: int
