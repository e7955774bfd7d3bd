"""The rules of Chiefs' registrations and cycle records (stored as internal data, see
`quadro_server.core.chiefs`). None of them writes an event."""

from __future__ import annotations

from dataclasses import replace

from quadro import reasons
from quadro_server.core import names
from quadro_server.core.chiefs import (
    CYCLES_KEPT,
    ChiefRecord,
    CycleRecord,
    chief_from_json,
    chief_json,
    chief_key,
    cycle_json,
    cycle_key,
)
from quadro_server.core.commands import RecordChiefCycle, RegisterChief, ReportChiefState
from quadro_server.core.errors import NotFound
from quadro_server.core.records import DataRecord
from quadro_server.core.results import ChiefCycleResult, ChiefResult
from quadro_server.core.transaction import Applied, Transaction


def _board_scope(tx: Transaction, board_id: str) -> str:
    board = tx.get_board(board_id)
    if board is None:
        raise NotFound(names.board_name(board_id), reason=reasons.BOARD_NOT_FOUND)
    return board.scope


def _chief(tx: Transaction, board_id: str, chief_id: str) -> ChiefRecord:
    _board_scope(tx, board_id)
    entry = tx.get_data(board_id, chief_key(chief_id))
    if entry is None:
        raise NotFound(names.chief_name(board_id, chief_id), reason=reasons.CHIEF_NOT_FOUND)
    return chief_from_json(board_id, chief_id, entry.value_json)


def _put_chief(tx: Transaction, chief: ChiefRecord, now: int) -> None:
    tx.put_data(DataRecord(chief.board_id, chief_key(chief.chief_id), chief_json(chief), now))


def register_chief(tx: Transaction, c: RegisterChief, now: int) -> Applied:
    scope = _board_scope(tx, c.board_id)
    entry = tx.get_data(c.board_id, chief_key(c.chief_id))
    existing = None if entry is None else chief_from_json(c.board_id, c.chief_id, entry.value_json)
    chief = ChiefRecord(
        board_id=c.board_id,
        chief_id=c.chief_id,
        display_name=c.display_name,
        task_types=c.task_types,
        # The board itself is always part of the scope it is registered in.
        boards=c.boards or (c.board_id,),
        cadence=c.cadence,
        version=c.version,
        state=existing.state if existing else "SLEEPING",
        state_time=existing.state_time if existing else now,
        cycles=existing.cycles if existing else 0,
        last_cycle_time=existing.last_cycle_time if existing else 0,
        register_time=existing.register_time if existing else now,
        scope=scope,
    )
    _put_chief(tx, chief, now)
    return Applied(ChiefResult(chief), ())


def report_chief_state(tx: Transaction, c: ReportChiefState, now: int) -> Applied:
    chief = _chief(tx, c.board_id, c.chief_id)
    if chief.state != c.state:
        chief = replace(chief, state=c.state, state_time=now)
        _put_chief(tx, chief, now)
    return Applied(ChiefResult(chief), ())


def record_chief_cycle(tx: Transaction, c: RecordChiefCycle, now: int) -> Applied:
    chief = _chief(tx, c.board_id, c.chief_id)
    number = chief.cycles + 1
    cycle = CycleRecord(
        board_id=c.board_id,
        chief_id=c.chief_id,
        number=number,
        trigger=c.trigger,
        start_time=c.start_time,
        duration_us=c.duration_us,
        actions=c.actions,
        lost_races=c.lost_races,
        errors=c.errors,
        in_flight=c.in_flight,
        waiting=c.waiting,
        noop=c.noop,
    )
    tx.put_data(DataRecord(c.board_id, cycle_key(c.chief_id, number), cycle_json(cycle), now))
    if number > CYCLES_KEPT:
        tx.delete_data(c.board_id, cycle_key(c.chief_id, number - CYCLES_KEPT))
    chief = replace(
        chief,
        cycles=number,
        last_cycle_time=c.start_time,
        state="SLEEPING",
        state_time=now if chief.state != "SLEEPING" else chief.state_time,
    )
    _put_chief(tx, chief, now)
    return Applied(ChiefCycleResult(cycle, chief), ())
