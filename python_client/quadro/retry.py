"""How the clients retry calls that fail with UNAVAILABLE."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of calls that failed with UNAVAILABLE (server restarting, connection lost),
    with exponential backoff and jitter.

    Safe for mutations too: every mutation carries a request id, fixed before the first
    attempt, so the server applies it at most once and answers a retry with the first
    result.
    """

    max_attempts: int = 8
    initial_backoff: float = 0.1
    max_backoff: float = 3.0
    multiplier: float = 2.0


DEFAULT_TARGET = "localhost:50051"
