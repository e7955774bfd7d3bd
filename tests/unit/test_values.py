"""`@value`: immutable to the type checker, equal and hashed by fields, slotted."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy_api

from quadro_server.core.records import EventRecord, evolve
from quadro_server.core.values import value


@value
class Point:
    x: int
    y: int = 0


@value(kw_only=True)
class Named(Point):
    name: str = ""


def test_values_compare_and_hash_by_their_fields() -> None:
    assert Point(1, 2) == Point(1, 2)
    assert Point(1, 2) != Point(1, 3)
    assert {Point(1, 2): "a"}[Point(1, 2)] == "a"
    assert len({Named(1, name="n"), Named(1, name="n"), Named(1, name="m")}) == 2


def test_values_are_slotted_dataclasses_with_keyword_only_fields_where_asked() -> None:
    assert not hasattr(Point(1), "__dict__")
    assert [f.name for f in dataclasses.fields(Named)] == ["x", "y", "name"]
    with pytest.raises(TypeError):
        Named(1, 2, "n")  # type: ignore[call-arg]
    assert dataclasses.replace(Named(1, name="n"), y=5) == Named(1, 5, name="n")


def test_a_changed_record_is_a_new_one() -> None:
    blank: dict[str, Any] = {f.name: 0 for f in dataclasses.fields(EventRecord)}
    first = EventRecord(**blank)
    second = evolve(first, sequence=7)
    assert (first.sequence, second.sequence) == (0, 7)
    with pytest.raises(TypeError, match="no field 'nope'"):
        evolve(first, nope=1)


def test_the_type_checker_refuses_to_change_a_value(tmp_path: Path) -> None:
    module = tmp_path / "changes_a_value.py"
    module.write_text(
        textwrap.dedent(
            """
            from quadro_server.core.records import TaskRecord
            from quadro_server.core.values import value

            @value(kw_only=True)
            class Local:
                count: int = 0

            def change(task: TaskRecord, local: Local) -> None:
                task.status = "DONE"
                local.count = 1
            """
        )
    )
    out, _, status = mypy_api.run([str(module), "--no-incremental", "--follow-imports=silent"])
    assert status == 1
    assert 'Property "status" defined in "TaskRecord" is read-only' in out
    assert 'Property "count" defined in "Local" is read-only' in out
