"""Identifier rules and resource names (`boards/{board}/tasks/{task}`).

Each `check_*` function returns a description of what is wrong, or None when the value is
valid, so callers can collect every violation of a request before answering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quadro import limits

_LABEL = r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SCOPE = re.compile(r"[a-z](?:[a-z0-9-]{0,29}[a-z0-9])?")
# `claims`, or `acme.claims` for a board of the tenant `acme`.
_BOARD_ID = re.compile(rf"(?:{_SCOPE.pattern}\.)?{_LABEL}")
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_AGENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")
_DATA_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,256}")
_TASK_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}")
_STATUS = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_PROFILE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_LABEL_KEY = re.compile(r"[a-z0-9][a-z0-9_.\-/]{0,62}")
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")

# What each kind of name may be, as told to a caller whose name is not (checked on every
# item of every call: written once here, not formatted on each check).
_BOARD_ID_RULE = (
    f"1-{limits.BOARD_ID_MAX} characters: lowercase letters, digits and hyphens, "
    "starting with a letter and not ending with a hyphen, optionally after a scope "
    "and a dot (`acme.claims`)"
)
_SCOPE_RULE = (
    "1-31 lowercase letters, digits and hyphens, starting with a letter and not "
    "ending with a hyphen"
)
_TASK_ID_RULE = (
    f"1-{limits.TASK_ID_MAX} letters, digits, '_', '-' and '.', starting with a letter or digit"
)
_AGENT_ID_RULE = (
    f"1-{limits.AGENT_ID_MAX} letters, digits, '_', '-', '.', ':' and '@', starting with "
    "a letter or digit"
)
_DATA_KEY_RULE = f"1-{limits.DATA_KEY_MAX} letters, digits, '_', '-', '.' and ':'"
_TASK_TYPE_RULE = (
    f"1-{limits.TASK_TYPE_MAX} letters, digits, '_', '-', '.', ':' and '/', starting with a "
    "letter or digit"
)
_STATUS_RULE = f"1-{limits.STATUS_MAX} letters, digits and '_', starting with a letter"
_PROFILE_RULE = "1-64 letters, digits, '_' and '-', starting with a letter"
_LABEL_KEY_RULE = f"1-{limits.LABEL_KEY_MAX} lowercase letters, digits, '_', '-', '.' and '/'"
_REQUEST_ID_RULE = f"at most {limits.REQUEST_ID_MAX} printable ASCII characters without spaces"


def _check(pattern: re.Pattern[str], value: str, what: str, rule: str) -> str | None:
    if not value:
        return f"{what} is required"
    if pattern.fullmatch(value) is None:
        shown = value if len(value) <= 80 else value[:77] + "..."
        return f"{what} {shown!r} is invalid: {rule}"
    return None


def check_board_id(value: str) -> str | None:
    if len(value) > limits.BOARD_ID_MAX:
        return f"board id {value[:77]!r} is invalid: {_BOARD_ID_RULE}"
    return _check(_BOARD_ID, value, "board id", _BOARD_ID_RULE)


def scope_of(board_id: str) -> str:
    """The tenant a board belongs to: the part of its id before the dot ("" if none)."""
    scope, dot, _ = board_id.partition(".")
    return scope if dot else ""


def check_scope(value: str) -> str | None:
    """A tenant's name, the prefix of its boards' ids."""
    return _check(_SCOPE, value, "scope", _SCOPE_RULE)


def check_task_id(value: str) -> str | None:
    return _check(_TASK_ID, value, "task id", _TASK_ID_RULE)


def check_agent_id(value: str) -> str | None:
    return _check(_AGENT_ID, value, "agent id", _AGENT_ID_RULE)


def check_data_key(value: str) -> str | None:
    return _check(_DATA_KEY, value, "data key", _DATA_KEY_RULE)


def check_task_type(value: str) -> str | None:
    return _check(_TASK_TYPE, value, "task type", _TASK_TYPE_RULE)


def check_status(value: str) -> str | None:
    return _check(_STATUS, value, "status", _STATUS_RULE)


def check_profile_name(value: str) -> str | None:
    return _check(_PROFILE, value, "profile name", _PROFILE_RULE)


def check_label_key(value: str) -> str | None:
    return _check(_LABEL_KEY, value, "label key", _LABEL_KEY_RULE)


def check_request_id(value: str) -> str | None:
    """Empty is allowed (no deduplication); otherwise printable ASCII without spaces."""
    if not value:
        return None
    return _check(_REQUEST_ID, value, "request id", _REQUEST_ID_RULE)


def check_text(value: str, what: str, max_chars: int, *, required: bool = False) -> str | None:
    """Free text: bounded length and no control characters other than tab and newline."""
    if required and not value.strip():
        return f"{what} is required"
    if len(value) > max_chars:
        return f"{what} is {len(value)} characters; the limit is {max_chars}"
    for ch in value:
        if (ch < " " and ch not in "\t\n\r") or ch == "\x7f":
            return f"{what} contains the control character U+{ord(ch):04X}"
    return None


def check_utf8_size(value: str, what: str, max_bytes: int) -> str | None:
    """Bounded text that may hold any character but NUL, which PostgreSQL cannot store
    in text (so that every store keeps exactly what it was given)."""
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return f"{what} is {size} bytes; the limit is {max_bytes}"
    if "\x00" in value:
        return f"{what} contains the NUL character U+0000"
    return None


# --- resource names ---------------------------------------------------------------------


def board_name(board_id: str) -> str:
    return f"boards/{board_id}"


def task_name(board_id: str, task_id: str) -> str:
    return f"boards/{board_id}/tasks/{task_id}"


def agent_name(board_id: str, agent_id: str) -> str:
    return f"boards/{board_id}/agents/{agent_id}"


def chief_name(board_id: str, chief_id: str) -> str:
    return f"boards/{board_id}/chiefs/{chief_id}"


def data_name(board_id: str, key: str) -> str:
    return f"boards/{board_id}/data/{key}"


@dataclass(frozen=True, slots=True)
class ChildName:
    """A parsed `boards/{board}/{collection}/{id}` name."""

    board_id: str
    child_id: str


class InvalidName(ValueError):
    """A resource name that does not parse; the message says what was expected."""


def parse_board_name(name: str) -> str:
    parts = name.split("/")
    if len(parts) != 2 or parts[0] != "boards":
        raise InvalidName(f"expected 'boards/{{board}}', got {_shown(name)}")
    problem = check_board_id(parts[1])
    if problem:
        raise InvalidName(problem)
    return parts[1]


_CHILD_CHECKS = {
    "tasks": check_task_id,
    "agents": check_agent_id,
    # Chief ids follow the rules of agent ids.
    "chiefs": check_agent_id,
    "data": check_data_key,
}


def parse_child_name(name: str, collection: str) -> ChildName:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "boards" or parts[2] != collection:
        raise InvalidName(f"expected 'boards/{{board}}/{collection}/{{id}}', got {_shown(name)}")
    problem = check_board_id(parts[1]) or _CHILD_CHECKS[collection](parts[3])
    if problem:
        raise InvalidName(problem)
    return ChildName(parts[1], parts[3])


def _shown(value: str) -> str:
    if not value:
        return "an empty string"
    return repr(value if len(value) <= 80 else value[:77] + "...")
