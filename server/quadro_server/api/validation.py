"""Request validation: every syntactic rule of the API, checked before anything reaches
the store. All violations of a request are reported together, each with the path of the
offending field."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from google.protobuf import duration_pb2

from quadro import limits, reasons
from quadro_server.core import globs, names
from quadro_server.core.errors import FieldViolation, InvalidArgument


class Violations:
    """Collects field violations; `raise_if_any` ends validation with all of them."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []
        self.reason = reasons.INVALID_FIELD

    def add(self, field: str, problem: str | None) -> bool:
        """Record `problem` (if any) against `field`; True when the value was fine."""
        if problem is None:
            return True
        self.items.append(FieldViolation(field, problem))
        return False

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items, reason=self.reason)

    # --- names ----------------------------------------------------------------------

    def board(self, field: str, value: str) -> str:
        try:
            return names.parse_board_name(value)
        except names.InvalidName as exc:
            self.add(field, str(exc))
            return ""

    def child(self, field: str, value: str, collection: str) -> names.ChildName:
        try:
            return names.parse_child_name(value, collection)
        except names.InvalidName as exc:
            self.add(field, str(exc))
            return names.ChildName("", "")

    def task_ref(self, field: str, value: str, board_id: str) -> str:
        """A task on `board_id`, given as a bare id or a full name."""
        if "/" not in value:
            self.add(field, names.check_task_id(value))
            return value
        ref = self.child(field, value, "tasks")
        if ref.board_id and ref.board_id != board_id:
            self.add(field, f"task {value!r} is not on board {board_id!r}")
        return ref.child_id

    # --- values ---------------------------------------------------------------------

    def text(self, field: str, value: str, limit: int, *, required: bool = False) -> str:
        self.add(field, names.check_text(value, field.rsplit(".", 1)[-1], limit, required=required))
        return value

    def output(self, field: str, value: str) -> str:
        self.add(field, names.check_utf8_size(value, "output", limits.OUTPUT_MAX_BYTES))
        return value

    def request_id(self, value: str) -> str:
        self.add("request_id", names.check_request_id(value))
        return value

    def optional(self, field: str, value: str, check: Callable[[str], str | None]) -> str:
        if value:
            self.add(field, check(value))
        return value

    def statuses(self, field: str, values: Iterable[str]) -> tuple[str, ...]:
        out = tuple(values)
        self.count(field, out, limits.FILTER_VALUES_MAX)
        for i, status in enumerate(out):
            self.add(f"{field}[{i}]", names.check_status(status))
        return out

    def patterns(self, field: str, values: Iterable[str]) -> tuple[str, ...]:
        out = tuple(values)
        self.count(field, out, limits.FILTER_VALUES_MAX)
        for i, pattern in enumerate(out):
            self.add(f"{field}[{i}]", globs.check_glob(pattern))
        return out

    def count(self, field: str, values: tuple[object, ...] | list[object], limit: int) -> None:
        if len(values) > limit:
            self.add(field, f"{len(values)} values; the limit is {limit}")

    def page_size(self, value: int) -> int:
        if value < 0:
            self.add("page_size", "must not be negative")
            return limits.PAGE_SIZE_DEFAULT
        if value > limits.PAGE_SIZE_MAX:
            self.add("page_size", f"{value} is above the maximum of {limits.PAGE_SIZE_MAX}")
        return value or limits.PAGE_SIZE_DEFAULT

    def duration_us(self, field: str, value: duration_pb2.Duration, max_seconds: int) -> int:
        """A Duration in microseconds, within 0..max_seconds."""
        if value.seconds < 0 or value.nanos < 0 or value.nanos >= 1_000_000_000:
            self.add(field, "must be a non-negative duration")
            return 0
        if value.seconds > max_seconds:
            self.add(field, f"{value.seconds}s is above the maximum of {max_seconds}s")
        return value.seconds * 1_000_000 + value.nanos // 1000

    def int_range(self, field: str, value: int, low: int, high: int) -> int:
        if not low <= value <= high:
            self.add(field, f"{value} is outside {low}..{high}")
        return value


def check_labels(v: Violations, field: str, labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    if len(labels) > limits.LABELS_MAX:
        v.add(field, f"{len(labels)} labels; the limit is {limits.LABELS_MAX}")
    for key, value in labels.items():
        v.add(f"{field}[{key!r}]", names.check_label_key(key))
        v.add(
            f"{field}[{key!r}]",
            names.check_text(value, "label value", limits.LABEL_VALUE_MAX),
        )
    return tuple(sorted(labels.items()))
