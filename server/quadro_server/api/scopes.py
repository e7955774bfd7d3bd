"""The boards a request names, found from its message descriptor: every resource name in
its name-carrying fields (`name`, `parent`, `board`, `boards`, `task`, `parent_task`, a
map keyed by board names), nested messages included, plus a new board's id.

The rule is generic on purpose: a new RPC is scoped like the others as soon as its
request names its resources the way every request does, with no list to keep up to
date. Free text (labels, notes, outputs) is never read as a name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

NAME_FIELDS = frozenset({"name", "parent", "board", "boards", "task", "parent_task"})
# Fields holding a bare board id rather than a name.
BOARD_ID_FIELDS = frozenset({"board_id"})
# Maps keyed by board name.
BOARD_KEYED_MAPS = frozenset({"after_sequences"})
# How deep nested messages are searched (PostTaskRequest.task.parent_task is 2).
_DEPTH = 3

Extract = Callable[[Message], Iterator[str]]


def board_ids(request: Message) -> set[str]:
    """Board ids the request names, as written (syntax unchecked)."""
    return set(_plan(request.DESCRIPTOR)(request))


def _board_of(value: str) -> str | None:
    if value.startswith("boards/"):
        return value.split("/", 2)[1]
    return None


@cache
def _plan(descriptor: Descriptor, depth: int = 0) -> Extract:
    """What to read in a message of this type, worked out once per type."""
    steps: list[Extract] = []
    for f in descriptor.fields:
        repeated = f.is_repeated
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            if f.name in BOARD_KEYED_MAPS:
                steps.append(_map_keys(f.name))
            continue
        if f.type == FieldDescriptor.TYPE_STRING:
            if f.name in NAME_FIELDS:
                steps.append(_names(f.name, repeated))
            elif f.name in BOARD_ID_FIELDS:
                steps.append(_ids(f.name))
        elif f.type == FieldDescriptor.TYPE_MESSAGE and depth < _DEPTH:
            inner = _plan(f.message_type, depth + 1)
            steps.append(_nested(f.name, repeated, inner))

    def extract(message: Message) -> Iterator[str]:
        for step in steps:
            yield from step(message)

    return extract


def _names(field: str, repeated: bool) -> Extract:
    def read(message: Message) -> Iterator[str]:
        values = getattr(message, field)
        for value in values if repeated else (values,):
            board = _board_of(value)
            if board is not None:
                yield board

    return read


def _ids(field: str) -> Extract:
    def read(message: Message) -> Iterator[str]:
        value = getattr(message, field)
        if value:
            yield value

    return read


def _map_keys(field: str) -> Extract:
    def read(message: Message) -> Iterator[str]:
        for key in getattr(message, field):
            board = _board_of(key)
            if board is not None:
                yield board

    return read


def _nested(field: str, repeated: bool, inner: Extract) -> Extract:
    def read(message: Message) -> Iterator[str]:
        if repeated:
            for item in getattr(message, field):
                yield from inner(item)
        elif message.HasField(field):
            yield from inner(getattr(message, field))

    return read
