"""Validation of ChiefService requests, into commands and queries."""

from __future__ import annotations

from quadro import limits
from quadro.v1 import chief_pb2
from quadro_server.api import convert
from quadro_server.api.validation import Violations
from quadro_server.core import commands, names


def register_chief(
    request: chief_pb2.RegisterChiefRequest, principal: str
) -> commands.RegisterChief:
    v = Violations()
    board_id = v.board("parent", request.parent)
    v.add("chief_id", names.check_agent_id(request.chief_id))
    chief = request.chief
    v.text("chief.display_name", chief.display_name, limits.DISPLAY_NAME_MAX)
    task_types = v.patterns("chief.task_types", chief.task_types)
    boards = tuple(v.board(f"chief.boards[{i}]", b) for i, b in enumerate(chief.boards))
    v.count("chief.boards", list(boards), limits.SUBSCRIPTION_BOARDS_MAX)
    if boards and board_id and board_id not in boards:
        v.add("chief.boards", f"the scope must include the board it registers on, {board_id!r}")
    v.text("chief.cadence", chief.cadence, limits.CADENCE_MAX)
    v.text("chief.version", chief.version, limits.VERSION_MAX)
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    return commands.RegisterChief(
        board_id=board_id,
        chief_id=request.chief_id,
        display_name=chief.display_name,
        task_types=task_types,
        boards=boards,
        cadence=chief.cadence,
        version=chief.version,
        request_id=request_id,
        principal=principal,
    )


def chief_name(field: str, value: str) -> names.ChildName:
    v = Violations()
    ref = v.child(field, value, "chiefs")
    v.raise_if_any()
    return ref


def report_chief_state(
    request: chief_pb2.ReportChiefStateRequest, principal: str
) -> commands.ReportChiefState:
    v = Violations()
    ref = v.child("name", request.name, "chiefs")
    state = convert.CHIEF_STATE_FROM_PROTO.get(request.state)
    if state is None:
        v.add("state", "must be SLEEPING, THINKING or ACTING")
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    assert state is not None
    return commands.ReportChiefState(
        board_id=ref.board_id,
        chief_id=ref.child_id,
        state=state,
        request_id=request_id,
        principal=principal,
    )


def record_chief_cycle(
    request: chief_pb2.RecordChiefCycleRequest, principal: str
) -> commands.RecordChiefCycle:
    v = Violations()
    ref = v.child("name", request.name, "chiefs")
    cycle = request.cycle
    trigger = convert.CYCLE_TRIGGER_FROM_PROTO.get(cycle.trigger)
    if trigger is None:
        v.add("cycle.trigger", "must be SEED, EVENT, STALE or SCHEDULE")
    if not cycle.HasField("start_time"):
        v.add("cycle.start_time", "required")
    duration = v.duration_us("cycle.duration", cycle.duration, limits.CYCLE_DURATION_MAX_SECONDS)
    for field in ("actions", "lost_races", "errors"):
        v.int_range(f"cycle.{field}", getattr(cycle, field), 0, limits.CYCLE_COUNT_MAX)
    for field in ("in_flight", "waiting"):
        v.int_range(f"cycle.{field}", getattr(cycle, field), 0, limits.CYCLE_TASKS_MAX)
    if cycle.noop and trigger != "EVENT":
        v.add("cycle.noop", "only an event-triggered cycle can be a noop")
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    assert trigger is not None
    return commands.RecordChiefCycle(
        board_id=ref.board_id,
        chief_id=ref.child_id,
        trigger=trigger,
        start_time=cycle.start_time.ToMicroseconds(),
        duration_us=duration,
        actions=cycle.actions,
        lost_races=cycle.lost_races,
        errors=cycle.errors,
        in_flight=cycle.in_flight,
        waiting=cycle.waiting,
        noop=cycle.noop,
        request_id=request_id,
        principal=principal,
    )
