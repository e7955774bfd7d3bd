"""The embedded store: one SQLite file in WAL mode.

Writes: one connection writes, driven from the event loop. Calls queue their commands;
the writer takes everything queued (up to `max_batch`), applies it in one transaction,
and answers every caller once the commit is durable. The durable COMMIT (an fsync) is
handed to a thread so that the loop keeps serving meanwhile; the commands that arrive
during it form the next batch (group commit, with no waiting window added). Running the
engine on the loop itself, rather than in a writer thread, spares every statement a
round of contention for the interpreter lock. Sequences are gapless and in commit order
because there is only one writer.

Reads: a small pool of reader threads with their own connections; WAL lets them read a
consistent snapshot while the writer works.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from quadro import reasons
from quadro_server.core import ids
from quadro_server.core.clock import now_us
from quadro_server.core.commands import Command
from quadro_server.core.engine import Engine
from quadro_server.core.errors import Internal, QuadroError, Unavailable
from quadro_server.core.records import (
    AgentRecord,
    BoardRecord,
    DataRecord,
    EventRecord,
    LeaseRecord,
    TaskRecord,
    evolve,
)
from quadro_server.core.results import StoredRequest
from quadro_server.core.transaction import Applied
from quadro_server.storage import migrations, rows
from quadro_server.storage.base import EventPage, EventQuery, TaskQuery
from quadro_server.storage.batching import BatchingStore, pause_now_and_then

log = logging.getLogger(__name__)

T = TypeVar("T")


class Durability(enum.Enum):
    """How much a commit survives.

    FULL (the default): `synchronous=FULL`; an acknowledged write survives a process
    crash and a power loss. FAST: `synchronous=NORMAL`; survives a process crash, but a
    power loss or OS crash can lose the last transactions acknowledged before it.
    """

    FULL = "full"
    FAST = "fast"


class _Unexpected(Exception):
    """A command failed with something other than a rejection: retry the batch guarded."""


class SqliteStore(BatchingStore):
    def __init__(
        self,
        path: str,
        *,
        durability: Durability = Durability.FULL,
        max_batch: int = 256,
        readers: int = 4,
        engine: Engine | None = None,
    ) -> None:
        super().__init__(max_batch)
        self.path = path
        self.durability = durability
        self._engine = engine or Engine()
        self._conn: sqlite3.Connection | None = None
        # The durable COMMIT (an fsync) runs here, so that the event loop keeps serving
        # while the disk works; every other statement of a batch runs on the loop.
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="quadro-sqlite-commit")
        self._reader_pool = ThreadPoolExecutor(readers, thread_name_prefix="quadro-sqlite-read")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._specs: dict[str, BoardRecord] = {}

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._conn = await self._loop.run_in_executor(self._committer, self._open_writer)

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            synchronous = "FULL" if self.durability is Durability.FULL else "NORMAL"
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        if self._closed:
            return
        await self._finish_writes()
        if self._conn is not None:
            self._conn.close()
        self._committer.shutdown(wait=True)
        self._reader_pool.shutdown(wait=True)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    # --- writes ---------------------------------------------------------------------

    async def _commit_batch(self, commands: list[Command], now: int) -> list[Applied | QuadroError]:
        assert self._conn is not None, "start() the store first"
        try:
            try:
                return await self._transaction(self._conn, commands, now, guarded=False)
            except _Unexpected:
                # A command failed half-way (a bug, or the database refused a statement):
                # redo the batch with a savepoint around each command, so that only that
                # command fails and the others commit.
                return await self._transaction(self._conn, commands, now, guarded=True)
        except sqlite3.Error as exc:
            log.error("commit of %d command(s) failed: %s", len(commands), exc)
            raise Unavailable(
                f"the store could not commit: {exc}", reason=reasons.STORE_UNAVAILABLE
            ) from exc

    async def _durable_commit(self, conn: sqlite3.Connection) -> None:
        # In the committer thread even without an fsync (durability fast): the loop then
        # takes in the calls that arrived meanwhile, and they make the next batch.
        assert self._loop is not None
        await self._loop.run_in_executor(self._committer, conn.execute, "COMMIT")

    async def _transaction(
        self, conn: sqlite3.Connection, commands: list[Command], now: int, *, guarded: bool
    ) -> list[Applied | QuadroError]:
        """Apply the commands in one transaction. Unguarded, a rejected command needs no
        undo — the engine checks everything before its first write — so no savepoints
        are taken; anything else unexpected aborts the attempt with _Unexpected."""
        outcomes: list[Applied | QuadroError] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            tx = _Transaction(conn, self._specs, [c.request_key for c in commands if c.request_id])
            for command in commands:
                if guarded:
                    outcomes.append(self._apply_guarded(conn, tx, command, now))
                else:
                    try:
                        outcomes.append(self._engine.apply(tx, command, now))
                    except QuadroError as exc:
                        outcomes.append(exc)
                    except Exception as exc:
                        raise _Unexpected from exc
                await pause_now_and_then(len(outcomes))
            tx.flush()
            await self._durable_commit(conn)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._specs.update(tx.new_specs)
        return outcomes

    def _apply_guarded(
        self, conn: sqlite3.Connection, tx: _Transaction, command: Command, now: int
    ) -> Applied | QuadroError:
        conn.execute("SAVEPOINT command")
        mark = tx.mark()
        try:
            applied = self._engine.apply(tx, command, now)
        except QuadroError as exc:
            conn.execute("ROLLBACK TO command")
            conn.execute("RELEASE command")
            tx.rewind(mark)
            return exc
        except sqlite3.Error:
            raise  # the transaction itself is in trouble: fail the whole batch
        except Exception as exc:
            log.exception("command %s failed unexpectedly", type(command).__name__)
            conn.execute("ROLLBACK TO command")
            conn.execute("RELEASE command")
            tx.rewind(mark)
            return Internal(f"internal error: {type(exc).__name__}", reason=reasons.INTERNAL)
        conn.execute("RELEASE command")
        return applied

    # --- reads ----------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    def _read_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A lookup by key, on the event loop itself: it takes tens of microseconds, less
        than handing it to a reader thread and back (measured as 15% of the server's time
        under load). WAL gives it the last committed state, never blocking on the writer."""
        if self._closed:
            raise Unavailable("the store is closed", reason=reasons.SHUTTING_DOWN)
        try:
            return fn(self._reader())
        except sqlite3.Error as exc:
            raise Unavailable(
                f"the store could not be read: {exc}", reason=reasons.STORE_UNAVAILABLE
            ) from exc

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise Unavailable("the store is closed", reason=reasons.SHUTTING_DOWN)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._reader_pool, lambda: fn(self._reader()))
        except sqlite3.Error as exc:
            raise Unavailable(
                f"the store could not be read: {exc}", reason=reasons.STORE_UNAVAILABLE
            ) from exc

    async def get_board(self, board_id: str) -> BoardRecord | None:
        return self._read_now(lambda c: _get_board(c, self._specs, board_id))

    async def list_boards(self, after: tuple[int, str] | None, limit: int) -> list[BoardRecord]:
        def run(conn: sqlite3.Connection) -> list[BoardRecord]:
            created, board_id = after or (-1, "")
            cursor = conn.execute(
                "SELECT * FROM boards WHERE (create_time, board_id) > (?, ?) "
                "ORDER BY create_time, board_id LIMIT ?",
                (created, board_id, limit),
            )
            return [rows.board_from_row(r) for r in cursor]

        return await self._read(run)

    async def get_task(self, board_id: str, task_id: str) -> TaskRecord | None:
        return self._read_now(lambda c: _get_task(c, board_id, task_id))

    async def get_tasks(self, board_id: str, task_ids: Sequence[str]) -> dict[str, TaskRecord]:
        def run(conn: sqlite3.Connection) -> dict[str, TaskRecord]:
            wanted = list(dict.fromkeys(task_ids))
            marks = ", ".join("?" * len(wanted))
            cursor = conn.execute(
                f"SELECT * FROM tasks WHERE board_id = ? AND task_id IN ({marks})",
                [board_id, *wanted],
            )
            return {t.task_id: t for t in map(rows.task_from_row, cursor)}

        return self._read_now(run) if task_ids else {}

    async def list_children(self, parent_tasks: Sequence[str], limit: int) -> list[TaskRecord]:
        def run(conn: sqlite3.Connection) -> list[TaskRecord]:
            marks = ", ".join("?" * len(parent_tasks))
            cursor = conn.execute(
                f"SELECT * FROM tasks WHERE parent_task <> '' AND parent_task IN ({marks}) "
                "ORDER BY create_time, board_id, task_id LIMIT ?",
                [*parent_tasks, limit],
            )
            return [rows.task_from_row(r) for r in cursor]

        return await self._read(run) if parent_tasks else []

    async def list_tasks(self, query: TaskQuery) -> list[TaskRecord]:
        def run(conn: sqlite3.Connection) -> list[TaskRecord]:
            return [rows.task_from_row(r) for r in conn.execute(*task_listing(query))]

        return await self._read(run)

    async def list_events(self, query: EventQuery) -> EventPage:
        def run(conn: sqlite3.Connection) -> EventPage:
            conn.execute("BEGIN")
            try:
                found = conn.execute(
                    "SELECT head_sequence FROM boards WHERE board_id = ?", (query.board_id,)
                ).fetchone()
                head = found[0] if found else 0
                sql = ["SELECT * FROM events WHERE board_id = ? AND sequence > ? AND sequence <= ?"]
                args: list[Any] = [query.board_id, query.after_sequence, head]
                f = query.filter
                for column, value in (("task_id", f.task_id), ("agent", f.agent)):
                    if value:
                        sql.append(f"AND {column} = ?")
                        args.append(value)
                _any_of(sql, args, "type", f.types)
                _any_of(sql, args, "to_status", f.statuses)
                _globs(sql, args, "task_type", f.task_types)
                sql.append("ORDER BY sequence LIMIT ?")
                args.append(query.limit)
                events = [rows.event_from_row(r) for r in conn.execute(" ".join(sql), args)]
            finally:
                conn.execute("COMMIT")
            return EventPage(events, head)

        return await self._read(run)

    async def get_agent(self, board_id: str, agent_id: str) -> AgentRecord | None:
        return self._read_now(lambda c: _get_agent(c, board_id, agent_id))

    async def list_agents(
        self, board_id: str, after: tuple[int, str] | None, limit: int
    ) -> list[AgentRecord]:
        def run(conn: sqlite3.Connection) -> list[AgentRecord]:
            registered, agent_id = after or (-1, "")
            cursor = conn.execute(
                "SELECT * FROM agents WHERE board_id = ? AND (register_time, agent_id) > (?, ?) "
                "ORDER BY register_time, agent_id LIMIT ?",
                (board_id, registered, agent_id, limit),
            )
            return [rows.agent_from_row(r) for r in cursor]

        return await self._read(run)

    async def get_data(self, board_id: str, key: str) -> DataRecord | None:
        return self._read_now(lambda c: _get_data(c, board_id, key))

    async def list_data(
        self, board_id: str, prefix: str, after_key: str, limit: int, *, internal: bool = False
    ) -> list[DataRecord]:
        def run(conn: sqlite3.Connection) -> list[DataRecord]:
            # Keys never contain GLOB metacharacters, so the prefix can be globbed as is;
            # internal keys ('_...') are excluded unless asked for.
            hidden = "" if internal else "AND key NOT GLOB '_*' "
            cursor = conn.execute(
                "SELECT * FROM data WHERE board_id = ? AND key > ? AND key GLOB ? "
                f"{hidden}ORDER BY key LIMIT ?",
                (board_id, after_key, prefix + "*", limit),
            )
            return [rows.data_from_row(r) for r in cursor]

        return await self._read(run)


