"""Generated task ids: short and readable (5 base36 characters), because people and
language models type them back. Collisions are checked by the engine against the board."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
DEFAULT_LENGTH = 5


def new_task_id(length: int = DEFAULT_LENGTH) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
