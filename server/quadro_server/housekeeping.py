"""Background housekeeping of a running server: forgetting expired idempotency records."""

from __future__ import annotations

import asyncio
import logging

from quadro import limits
from quadro_server.core.clock import now_us
from quadro_server.core.commands import ExpireRequests
from quadro_server.core.errors import QuadroError
from quadro_server.core.results import ExpiredResult
from quadro_server.storage.base import Store

log = logging.getLogger(__name__)


async def expire_requests_once(
    store: Store, retention_s: float = limits.REQUEST_ID_RETENTION_SECONDS
) -> int:
    """Forget the idempotency records older than the retention; return how many."""
    applied = await store.execute(ExpireRequests(before=now_us() - int(retention_s * 1e6)))
    assert isinstance(applied.result, ExpiredResult)
    return applied.result.removed


async def run_housekeeping(store: Store, interval_s: float = 600.0) -> None:
    """Every `interval_s`, expire old idempotency records. Runs until cancelled; a failed
    round is logged and retried at the next interval."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            removed = await expire_requests_once(store)
            if removed:
                log.info("forgot %d expired request id(s)", removed)
        except QuadroError as exc:
            log.warning("housekeeping failed: %s", exc)