# --- the write transaction ------------------------------------------------------------


class _Transaction:
    """The engine's view of the writer connection inside an open transaction.

    It keeps in memory what a batch would otherwise read or write again and again: the
    boards' head sequences (written back once per board by `flush`, before COMMIT), the
    idempotency records of the batch's request ids (read in one query), and the specs
    of boards created in the batch. `mark` and `rewind` save and restore that memory
    around a savepoint.
    """

    def __init__(
        self, conn: sqlite3.Connection, specs: dict[str, BoardRecord], request_ids: list[str]
    ) -> None:
        self._conn = conn
        # Specs of committed boards, shared across transactions (boards never change).
        self._specs = specs
        self.new_specs: dict[str, BoardRecord] = {}
        # Per board: (head sequence, time of that event).
        self._heads: dict[str, tuple[int, int]] = {}
        self._requests = _read_requests(conn, request_ids)

    def mark(self) -> tuple[dict[str, Any], ...]:
        return dict(self.new_specs), dict(self._heads), dict(self._requests)

    def rewind(self, mark: tuple[dict[str, Any], ...]) -> None:
        self.new_specs, self._heads, self._requests = (dict(m) for m in mark)

    def flush(self) -> None:
        """Write the heads reached in this transaction."""
        for board_id, (head, at) in self._heads.items():
            self._conn.execute(
                "UPDATE boards SET head_sequence = ?, head_time = ? "
                "WHERE board_id = ? AND head_sequence < ?",
                (head, at, board_id, head),
            )

    def get_board(self, board_id: str) -> BoardRecord | None:
        """The board's spec. Its head_sequence is not kept current inside a transaction:
        sequences come from next_sequence."""
        spec = self.new_specs.get(board_id) or self._specs.get(board_id)
        if spec is None:
            row = self._conn.execute(
                "SELECT * FROM boards WHERE board_id = ?", (board_id,)
            ).fetchone()
            if row is None:
                return None
            # Not created in this transaction (that would be in new_specs): committed.
            spec = self._specs[board_id] = rows.board_from_row(row)
        return spec

    def get_task(self, board_id: str, task_id: str) -> TaskRecord | None:
        return _get_task(self._conn, board_id, task_id)

    def get_agent(self, board_id: str, agent_id: str) -> AgentRecord | None:
        return _get_agent(self._conn, board_id, agent_id)

    def get_data(self, board_id: str, key: str) -> DataRecord | None:
        return _get_data(self._conn, board_id, key)

    def get_request(self, request_id: str) -> StoredRequest | None:
        if request_id not in self._requests:
            self._requests.update(_read_requests(self._conn, [request_id]))
        stored: StoredRequest | None = self._requests[request_id]
        return stored

    def insert_board(self, board: BoardRecord) -> None:
        _insert(self._conn, "boards", rows.board_to_row(board))
        self.new_specs[board.board_id] = board

    def insert_task(self, task: TaskRecord) -> None:
        _insert(self._conn, "tasks", rows.task_to_row(task))

    def update_task(self, task: TaskRecord, previous: TaskRecord) -> None:
        _update(self._conn, "tasks", ("board_id", "task_id"), *rows.task_update(task, previous))

    def next_event(self, board_id: str, now: int) -> tuple[int, int]:
        head = self._heads.get(board_id)
        if head is None:
            row = self._conn.execute(
                "SELECT head_sequence, head_time FROM boards WHERE board_id = ?", (board_id,)
            ).fetchone()
            head = (int(row[0]), int(row[1]))
        slot = (head[0] + 1, max(now, head[1]))
        self._heads[board_id] = slot
        return slot

    def new_task_id(self, length: int) -> str:
        return ids.new_task_id(length)

    def get_lease(self, name: str) -> LeaseRecord | None:
        row = self._conn.execute(
            "SELECT name, holder, epoch, expires_at FROM leases WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else LeaseRecord(row[0], row[1], row[2], row[3])

    def put_lease(self, lease: LeaseRecord) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO leases (name, holder, epoch, expires_at) VALUES (?, ?, ?, ?)",
            (lease.name, lease.holder, lease.epoch, lease.expires_at),
        )

    def append_event(self, event: EventRecord) -> None:
        _insert(self._conn, "events", rows.event_to_row(event))

    def put_agent(self, agent: AgentRecord, previous: AgentRecord | None) -> None:
        if previous is None:
            _insert(self._conn, "agents", rows.agent_to_row(agent))
        else:
            _update(
                self._conn, "agents", ("board_id", "agent_id"), *rows.agent_update(agent, previous)
            )

    def put_data(self, entry: DataRecord) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO data (board_id, key, value, update_time) VALUES (?, ?, ?, ?)",
            (entry.board_id, entry.key, entry.value_json, entry.update_time),
        )

    def delete_data(self, board_id: str, key: str) -> None:
        self._conn.execute("DELETE FROM data WHERE board_id = ? AND key = ?", (board_id, key))

    def delete_requests_before(self, before: int, limit: int) -> int:
        cursor = self._conn.execute(
            "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE create_time < ? "
            "ORDER BY create_time LIMIT ?)",
            (before, limit),
        )
        return cursor.rowcount

    def put_request(self, request: StoredRequest) -> None:
        self._conn.execute(
            "INSERT INTO requests (request_id, fingerprint, result, create_time) "
            "VALUES (?, ?, ?, ?)",
            (request.request_id, request.fingerprint, request.result_json, request.create_time),
        )
        self._requests[request.request_id] = request


