"""Immutable values that cost no more to build than mutable ones.

`@value` declares a dataclass whose instances are never changed after they are built:
records, commands and results, which are shared between the write path, the caches of
known rows and the answers. A frozen dataclass enforces that at run time by building
each instance through `object.__setattr__`, eight times slower than plain assignment;
these values are built several times per command on the busiest path of the server
(a task record costs 2.1 µs frozen against 0.25 µs), so `@value` leaves that check to
the type checker: `dataclass_transform(frozen_default=True)` makes mypy refuse any
assignment to a field, and CI runs mypy on every module. A changed copy is made with
`records.evolve` or `dataclasses.replace`, as for a frozen dataclass; values hash by
their fields, as frozen dataclasses do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, dataclass_transform, overload

T = TypeVar("T")


@overload
def value(cls: type[T], /) -> type[T]: ...
@overload
def value(*, kw_only: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True)
def value(
    cls: type[T] | None = None, /, *, kw_only: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """`@value` or `@value(kw_only=True)` on a class: a slotted dataclass, immutable to
    the type checker, hashed by its fields."""

    def build(target: type[T]) -> type[T]:
        return dataclass(slots=True, unsafe_hash=True, kw_only=kw_only)(target)

    return build if cls is None else build(cls)
