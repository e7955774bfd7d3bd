"""Chiefs' registrations and cycle records, kept in the board's data store under internal
keys (`_` first: never listed as data, never events): a board has few Chiefs, and each
cycle is one small record, so the data store's rows serve every backend unchanged."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from quadro_server.core import jsontext, names

CHIEF_PREFIX = "_chief/"
CYCLE_PREFIX = "_cycle/"
# Cycles kept per Chief and board; older ones are dropped as new ones are recorded.
CYCLES_KEPT = 10_000

STATES = ("SLEEPING", "THINKING", "ACTING")
TRIGGERS = ("SEED", "EVENT", "STALE", "SCHEDULE")


@dataclass(frozen=True, slots=True)
class ChiefRecord:
    board_id: str
    chief_id: str
    display_name: str
    task_types: tuple[str, ...]
    boards: tuple[str, ...]
    cadence: str
    version: str
    state: str
    state_time: int
    cycles: int
    last_cycle_time: int
    register_time: int
    scope: str

    @property
    def name(self) -> str:
        return names.chief_name(self.board_id, self.chief_id)


@dataclass(frozen=True, slots=True)
class CycleRecord:
    board_id: str
    chief_id: str
    number: int
    trigger: str
    start_time: int
    duration_us: int
    actions: int
    lost_races: int
    errors: int
    in_flight: int
    waiting: int
    noop: bool


def chief_key(chief_id: str) -> str:
    return CHIEF_PREFIX + chief_id


def cycle_key(chief_id: str, number: int) -> str:
    # Zero-padded, so that keys sort in cycle order.
    return f"{CYCLE_PREFIX}{chief_id}/{number:012d}"


def cycle_prefix(chief_id: str) -> str:
    return f"{CYCLE_PREFIX}{chief_id}/"


def chief_json(chief: ChiefRecord) -> str:
    fields = asdict(chief)
    del fields["board_id"], fields["chief_id"]
    return jsontext.dumps(fields)


def chief_from_json(board_id: str, chief_id: str, text: str) -> ChiefRecord:
    fields = jsontext.loads(text)
    fields["task_types"] = tuple(fields["task_types"])
    fields["boards"] = tuple(fields["boards"])
    return ChiefRecord(board_id=board_id, chief_id=chief_id, **fields)


def cycle_json(cycle: CycleRecord) -> str:
    fields = asdict(cycle)
    del fields["board_id"], fields["chief_id"], fields["number"]
    return jsontext.dumps(fields)


def cycle_from_json(board_id: str, key: str, text: str) -> CycleRecord:
    chief_id, number = key.removeprefix(CYCLE_PREFIX).rsplit("/", 1)
    return CycleRecord(
        board_id=board_id, chief_id=chief_id, number=int(number), **jsontext.loads(text)
    )