def _read_requests(conn: sqlite3.Connection, request_ids: list[str]) -> dict[str, Any]:
    """The stored records of these request ids (None for the unknown ones), in one query."""
    found: dict[str, Any] = dict.fromkeys(request_ids)
    if request_ids:
        marks = ", ".join("?" * len(request_ids))
        for row in conn.execute(
            f"SELECT request_id, fingerprint, result, create_time FROM requests "
            f"WHERE request_id IN ({marks})",
            request_ids,
        ):
            found[row[0]] = StoredRequest(row[0], row[1], row[2], row[3])
    return found


# --- shared SQL -----------------------------------------------------------------------


_update_sql: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str] = {}


def _update(
    conn: sqlite3.Connection,
    table: str,
    keys: tuple[str, ...],
    row: Mapping[str, Any],
    changed: tuple[str, ...],
) -> None:
    """UPDATE only the changed columns: SQLite then maintains only the indexes that
    cover them, where INSERT OR REPLACE would rewrite the row in every index."""
    if not changed:
        return
    key = (table, keys, changed)
    sql = _update_sql.get(key)
    if sql is None:
        assignments = ", ".join(f"{c} = ?" for c in changed)
        where = " AND ".join(f"{k} = ?" for k in keys)
        sql = _update_sql[key] = f"UPDATE {table} SET {assignments} WHERE {where}"
    conn.execute(sql, (*(row[c] for c in changed), *(row[k] for k in keys)))


