"""The embedded SQLite store (the default)."""

from quadro_server.storage.sqlite.store import Durability, SqliteStore

__all__ = ["Durability", "SqliteStore"]
