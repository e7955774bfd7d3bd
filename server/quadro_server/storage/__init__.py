"""Storage backends behind one async interface (`base.Store`), chosen by a store URL:

- a file path, or `sqlite:///path/to/file.db`: the embedded SQLite store;
- `postgresql://user@host:port/database` (or `postgres://`): the PostgreSQL store.
"""

from __future__ import annotations

from quadro_server.storage.base import Store
from quadro_server.storage.sqlite import Durability

# The most commands one group commit applies, unless configured.
MAX_BATCH = 256
# Batches a PostgreSQL store has in flight at once (see storage/batching.py).
PIPELINE_DEPTH = 2
# The fewest commands a PostgreSQL batch needs to be sent ahead of one in flight; a
# smaller batch waits for that one to commit (see storage/batching.py). Sending every
# call as soon as it comes made a busy server commit about 60 commands at a time, at a
# fixed cost per commit (statements, stream messages) of a millisecond of CPU or more.
AHEAD_MIN = 32


def open_store(
    url: str,
    *,
    durability: Durability = Durability.FULL,
    max_batch: int = MAX_BATCH,
    pipeline_depth: int = PIPELINE_DEPTH,
    ahead_min: int = AHEAD_MIN,
) -> Store:
    """The store a URL names (not started yet). `max_batch`: the most commands one
    commit applies (1 commits each call's commands on their own). `pipeline_depth`:
    batches in flight at once on PostgreSQL (1: each is sent once the last has
    committed), and `ahead_min` the fewest commands a batch needs to go ahead of one in
    flight; SQLite commits one at a time."""
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    if pipeline_depth < 1:
        raise ValueError("pipeline_depth must be at least 1")
    if ahead_min < 1:
        raise ValueError("ahead_min must be at least 1")
    if url.startswith(("postgresql://", "postgres://")):
        from quadro_server.storage.postgres import PostgresStore

        return PostgresStore(
            url, max_batch=max_batch, pipeline_depth=pipeline_depth, ahead_min=ahead_min
        )
    from quadro_server.storage.sqlite import SqliteStore

    return SqliteStore(url.removeprefix("sqlite://"), durability=durability, max_batch=max_batch)


def describe(url: str) -> str:
    """The store's URL for logs, without a password."""
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.split("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return url