_insert_sql: dict[tuple[str, tuple[str, ...], bool], str] = {}


def _insert(
    conn: sqlite3.Connection, table: str, row: Mapping[str, Any], *, replace: bool = False
) -> None:
    columns = tuple(row)
    key = (table, columns, replace)
    sql = _insert_sql.get(key)
    if sql is None:
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        sql = _insert_sql[key] = (
            f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        )
    conn.execute(sql, tuple(row.values()))


def _get_board(
    conn: sqlite3.Connection, specs: dict[str, BoardRecord], board_id: str
) -> BoardRecord | None:
    row = conn.execute("SELECT * FROM boards WHERE board_id = ?", (board_id,)).fetchone()
    if row is None:
        return None
    # A board's spec never changes: parse it once and refresh only the head.
    spec = specs.get(board_id)
    if spec is None:
        spec = specs[board_id] = rows.board_from_row(row)
    return evolve(spec, head_sequence=row["head_sequence"])


def _get_task(conn: sqlite3.Connection, board_id: str, task_id: str) -> TaskRecord | None:
    row = conn.execute(
        "SELECT * FROM tasks WHERE board_id = ? AND task_id = ?", (board_id, task_id)
    ).fetchone()
    return None if row is None else rows.task_from_row(row)


def _get_agent(conn: sqlite3.Connection, board_id: str, agent_id: str) -> AgentRecord | None:
    row = conn.execute(
        "SELECT * FROM agents WHERE board_id = ? AND agent_id = ?", (board_id, agent_id)
    ).fetchone()
    return None if row is None else rows.agent_from_row(row)


