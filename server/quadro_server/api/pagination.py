"""Opaque page tokens.

A token carries the position after the last item returned (a keyset, so pages stay
stable while items are added) and a digest of the request's other fields: a token is
only valid for the listing that issued it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from quadro import limits, reasons
from quadro_server.api.gate import CALLER
from quadro_server.core.errors import InvalidArgument

T = TypeVar("T")
M = TypeVar("M", bound=Message)


def _digest(request: Message) -> str:
    # Everything but the paging fields decides what the listing is, and so do the
    # caller's scopes: a token is never valid for a caller who sees other tenants.
    shape = type(request)()
    shape.CopyFrom(request)
    for paging in ("page_token", "page_size"):
        shape.ClearField(paging)
    digest = hashlib.sha256(shape.SerializeToString(deterministic=True))
    scopes = CALLER.get().scopes
    if scopes is not None:
        digest.update("\x1f".join(sorted(scopes)).encode())
    return digest.hexdigest()[:16]


def encode(request: Message, position: Any) -> str:
    body = json.dumps({"p": position, "d": _digest(request)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode(request: Message, token: str) -> Any:
    """The position in `token`, or None for an empty token; INVALID_ARGUMENT if the token
    is malformed or belongs to a different listing."""
    if not token:
        return None
    try:
        if len(token) > limits.PAGE_TOKEN_MAX:
            raise ValueError("too long")
        padded = token + "=" * (-len(token) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        position, digest = body["p"], body["d"]
    except (ValueError, KeyError, TypeError, UnicodeError) as exc:
        raise _malformed() from exc
    if digest != _digest(request):
        raise InvalidArgument.single(
            "page_token",
            "this token belongs to a listing with other filters; start again without a token",
            reason=reasons.INVALID_PAGE_TOKEN,
        )
    return position


def _malformed() -> InvalidArgument:
    return InvalidArgument.single(
        "page_token", "not a page token issued by this server", reason=reasons.INVALID_PAGE_TOKEN
    )


def _is_position_int(value: Any) -> bool:
    # Positions are sequences and microsecond times: non-negative 64-bit integers.
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def int_position(request: Message, token: str) -> int:
    position = decode(request, token)
    if position is None:
        return 0
    if not _is_position_int(position):
        raise _malformed()
    return int(position)


def pair_position(request: Message, token: str) -> tuple[int, str] | None:
    """A (time or sequence, id) position: keysets by (create_time, id)."""
    return _pair(request, token, lambda second: isinstance(second, str))


def int_pair_position(request: Message, token: str) -> tuple[int, int] | None:
    """An (index, sequence) position: listings over several boards."""
    return _pair(request, token, _is_position_int)


def priority_position(request: Message, token: str) -> tuple[int, int] | None:
    """A (priority, sequence) position: listings in dispatch order."""
    return _pair(request, token, _is_position_int, first_ok=_is_priority)


def _is_priority(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and limits.PRIORITY_MIN <= value <= limits.PRIORITY_MAX
    )


def _pair(
    request: Message,
    token: str,
    second_ok: Callable[[Any], bool],
    first_ok: Callable[[Any], bool] = _is_position_int,
) -> tuple[int, Any] | None:
    position = decode(request, token)
    if position is None:
        return None
    if (
        not isinstance(position, list)
        or len(position) != 2
        or not first_ok(position[0])
        or not second_ok(position[1])
    ):
        raise _malformed()
    return position[0], position[1]


def str_position(request: Message, token: str) -> str:
    position = decode(request, token)
    if position is None:
        return ""
    if not isinstance(position, str):
        raise _malformed()
    return position


def page(
    request: Message,
    items: list[T],
    limit: int,
    position: Callable[[T], Any],
    convert: Callable[[T], M],
) -> tuple[list[M], str]:
    """Items were fetched with `limit + 1`. Convert up to `limit` of them, stopping early
    when the page would pass PAGE_MAX_BYTES (at least one item always goes), and return
    a token that resumes after the last one kept if anything was left."""
    kept: list[M] = []
    size = 0
    for item in items[:limit]:
        message = convert(item)
        size += message.ByteSize() + 8  # field tag and length of the repeated entry
        if kept and size > limits.PAGE_MAX_BYTES:
            break
        kept.append(message)
    if len(kept) == len(items):
        return kept, ""
    return kept, encode(request, position(items[len(kept) - 1]))
