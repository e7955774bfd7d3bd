"""Background housekeeping of a running server: forgetting expired idempotency records."""

from __future__ import annotations

import asyncio
import logging

from quadro import limits
from quadro_server.core.clock import now_us
from quadro_server.core.commands import AcquireLease, ExpireRequests, LeaseKey
from quadro_server.core.errors import QuadroError
from quadro_server.core.results import ExpiredResult, LeaseResult
from quadro_server.storage.base import Store

log = logging.getLogger(__name__)


LEASE = "housekeeping"
# Idempotency records forgotten per command.
EXPIRY_ROUND = 10_000


async def lead(store: Store, holder: str, ttl_s: float) -> LeaseKey | None:
    """Take or renew the housekeeping lease; the key to act under, or None when another
    server holds it. Several servers on one database elect one this way."""
    applied = await store.execute(AcquireLease(name=LEASE, holder=holder, ttl_us=int(ttl_s * 1e6)))
    assert isinstance(applied.result, LeaseResult)
    lease = applied.result.lease
    return None if lease is None else LeaseKey(lease.name, lease.holder, lease.epoch)


async def expire_requests_once(
    store: Store,
    lease: LeaseKey | None = None,
    retention_s: float = limits.REQUEST_ID_RETENTION_SECONDS,
) -> int:
    """Forget the idempotency records older than the retention; return how many. Under
    a lease, nothing happens unless the lease is still held (fencing)."""
    command = ExpireRequests(
        before=now_us() - int(retention_s * 1e6), limit=EXPIRY_ROUND, lease=lease
    )
    applied = await store.execute(command)
    assert isinstance(applied.result, ExpiredResult)
    return applied.result.removed


async def run_housekeeping(store: Store, holder: str, interval_s: float = 600.0) -> None:
    """Every `interval_s`, if this server leads, expire old idempotency records. Runs
    until cancelled; a failed round is logged and retried at the next interval."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            lease = await lead(store, holder, ttl_s=interval_s * 3)
            if lease is None:
                continue
            removed = 0
            while True:  # in rounds, letting other writes through between them
                round_removed = await expire_requests_once(store, lease)
                removed += round_removed
                if round_removed < EXPIRY_ROUND:
                    break
            if removed:
                log.info("forgot %d expired request id(s)", removed)
        except QuadroError as exc:
            log.warning("housekeeping failed: %s", exc)
