"""Limits on concurrent streams, per server and per principal."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from quadro import reasons
from quadro_server.core.errors import ResourceExhausted


class StreamLimits:
    def __init__(self, per_server: int, per_principal: int) -> None:
        self.per_server = per_server
        self.per_principal = per_principal
        self._open = 0
        self._by_principal: dict[str, int] = {}

    @contextlib.contextmanager
    def hold(self, principal: str) -> Iterator[None]:
        """Count one open stream for the duration of the block, or refuse it with
        RESOURCE_EXHAUSTED when a limit is reached."""
        if self._open >= self.per_server:
            raise ResourceExhausted(
                f"this server already serves {self._open} streams, its limit; retry later "
                "or use another replica",
                reason=reasons.OVERLOADED,
                metadata={"limit": str(self.per_server)},
            )
        mine = self._by_principal.get(principal, 0)
        if mine >= self.per_principal:
            raise ResourceExhausted(
                f"{principal} already holds {mine} streams on this server, the limit per "
                "caller; close some first",
                reason=reasons.TOO_MANY_STREAMS,
                metadata={"limit": str(self.per_principal)},
            )
        self._open += 1
        self._by_principal[principal] = mine + 1
        try:
            yield
        finally:
            self._open -= 1
            left = self._by_principal[principal] - 1
            if left:
                self._by_principal[principal] = left
            else:
                del self._by_principal[principal]

    @property
    def open(self) -> int:
        return self._open
