"""Resource names: `boards/{board}`, `boards/{board}/tasks/{task}`, ...

Functions that take a board accept its id (`claims`) or its name (`boards/claims`).
"""

from __future__ import annotations


def board(board: str) -> str:
    """`boards/{board}` from a board id or name."""
    return board if board.startswith("boards/") else f"boards/{board}"


def board_id(name: str) -> str:
    """The id in `boards/{board}` (or any name below it); ids pass through unchanged."""
    parts = name.split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == "boards" else name


def task(board_: str, task_id: str) -> str:
    return f"{board(board_)}/tasks/{task_id}"


def agent(board_: str, agent_id: str) -> str:
    return f"{board(board_)}/agents/{agent_id}"


def chief(board_: str, chief_id: str) -> str:
    return f"{board(board_)}/chiefs/{chief_id}"


def data(board_: str, key: str) -> str:
    return f"{board(board_)}/data/{key}"


def last_segment(name: str) -> str:
    """The id at the end of a resource name: `abc` from `boards/b/tasks/abc`."""
    return name.rsplit("/", 1)[-1]
