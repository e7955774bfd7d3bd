"""Reading a record's fields at once: copies with changes and stored answers keep every
field, in order, whatever the number of fields."""

from __future__ import annotations

import pytest

from quadro_server.core import codec, fields
from quadro_server.core.records import DataRecord, evolve
from quadro_server.core.results import DataResult


def entry() -> DataRecord:
    return DataRecord("b", "k", '{"x":1}', 5)


def test_a_reader_gives_every_field_in_order() -> None:
    assert fields.of(DataRecord).names == ("board_id", "key", "value_json", "update_time")
    assert fields.of(DataRecord).read(entry()) == ("b", "k", '{"x":1}', 5)
    # One field: still a tuple (attrgetter of one name would give the value itself).
    assert fields.of(DataResult).read(DataResult(entry())) == (entry(),)


def test_evolve_changes_the_named_fields_only() -> None:
    changed = evolve(entry(), value_json="2", update_time=6)
    assert changed == DataRecord("b", "k", "2", 6)
    assert entry() == DataRecord("b", "k", '{"x":1}', 5)
    with pytest.raises(TypeError, match="no field 'value'"):
        evolve(entry(), value="2")


def test_a_one_field_result_survives_its_stored_form() -> None:
    result = DataResult(entry())
    assert (
        codec.dumps(result)
        == '{"$":"DataResult","v":[{"$":"DataRecord","v":["b","k","{\\"x\\":1}",5]}]}'
    )
    assert codec.loads(codec.dumps(result)) == result
