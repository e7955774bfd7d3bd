"""The PostgreSQL store (psycopg 3, psycopg_pool): several server replicas, one database."""

from quadro_server.storage.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
