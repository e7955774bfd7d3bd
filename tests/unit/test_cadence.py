"""Cadences: parsing from the command line, and when scheduled ones tick."""

from __future__ import annotations

import datetime

import pytest

from quadro_chiefs import Cron, Debounced, Periodic, Reactive, parse_cadence


def test_parse_every_kind() -> None:
    assert parse_cadence("reactive") == Reactive()
    assert parse_cadence("debounced:2.5") == Debounced(2.5)
    assert parse_cadence("periodic:60") == Periodic(60)
    assert parse_cadence("cron:*/5 * * * *") == Cron("*/5 * * * *")
    for cadence in (Reactive(), Debounced(2.5), Periodic(60), Cron("*/5 * * * *")):
        assert parse_cadence(cadence.describe()) == cadence, "describe() parses back"


@pytest.mark.parametrize(
    "text", ["", "hourly", "reactive:1", "debounced:", "debounced:-1", "periodic:0",
             "cron:not cron", "cron:61 * * * *"],
)  # fmt: skip
def test_bad_cadences_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="cadence"):
        parse_cadence(text)


def test_periodic_ticks_every_interval() -> None:
    assert Periodic(30).next_tick(1000.0) == 1030.0


def test_cron_ticks_at_the_next_matching_minute() -> None:
    start = datetime.datetime(2026, 12, 1, 10, 7, 30).astimezone()
    tick = Cron("*/5 * * * *").next_tick(start.timestamp())
    assert datetime.datetime.fromtimestamp(tick).astimezone() == start.replace(minute=10, second=0)
    hourly = Cron("0 * * * *").next_tick(start.timestamp())
    assert hourly - start.timestamp() == pytest.approx(52 * 60 + 30)
