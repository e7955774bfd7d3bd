"""Globs over task types: `*` (any run), `?` (one character), `[abc]` and `[a-z]` classes.

The grammar is deliberately small: it means the same thing in Python, in SQLite's GLOB
and in a PostgreSQL regular expression, so filters can run inside each store.
"""

from __future__ import annotations

import functools
import re

from quadro import limits

_LITERAL = re.compile(r"[A-Za-z0-9_.:/-]")
GLOB_CHARS = frozenset("*?[")


def is_glob(pattern: str) -> bool:
    return any(ch in GLOB_CHARS for ch in pattern)


def check_glob(pattern: str) -> str | None:
    """What is wrong with a task-type pattern, or None if it is a valid glob or name."""
    if not pattern:
        return "pattern is required"
    if len(pattern) > limits.GLOB_MAX:
        return f"pattern is {len(pattern)} characters; the limit is {limits.GLOB_MAX}"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch in "*?":
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                return f"pattern {pattern!r} has an unclosed '[' at position {i}"
            body = pattern[i + 1 : end]
            problem = _check_class(body)
            if problem:
                return f"pattern {pattern!r}: {problem}"
            i = end + 1
        elif ch == "]":
            return f"pattern {pattern!r} has an unmatched ']' at position {i}"
        elif _LITERAL.fullmatch(ch):
            i += 1
        else:
            return f"pattern {pattern!r} contains {ch!r}, which a task type cannot contain"
    return None


def _check_class(body: str) -> str | None:
    if not body:
        return "empty character class '[]'"
    if body[0] in "!^":
        return "negated character classes are not supported"
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = body[i], body[i + 2]
            if not (_is_class_char(low) and _is_class_char(high)):
                return f"character range {low}-{high} is invalid"
            if low > high:
                return f"character range {low}-{high} is reversed"
            i += 3
        elif _is_class_char(body[i]):
            i += 1
        else:
            return f"character class contains {body[i]!r}"
    return None


def _is_class_char(ch: str) -> bool:
    return ch != "-" and _LITERAL.fullmatch(ch) is not None


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(to_regex(pattern))


def to_regex(pattern: str) -> str:
    """An anchored regular expression equivalent to a valid glob."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1 : end] + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return "".join(out)


def matches(pattern: str, value: str) -> bool:
    if not is_glob(pattern):
        return pattern == value
    return _compiled(pattern).match(value) is not None


def matches_any(patterns: tuple[str, ...] | list[str], value: str) -> bool:
    return any(matches(p, value) for p in patterns)
