"""Batch calls: many items, each built, checked and answered on its own, the valid ones
applied together in one store transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from google.protobuf.message import Message

from quadro import limits
from quadro_server.api import convert
from quadro_server.core.commands import Command
from quadro_server.core.errors import InvalidArgument, QuadroError
from quadro_server.core.transaction import Applied
from quadro_server.storage.base import Store

Item = TypeVar("Item")
Outcome = TypeVar("Outcome", bound=Message)
Answer = TypeVar("Answer", bound=Message)


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
    wrapper: Callable[..., Outcome],
    answer: Callable[[Applied], Answer],
) -> list[Outcome]:
    """A batch call's results, one per item in order: its answer, or its error."""
    return _outcomes(await _apply_items(store, items, build), wrapper, answer)


def _outcomes(
    applied: list[Applied | QuadroError],
    wrapper: Callable[..., Outcome],
    answer: Callable[[Applied], Answer],
) -> list[Outcome]:
    """Each item's answer, or its error, in the batch response's outcome message."""
    return [
        wrapper(error=convert.item_error(o))
        if isinstance(o, QuadroError)
        else wrapper(response=answer(o))
        for o in applied
    ]
