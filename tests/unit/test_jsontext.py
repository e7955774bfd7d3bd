"""The stores' JSON text: compact and UTF-8, the same whichever encoder wrote it."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from quadro_server.core import jsontext


def stdlib(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    "value",
    [
        {"profile": "fast", "priority": 5, "labels": {"é": "ünïcode ✓"}, "none": None},
        ["a", 1, 2.5, True, False, None, [], {}],
        (1, ("nested", "tuple")),
        2**63 - 1,
        -(2**63),
        # What orjson refuses goes through the standard library, written as before.
        2**64 + 1,
        {1: "an integer key"},
        [{"deep": 10**30}],
    ],
)
def test_written_as_the_standard_library_writes_it(value: Any) -> None:
    text = jsontext.dumps(value)
    assert isinstance(text, str)
    assert text == stdlib(value)


@pytest.mark.parametrize(
    "value",
    [
        {"profile": "fast", "priority": 5, "labels": {"é": "ünïcode ✓"}, "none": None},
        ["a", 1, 2.5, True, False, None, [], {}],
        [2**63 - 1, -(2**63), 0.1, 1e300],
    ],
)
def test_read_back_as_written(value: Any) -> None:
    # The records' integers are protobuf's 64-bit ones: larger ones are never read back.
    assert jsontext.loads(jsontext.dumps(value)) == value


def test_text_the_standard_library_once_wrote_with_nan_still_reads() -> None:
    found = jsontext.loads('{"x":NaN,"y":[Infinity]}')
    assert math.isnan(found["x"])
    assert found["y"] == [math.inf]


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(json.JSONDecodeError, match="Expecting property name"):
        jsontext.loads("{not json")
