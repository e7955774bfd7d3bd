"""PostgreSQL for the tests: the server given by QUADRO_TEST_POSTGRES (default: the local
one, trust auth), one database per test session, one schema per store under test."""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import psycopg

ADMIN_URL = os.environ.get("QUADRO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def base_url(database: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + database


def create_database() -> str:
    name = "quadro_tests_" + uuid.uuid4().hex[:10]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def schema_url(database: str, schema: str) -> str:
    """A URL whose connections work in `schema` (created if missing)."""
    with psycopg.connect(base_url(database), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    return base_url(database) + "?options=" + quote(f"-csearch_path={schema}")


def new_schema_url(database: str) -> str:
    return schema_url(database, "s_" + uuid.uuid4().hex[:12])