def _get_data(conn: sqlite3.Connection, board_id: str, key: str) -> DataRecord | None:
    row = conn.execute(
        "SELECT * FROM data WHERE board_id = ? AND key = ?", (board_id, key)
    ).fetchone()
    return None if row is None else rows.data_from_row(row)


def task_listing(query: TaskQuery) -> tuple[str, list[Any]]:
    """The statement that lists tasks for `query`, and its arguments."""
    return query.statement("?", _any_of, _globs)


def _any_of(sql: list[str], args: list[Any], column: str, values: tuple[str, ...]) -> None:
    if values:
        sql.append(f"AND {column} IN ({', '.join('?' * len(values))})")
        args.extend(values)


def _globs(sql: list[str], args: list[Any], column: str, patterns: tuple[str, ...]) -> None:
    # Our glob grammar is a subset of SQLite's GLOB, with the same meaning.
    if patterns:
        sql.append("AND (" + " OR ".join(f"{column} GLOB ?" for _ in patterns) + ")")
        args.extend(patterns)


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_time INTEGER NOT NULL)"
    )
    applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
    known = migrations.load("quadro_server.storage.sqlite.migrations")
    newest = max(applied, default=0)
    if newest > len(known):
        raise migrations.SchemaTooNew(
            f"the database is at schema version {newest}; this Quadro knows up to "
            f"{len(known)}. Upgrade Quadro."
        )
    for migration in known:
        if migration.version in applied:
            continue
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_time) VALUES (?, ?, ?)",
                (migration.version, migration.name, now_us()),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        log.info("applied migration %04d_%s", migration.version, migration.name)


def _statements(script: str) -> list[str]:
    """Split a migration into complete statements (trigger bodies stay whole)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--") and not current.strip():
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
