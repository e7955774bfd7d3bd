"""Versioned schema migrations: numbered SQL files (`0001_initial.sql`, ...) shipped inside
each backend's `migrations` package and applied in order, each in its own transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_FILE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load(package: str) -> list[Migration]:
    """The migrations of a backend, in version order; versions must be 1, 2, 3, ..."""
    found: list[Migration] = []
    for entry in resources.files(package).iterdir():
        match = _FILE.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"{package}: migration {expected:04d} is missing")
    return found


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer Quadro than this one."""
