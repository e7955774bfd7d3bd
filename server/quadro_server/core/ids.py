"""Generated task ids: short and readable (5 base36 characters), because people and
language models type them back. Collisions are checked by the engine against the board."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
DEFAULT_LENGTH = 5


def new_task_id(length: int = DEFAULT_LENGTH) -> str:
    """`length` random base36 characters, from one draw of the system's randomness."""
    value = secrets.randbits(6 * length)  # 36**n < 2**(6n): every id is reachable
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 36)
        chars.append(_ALPHABET[digit])
    return "".join(chars)
