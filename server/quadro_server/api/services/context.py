"""What every servicer needs: the store, settings, and the caller's identity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

from quadro import limits, reasons
from quadro_server.api import convert
from quadro_server.api.gate import CALLER
from quadro_server.api.streams import StreamLimits
from quadro_server.core import names
from quadro_server.core.clock import now_us
from quadro_server.core.errors import NotFound
from quadro_server.core.records import BoardRecord
from quadro_server.core.transaction import Applied
from quadro_server.storage.base import Store
from quadro_server.streaming.hub import EventHub

R = TypeVar("R")


@dataclass
class ServiceContext:
    store: Store
    # An agent not seen for this long (and holding no task) is OFFLINE.
    agent_offline_after_us: int = 60_000_000
    clock: Callable[[], int] = field(default=now_us)
    # Recent events for live subscribers, fed by the store's commits.
    hub: EventHub = field(default_factory=lambda: EventHub(convert.event_entry))
    streams: StreamLimits = field(
        default_factory=lambda: StreamLimits(
            limits.STREAMS_PER_SERVER_DEFAULT, limits.STREAMS_PER_PRINCIPAL_DEFAULT
        )
    )

    def __post_init__(self) -> None:
        self.store.add_commit_listener(self.hub.publish)

    async def require_board(self, board_id: str) -> BoardRecord:
        """The board, or NOT_FOUND."""
        board = await self.store.get_board(board_id)
        if board is None:
            raise NotFound(names.board_name(board_id), reason=reasons.BOARD_NOT_FOUND)
        return board

    def principal(self, context: grpc.aio.ServicerContext[object, object]) -> str:
        """Who is calling, by name (`anonymous` when no authentication is configured)."""
        return CALLER.get().name


def result_of(applied: Applied, kind: type[R]) -> R:
    """The typed result of a command whose result type the caller knows."""
    result = applied.result
    if not isinstance(result, kind):  # pragma: no cover - a wiring bug, not a user error
        raise TypeError(f"expected {kind.__name__}, got {type(result).__name__}")
    return result
