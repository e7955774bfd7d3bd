"""Batch calls: many items, each built, checked and answered on its own, the valid ones
applied together in one store transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from quadro import limits
from quadro_server.api import convert
from quadro_server.core.commands import Command
from quadro_server.core.errors import InvalidArgument, QuadroError
from quadro_server.core.transaction import Applied
from quadro_server.storage.base import Store

Item = TypeVar("Item")


async def _apply_items(
    store: Store, items: Sequence[Item], build: Callable[[Item], Command]
) -> list[Applied | QuadroError]:
    """Build each item's command (an invalid item is its own error) and apply the
    valid ones together, in order, in one store transaction."""
    if not 1 <= len(items) <= limits.BATCH_ITEMS_MAX:
        raise InvalidArgument.single(
            "requests", f"give 1 to {limits.BATCH_ITEMS_MAX} items, not {len(items)}"
        )
    built: list[Command | QuadroError] = []
    for item in items:
        try:
            built.append(build(item))
        except QuadroError as exc:
            built.append(exc)
    commands = [b for b in built if isinstance(b, Command)]
    applied = iter(await store.apply(commands) if commands else [])
    return [b if isinstance(b, QuadroError) else next(applied) for b in built]


async def run(
    store: Store,
    items: Sequence[Item],
    build: Callable[[Item], Command],
    outcomes: RepeatedCompositeFieldContainer[Any],
    answer: Callable[[Applied, Any], None],
) -> None:
    """A batch call's results, one per item in order, added to the response's `outcomes`:
    each applied item's answer written by `answer` into the outcome's `response`, each
    failed item's error into its `error`. Written in place: a message built apart and
    then set in another is copied, and a batch answers hundreds of items."""
    for applied in await _apply_items(store, items, build):
        outcome = outcomes.add()
        if isinstance(applied, QuadroError):
            outcome.error.CopyFrom(convert.item_error(applied))
        else:
            answer(applied, outcome.response)
