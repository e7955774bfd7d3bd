"""A record class's fields, read all at once: the write path reads every field of a
record several times per command (to copy it with changes, to encode its stored
answer), and one `attrgetter` call does in C what a loop of `getattr` does in Python."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Reader = Callable[[Any], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Fields:
    """A dataclass's fields: their names and positions, and a reader of their values,
    all in declaration order."""

    names: tuple[str, ...]
    positions: dict[str, int]
    read: Reader


_known: dict[type[Any], Fields] = {}


def of(cls: type[Any]) -> Fields:
    found = _known.get(cls)
    if found is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        read = _single(names[0]) if len(names) == 1 else operator.attrgetter(*names)
        found = _known[cls] = Fields(names, {n: i for i, n in enumerate(names)}, read)
    return found


def _single(name: str) -> Reader:
    # attrgetter of one name returns the value itself, not a tuple of one.
    return lambda value: (getattr(value, name),)
