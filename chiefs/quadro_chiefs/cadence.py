"""When a Chief thinks: at once on every change (reactive), at most once per interval
(debounced), or on a schedule (periodic, cron) for batch domains whose events only mark
it dirty."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from croniter import croniter


@dataclass(frozen=True)
class Reactive:
    """A cycle as soon as something changes in scope."""

    def describe(self) -> str:
        return "reactive"


@dataclass(frozen=True)
class Debounced:
    """A cycle when something changes, but at most one per `interval` seconds: the
    changes in between are taken together."""

    interval: float

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError("a debounced cadence needs a positive interval")

    def describe(self) -> str:
        return f"debounced:{self.interval:g}"


@dataclass(frozen=True)
class Periodic:
    """A cycle every `interval` seconds and never in between: events only mark the Chief
    dirty. With `skip_idle`, a tick with nothing new since the last cycle is skipped."""

    interval: float
    skip_idle: bool = True

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError("a periodic cadence needs a positive interval")

    def next_tick(self, after: float) -> float:
        return after + self.interval

    def describe(self) -> str:
        return f"periodic:{self.interval:g}"


@dataclass(frozen=True)
class Cron:
    """A cycle at the times of a cron expression (`*/5 * * * *`, local time), never in
    between; events only mark the Chief dirty."""

    expression: str
    skip_idle: bool = True

    def __post_init__(self) -> None:
        if not croniter.is_valid(self.expression):
            raise ValueError(f"not a cron expression: {self.expression!r}")

    def next_tick(self, after: float) -> float:
        start = datetime.datetime.fromtimestamp(after).astimezone()
        return float(croniter(self.expression, start).get_next(float))

    def describe(self) -> str:
        return f"cron:{self.expression}"


Cadence = Reactive | Debounced | Periodic | Cron
Scheduled = Periodic | Cron


def parse_cadence(text: str) -> Cadence:
    """`reactive`, `debounced:SECONDS`, `periodic:SECONDS` or `cron:EXPRESSION`."""
    kind, _, value = text.partition(":")
    try:
        if kind == "reactive" and not value:
            return Reactive()
        if kind == "debounced":
            return Debounced(float(value))
        if kind == "periodic":
            return Periodic(float(value))
        if kind == "cron":
            return Cron(value)
    except ValueError as exc:
        raise ValueError(f"cadence {text!r}: {exc}") from None
    raise ValueError(
        f"cadence {text!r}: expected reactive, debounced:SECONDS, periodic:SECONDS or "
        "cron:EXPRESSION"
    )
