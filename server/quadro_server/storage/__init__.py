"""Storage backends behind one async interface (`base.Store`), chosen by a store URL:

- a file path, or `sqlite:///path/to/file.db`: the embedded SQLite store;
- `postgresql://user@host:port/database` (or `postgres://`): the PostgreSQL store.
"""

from __future__ import annotations

from quadro_server.storage.base import Store
from quadro_server.storage.sqlite import Durability


def open_store(url: str, *, durability: Durability = Durability.FULL) -> Store:
    """The store a URL names (not started yet)."""
    if url.startswith(("postgresql://", "postgres://")):
        from quadro_server.storage.postgres import PostgresStore

        return PostgresStore(url)
    from quadro_server.storage.sqlite import SqliteStore

    return SqliteStore(url.removeprefix("sqlite://"), durability=durability)


def describe(url: str) -> str:
    """The store's URL for logs, without a password."""
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.split("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return url
