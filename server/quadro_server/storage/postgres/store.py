"""The PostgreSQL store: the production store, shared by any number of server replicas.

Writes: each replica commits the calls it receives in batches, like the SQLite store
(one batch in flight per replica; the calls that arrive meanwhile form the next one).
A batch is one transaction that loads every row its commands name in a few bulk
queries, locking them (`SELECT ... FOR UPDATE`), runs the rules against them in memory
(storage/overlay.py), and writes what changed in a few bulk statements.

Sequences: appending an event locks its board's row, which holds the head sequence and
the time of the last event. The lock is held until COMMIT, so a board's sequences are
gapless and committed in order across replicas: a reader that has seen N sees N+1 next.
The cost is that batches writing to the same board serialise, across replicas too; a
batch holds the lock for the time of one transaction, whatever its size, which is why
batching matters most here. Rows are locked in one global order (boards, tasks, agents,
each sorted), and a transaction that loses a deadlock or a uniqueness race to another
replica is simply run again.

Fan-out: each commit NOTIFYs the boards it advanced; every replica LISTENs and reads the
new events from the table (storage/postgres/feed.py). A notification is only a hint:
the table is what subscribers read, and a periodic poll catches what a lost
notification would have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import weakref
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from quadro import reasons
from quadro_server.core import globs, ids, jsontext
from quadro_server.core.clock import now_us
from quadro_server.core.commands import Command, ExpireRequests
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
from quadro_server.core.results import ExpiredResult, StoredRequest
from quadro_server.core.transaction import Applied
from quadro_server.storage import AHEAD_MIN, PIPELINE_DEPTH, migrations, rows
from quadro_server.storage.base import NO_TASKS, EventPage, EventQuery, TaskQuery, TasksAfter
from quadro_server.storage.batching import (
    BatchingStore,
    SentAhead,
    SentAheadFailed,
    pause_now_and_then,
)
from quadro_server.storage.overlay import (
    Keys,
    Loaded,
    NeedRows,
    Overlay,
    holders_of,
    keys_of,
    needs_generated_id,
)
from quadro_server.storage.postgres.feed import EventFeed
from quadro_server.storage.postgres.known_rows import DEFAULT_BUDGET, KnownRows

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.AsyncConnection[DictRow]

# Losing a deadlock or a uniqueness race to another replica: run the batch again.
_RETRYABLE = (
    pg_errors.DeadlockDetected,
    pg_errors.SerializationFailure,
    pg_errors.UniqueViolation,
    pg_errors.LockNotAvailable,
)
_ATTEMPTS = 8
# The connection or the server failed: what happened to a transaction is unknown.
_LOST_CONNECTION = (psycopg.OperationalError, psycopg.InterfaceError, OSError)
# All replicas migrating at once take turns on this advisory lock.
_MIGRATION_LOCK = zlib.crc32(b"quadro.migrations")


class _Unexpected(Exception):
    """A command failed with something other than a rejection."""


class PostgresStore(BatchingStore):
    def __init__(
        self,
        url: str,
        *,
        max_batch: int = 256,
        pool_size: int = 8,
        poll_interval: float = 1.0,
        known_rows: int = DEFAULT_BUDGET,
        pipeline_depth: int = PIPELINE_DEPTH,
        ahead_min: int = AHEAD_MIN,
        engine: Engine | None = None,
    ) -> None:
        super().__init__(max_batch)
        self.pipeline_depth = pipeline_depth
        self.ahead_min = ahead_min
        self.url = url
        self._engine = engine or Engine()
        idle = _IdleCheck(seconds=1.0)
        self._pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url,
            connection_class=psycopg.AsyncConnection[DictRow],
            min_size=1,
            max_size=pool_size,
            open=False,
            # Statements are never prepared, so PostgreSQL plans each for its values: a
            # database starts empty and grows while the server runs, and a prepared
            # statement's generic plan, made while a table was empty, finds every index
            # alike; PostgreSQL may keep one that scans the whole table (a task looked up
            # by key through the status index) until the next ANALYZE. Boards of very
            # different sizes in one table want plans of their own too. Unlike
            # `plan_cache_mode = force_custom_plan`, this leaves PostgreSQL's own cached
            # plans alone: the foreign-key checks of every inserted row (a lookup of one
            # board by key) keep theirs instead of being planned row by row.
            kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": None},
            check=idle.check,
            reset=idle.reset,
            configure=_configure,
            name="quadro",
        )
        self._specs: dict[str, BoardRecord] = {}
        self._known = KnownRows(known_rows)
        self._feed = EventFeed(self, poll_interval)
        # Set once the last batch sent ahead is on its way to the database: the next
        # one waits for it, so that the database receives them in the order decided.
        self._last_sent: asyncio.Event | None = None

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await self._pool.open(wait=True, timeout=30)
        except psycopg.Error as exc:
            raise Unavailable(
                f"cannot connect to PostgreSQL: {exc}", reason=reasons.STORE_UNAVAILABLE
            ) from exc
        async with self._pool.connection() as conn:
            await _migrate(conn)
        await self._feed.start()

    async def close(self) -> None:
        if self._closed:
            return
        await self._finish_writes()
        await self._feed.stop()
        await self._pool.close()

    def deliver(self, events: Sequence[EventRecord]) -> None:
        """Hand committed events to the listeners: those of local commits, and through
        the feed those of other replicas; in commit order per board, each once."""
        self._publish(events)

    def _publish(self, events: Sequence[EventRecord], tasks: TasksAfter = NO_TASKS) -> None:
        super()._publish(self._feed.admit(events), tasks)

    # --- writes ---------------------------------------------------------------------

    async def _commit_batch(self, commands: list[Command], now: int) -> list[Applied | QuadroError]:
        try:
            return await self._commit_or_split(commands, now)
        finally:
            # No await from here to the batch's publication: no notification slips in.
            self._feed.settle()

    async def _commit_or_split(
        self, commands: list[Command], now: int
    ) -> list[Applied | QuadroError]:
        try:
            try:
                return await self._transaction(commands, now)
            except _Unexpected:
                # Only the failing command should fail: run them one by one.
                outcomes: list[Applied | QuadroError] = []
                for command in commands:
                    try:
                        (outcome,) = await self._transaction([command], now)
                    except _Unexpected as exc:
                        log.error("command %s failed: %r", type(command).__name__, exc.__cause__)
                        outcome = Internal("internal error", reason=reasons.INTERNAL)
                    outcomes.append(outcome)
                return outcomes
        except _LOST_CONNECTION as exc:
            log.warning("batch of %d command(s) failed: %s", len(commands), exc)
            raise _unavailable(exc) from exc

    async def _send_ahead(self, commands: list[Command], now: int) -> SentAhead | None:
        """Decide the batch on the rows this replica's batches leave (known_rows.py), the
        ones in flight included, and send it at once: one round trip, which overlaps
        with deciding the next batch. Its transaction starts by locking its boards and
        checking that each is as the batch was decided on, revision and head
        (`quadro_hold_boards`, migration 0009): if a batch before it did not commit, or
        another replica wrote one of its boards, the transaction fails before writing
        anything and the batch is committed again the usual way."""
        decided = await self._decide_ahead(commands, now)
        if decided is None:
            return None
        outcomes, overlay, held = decided
        held.written = written_boards(overlay)
        self._known.learn(held.left(), overlay)
        previous, sent = self._last_sent, asyncio.Event()
        self._last_sent = sent
        transmit = asyncio.ensure_future(self._transmit(overlay, held, previous, sent))
        heads = {board: overlay.head(board)[0] for board in overlay.moved_heads}

        def outcome() -> list[Applied | QuadroError]:
            # No await between this and the batch's publication: no notification slips in.
            self._feed.settle(heads)
            failure = asyncio.CancelledError() if transmit.cancelled() else transmit.exception()
            if failure is None:
                return outcomes
            self._known.forget(held.revisions)
            if isinstance(failure, _RETRYABLE):
                raise SentAheadFailed from failure
            if isinstance(failure, (*_LOST_CONNECTION, asyncio.CancelledError)):
                log.warning("batch of %d command(s) failed: %s", len(commands), failure)
                raise _unavailable(failure) from failure
            log.error("a batch sent ahead failed: %r", failure)
            raise SentAheadFailed from failure

        return SentAhead(transmit, outcome)

    async def _decide_ahead(
        self, commands: list[Command], now: int
    ) -> tuple[list[Applied | QuadroError], Overlay, _Held] | None:
        """The batch's outcomes and writes, decided on kept rows alone; None when it
        needs anything the replica did not keep (a board, task, agent or entry it never
        wrote or read, the holder of a task, a lease, an expiry), or when a command with
        a request id is refused (it may be a retry, whose record the usual way reads)."""
        if any(isinstance(c, ExpireRequests) for c in commands):
            return None
        candidates, keys, loaded, _ = _planned(commands, assume_new=True)
        if keys.holders or keys.leases or not keys.boards:
            return None
        held = _Held()
        for board in keys.boards:
            revision, head = self._known.revision(board), self._known.head(board)
            spec = self._specs.get(board)
            if revision is None or head is None or spec is None:
                return None
            held.revisions[board] = revision
            loaded.boards[board] = evolve(spec, head_sequence=head[0])
            loaded.heads[board] = head
        held.trusted.update(keys.boards)
        rest = self._known.take(keys, loaded, keys.boards)
        if rest.tasks or rest.agents or rest.data:
            return None
        overlay = Overlay(loaded, candidates)
        outcomes: list[Applied | QuadroError] = []
        for command in commands:
            overlay.begin()
            try:
                outcomes.append(self._engine.apply(overlay, command, now))
            except QuadroError as exc:
                if command.request_id:
                    return None
                outcomes.append(exc)
            except Exception:  # NeedRows, or a failure the usual way isolates
                return None
            await pause_now_and_then(len(outcomes))
        return outcomes, overlay, held

    async def _transmit(
        self, overlay: Overlay, held: _Held, previous: asyncio.Event | None, sent: asyncio.Event
    ) -> None:
        """A batch decided ahead, in one round trip: its boards held at the revisions it
        was decided on, its writes, COMMIT."""
        try:
            async with self._pool.connection() as conn:
                if previous is not None:
                    await previous.wait()
                boards = sorted(held.revisions)
                heads = [overlay.loaded.heads[b] for b in boards]
                async with _pipelined_transaction(conn, committing=sent.set):
                    await conn.execute(
                        "SELECT quadro_hold_boards(%s, %s, %s, %s)",
                        (
                            boards,
                            [held.revisions[b] for b in boards],
                            [h[0] for h in heads],
                            [h[1] for h in heads],
                        ),
                    )
                    await self._write(conn, overlay, held)
        finally:
            sent.set()

    async def _transaction(self, commands: list[Command], now: int) -> list[Applied | QuadroError]:
        # A batch first runs as if none of its request ids had been seen and none of the
        # ids it generates were taken: a retry is rare, a collision rarer, and either
        # makes one of the batch's INSERTs fail (a primary key), so the batch runs again,
        # reading those rows first.
        assume_new = True
        for attempt in range(_ATTEMPTS):
            try:
                async with self._pool.connection() as conn:
                    return await self._in_transaction(conn, commands, now, assume_new)
            except _RETRYABLE as exc:
                self._feed.settle()  # rolled back: its heads are another replica's now
                if assume_new and _is_taken_key(exc):
                    log.debug("a key the batch took as new was taken; running it again")
                    assume_new = False
                    continue
                log.info("batch lost a race (%s); running it again", type(exc).__name__)
                await asyncio.sleep(0.001 * 2**attempt)
        raise psycopg.OperationalError("a batch kept losing races; giving up")

    async def _in_transaction(
        self, conn: Conn, commands: list[Command], now: int, assume_new: bool
    ) -> list[Applied | QuadroError]:
        """Run the batch in one transaction, in two round trips: its loads, and its
        writes with COMMIT (`_pipelined_transaction`)."""
        held = _Held()
        try:
            async with _pipelined_transaction(conn):
                outcomes, overlay = await self._run(conn, commands, now, assume_new, held)
        except BaseException:
            # Whatever failed, and whether or not COMMIT went through, what was kept of
            # these boards is read again next time.
            self._known.forget(held.revisions)
            raise
        self._known.learn(held.left(), overlay)
        return outcomes

    async def _run(
        self, conn: Conn, commands: list[Command], now: int, assume_new: bool, held: _Held
    ) -> tuple[list[Applied | QuadroError], Overlay]:
        """The batch's loads, rules and writes. With `assume_new`, its request ids are
        taken as never seen, without reading their records: if one was seen, either the
        batch's INSERT of records fails (the caller runs the batch again) or its command
        was refused, and the records of refused commands are read at the end. The ids it
        generates for new tasks are taken as free too: if one is not, the INSERT of the
        tasks fails and the batch runs again, reading them."""
        candidates, keys, loaded, assumed = _planned(commands, assume_new)
        await self._load(conn, keys, loaded, held)
        overlay = Overlay(loaded, candidates)
        outcomes: list[Applied | QuadroError] = []
        expirations: list[int] = []
        for command in commands:
            outcome = await self._apply(conn, overlay, command, now, held)
            if isinstance(command, ExpireRequests) and isinstance(outcome, Applied):
                expirations.append(len(outcomes))
            outcomes.append(outcome)
            await pause_now_and_then(len(outcomes))
        if assumed:
            await self._replay_refused(conn, overlay, commands, outcomes, now, held)
        removed = await self._write(conn, overlay, held)
        for index, count in zip(expirations, removed, strict=True):
            outcomes[index] = Applied(ExpiredResult(count), ())
        return outcomes, overlay

    async def _apply(
        self, conn: Conn, overlay: Overlay, command: Command, now: int, held: _Held
    ) -> Applied | QuadroError:
        """One command against the batch's view, loading the rows it asks for."""
        overlay.begin()
        while True:
            try:
                return self._engine.apply(overlay, command, now)
            except NeedRows as need:
                overlay.retry()
                more = Loaded()
                await self._load(conn, need.keys, more, held)
                overlay.absorb(more)
            except QuadroError as exc:
                return exc
            except Exception as exc:
                raise _Unexpected from exc

    async def _replay_refused(
        self,
        conn: Conn,
        overlay: Overlay,
        commands: list[Command],
        outcomes: list[Applied | QuadroError],
        now: int,
        held: _Held,
    ) -> None:
        """A refused command whose request id was taken as new may be a retry: read the
        records of those ids, and answer a retry as the engine does (the first answer,
        or a conflict). A refused command wrote nothing, and neither does a replay."""
        refused = {
            i: command.request_key
            for i, command in enumerate(commands)
            if command.request_id and isinstance(outcomes[i], QuadroError)
        }
        if not refused:
            return
        found = Loaded()
        await self._load(conn, Keys(requests=set(refused.values())), found, held)
        for i, key in refused.items():
            if overlay.learn_request(key, found.requests.get(key)):
                outcomes[i] = await self._apply(conn, overlay, commands[i], now, held)

    async def _load(self, conn: Conn, keys: Keys, loaded: Loaded, held: _Held) -> None:
        """Load the rows named by `keys` (and lock them), taking those this replica's
        own commits left from what it kept (storage/postgres/known_rows.py) where the
        board's revision shows that no one else has written the board since. The kept
        rows of a board about to be locked are taken before its revision is read, in
        the same round trip as the other rows: if the revision tells otherwise, they are
        read in a second one."""
        expected = {
            board: revision
            for board in keys.boards
            if board not in held and (revision := self._known.revision(board)) is not None
        }
        rest = self._known.take(keys, loaded, held.trusted | expected.keys())
        await self._read_rows(conn, rest, loaded, held)
        stale = {board for board, revision in expected.items() if held.revisions[board] != revision}
        held.trusted.update(expected.keys() - stale)
        if stale:
            self._known.forget(stale)
            again = Keys(
                tasks={k for k in keys.tasks - rest.tasks if k[0] in stale},
                agents={k for k in keys.agents - rest.agents if k[0] in stale},
                data={k for k in keys.data - rest.data if k[0] in stale},
            )
            if again:
                await self._read_rows(conn, again, loaded, held)

    async def _read_rows(self, conn: Conn, keys: Keys, loaded: Loaded, held: _Held) -> None:
        """Read (and lock, in one global order) the rows named by `keys`, and the agents
        holding its `holders` tasks, in one round trip: the queries go out together
        (pipeline mode) and PostgreSQL runs them in order. A batch's transaction holds its
        boards' rows locked until COMMIT, so every round trip in it is time during which
        no other batch can write to those boards.

        Every batch that writes a board's tasks, agents or data locks the board's row
        first, so rows of a board in `held` (the boards the transaction holds, which
        this read adds to) cannot change until COMMIT and are read without a lock of
        their own: a row lock costs PostgreSQL a write to the row's page and a WAL
        record. Rows of other boards (a parent task's) are locked, in key order."""
        reads: list[tuple[Callable[[list[dict[str, Any]]], None], str, Any]] = []
        if keys.boards:
            for board in keys.boards:
                held.revisions.setdefault(board, _NO_BOARD)
            board_ids = sorted(keys.boards)
            loaded.boards.update(dict.fromkeys(board_ids))
            reads.append((
                functools.partial(self._absorb_boards, loaded, held),
                "SELECT * FROM boards WHERE board_id = ANY(%s) ORDER BY board_id FOR UPDATE",
                (board_ids,),
            ))  # fmt: skip
        if keys.tasks:
            loaded.tasks.update(dict.fromkeys(keys.tasks))
            reads.append((
                functools.partial(_absorb, loaded.tasks, rows.task_from_row, "task_id"),
                _child_query("tasks", "task_id", keys.tasks, held),
                _pairs(keys.tasks),
            ))  # fmt: skip
        if keys.agents or keys.holders:
            loaded.agents.update(dict.fromkeys(keys.agents))
            args: tuple[list[str], ...]
            if keys.holders:
                # The agents named, and those holding the tasks just locked (a move may
                # release them): the tasks' rows cannot change under the lock.
                sql, args = _AGENTS_QUERY, (*_pairs(keys.agents), *_pairs(keys.holders))
            else:
                # Most moves name the agent holding their task (a result names its
                # agent): agents by key alone cost PostgreSQL a fifth of the query above.
                sql = _child_query("agents", "agent_id", keys.agents, held)
                args = _pairs(keys.agents)
            reads.append((
                functools.partial(_absorb, loaded.agents, rows.agent_from_row, "agent_id"),
                sql,
                args,
            ))  # fmt: skip
        if keys.data:
            loaded.data.update(dict.fromkeys(keys.data))
            reads.append((
                functools.partial(_absorb, loaded.data, rows.data_from_row, "key"),
                _child_query("data", "key", keys.data, held),
                _pairs(keys.data),
            ))  # fmt: skip
        if keys.requests:
            loaded.requests.update(dict.fromkeys(keys.requests))
            reads.append((
                functools.partial(_absorb_requests, loaded),
                "SELECT request_id, fingerprint, result, create_time FROM requests "
                "WHERE request_id = ANY(%s)",
                (sorted(keys.requests),),
            ))  # fmt: skip
        if keys.leases:
            loaded.leases.update(dict.fromkeys(keys.leases))
            reads.append((
                functools.partial(_absorb_leases, loaded),
                "SELECT * FROM leases WHERE name = ANY(%s) ORDER BY name FOR UPDATE",
                (sorted(keys.leases),),
            ))  # fmt: skip
        cursors = []
        for _, sql, args in reads:
            cursor = conn.cursor()
            await cursor.execute(sql, args)
            cursors.append(cursor)
        for (absorb, _, _), cursor in zip(reads, cursors, strict=True):
            absorb(await cursor.fetchall())
        # A holder whose row is gone is known to be missing, like a named agent.
        for key in holders_of(loaded, keys.holders):
            loaded.agents.setdefault(key, None)

    def _absorb_boards(self, loaded: Loaded, held: _Held, found: list[dict[str, Any]]) -> None:
        for row in found:
            held.revisions[row["board_id"]] = row["revision"]
            loaded.boards[row["board_id"]] = self._spec(row)
            loaded.heads[row["board_id"]] = (row["head_sequence"], row["head_time"])

    def _spec(self, row: dict[str, Any]) -> BoardRecord:
        # A board's spec never changes: parse it once per process.
        spec = self._specs.get(row["board_id"])
        if spec is None:
            spec = self._specs[row["board_id"]] = rows.board_from_row(row)
        return evolve(spec, head_sequence=row["head_sequence"])

    async def _write(self, conn: Conn, overlay: Overlay, held: _Held) -> list[int]:
        """Write what the batch changed, moving on the revision of every board whose
        rows it wrote; return the rows each expiry removed. The writes go out as one
        statement (`_Writes`); an expiry, whose count is read back, on its own."""
        writes = _Writes()
        if overlay.new_boards:
            writes.insert("boards", [rows.board_to_row(b) for b in overlay.new_boards])
        writes.rows(
            "tasks",
            ("board_id", "task_id"),
            [rows.task_to_row(t) for t in overlay.new_tasks.values()],
            [
                rows.task_update(task, overlay.loaded.tasks[key])
                for key, task in overlay.changed_tasks.items()
            ],
        )
        if overlay.events:
            writes.insert("events", [rows.event_to_row(e) for e in overlay.events])
        writes.rows(
            "agents",
            ("board_id", "agent_id"),
            [rows.agent_to_row(a) for a in overlay.new_agents.values()],
            [
                rows.agent_update(agent, overlay.loaded.agents[key])
                for key, agent in overlay.changed_agents.items()
            ],
        )
        puts = [e for e in overlay.data_writes.values() if e is not None]
        if puts:
            writes.insert(
                "data",
                [
                    {"board_id": e.board_id, "key": e.key, "value": e.value_json,
                     "update_time": e.update_time}
                    for e in puts
                ],
                upsert=("board_id", "key"),
            )  # fmt: skip
        deletes = [key for key, e in overlay.data_writes.items() if e is None]
        if deletes:
            writes.add(
                "DELETE FROM data WHERE (board_id, key) IN "
                "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                [[b for b, _ in deletes], [k for _, k in deletes]],
            )
        if overlay.new_requests:
            writes.insert(
                "requests",
                [
                    {"request_id": r.request_id, "fingerprint": r.fingerprint,
                     "result": r.result_json, "create_time": r.create_time}
                    for r in overlay.new_requests
                ],
            )  # fmt: skip
        if overlay.lease_writes:
            writes.insert(
                "leases",
                [
                    {"name": x.name, "holder": x.holder, "epoch": x.epoch,
                     "expires_at": x.expires_at}
                    for x in overlay.lease_writes.values()
                ],
                upsert=("name",),
            )  # fmt: skip
        held.written = written_boards(overlay)
        still = sorted(held.written - overlay.moved_heads)
        if still:
            writes.add(
                "UPDATE boards SET revision = revision + 1 WHERE board_id = ANY(%s)", [still]
            )
        moved = sorted(overlay.moved_heads)
        if moved:
            heads = [overlay.head(b) for b in moved]
            writes.add(
                "UPDATE boards AS b SET head_sequence = v.head_sequence, "
                "head_time = v.head_time, revision = b.revision + 1 "
                "FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) "
                "AS v(board_id, head_sequence, head_time) WHERE b.board_id = v.board_id",
                [moved, [h for h, _ in heads], [t for _, t in heads]],
            )
            # Delivered at COMMIT, to every replica (this one included, which
            # publishes its own events without reading them back).
            self._feed.expect({b: h for b, (h, _) in zip(moved, heads, strict=True)})
            writes.finally_select(
                "pg_notify(%s, %s)",
                [
                    self._feed.channel,
                    ";".join(f"{b}:{h}" for b, (h, _) in zip(moved, heads, strict=True)),
                ],
            )
        async with conn.cursor() as cur:
            if writes:
                await cur.execute(*writes.statement())
            removed = []
            for before, limit in overlay.expirations:
                # A count that comes back as a row: in pipeline mode rowcount is not known
                # until the pipeline syncs.
                await cur.execute(
                    "WITH gone AS (DELETE FROM requests WHERE request_id IN (SELECT request_id "
                    "FROM requests WHERE create_time < %s ORDER BY create_time LIMIT %s) "
                    "RETURNING 1) SELECT count(*) AS n FROM gone",
                    (before, limit),
                )
                found = await cur.fetchone()
                removed.append(found["n"] if found else 0)
        return removed

    # --- reads ----------------------------------------------------------------------

    async def _read(self, fn: Callable[[Conn], Any]) -> Any:
        if self._closed:
            raise Unavailable("the store is closed", reason=reasons.SHUTTING_DOWN)
        try:
            async with self._pool.connection() as conn:
                return await fn(conn)
        except _LOST_CONNECTION as exc:
            raise _unavailable(exc) from exc

    async def get_board(self, board_id: str) -> BoardRecord | None:
        async def run(conn: Conn) -> BoardRecord | None:
            row = await _one(conn, "SELECT * FROM boards WHERE board_id = %s", (board_id,))
            return None if row is None else self._spec(row)

        result: BoardRecord | None = await self._read(run)
        return result

    async def list_boards(self, after: tuple[int, str] | None, limit: int) -> list[BoardRecord]:
        created, board_id = after or (-1, "")

        async def run(conn: Conn) -> list[BoardRecord]:
            found = await _all(
                conn,
                "SELECT * FROM boards WHERE (create_time, board_id) > (%s, %s) "
                "ORDER BY create_time, board_id LIMIT %s",
                (created, board_id, limit),
            )
            return [self._spec(r) for r in found]

        result: list[BoardRecord] = await self._read(run)
        return result

    async def get_task(self, board_id: str, task_id: str) -> TaskRecord | None:
        async def run(conn: Conn) -> TaskRecord | None:
            row = await _one(
                conn,
                "SELECT * FROM tasks WHERE board_id = %s AND task_id = %s",
                (board_id, task_id),
            )
            return None if row is None else rows.task_from_row(row)

        result: TaskRecord | None = await self._read(run)
        return result

    async def get_tasks(self, board_id: str, task_ids: Sequence[str]) -> dict[str, TaskRecord]:
        async def run(conn: Conn) -> dict[str, TaskRecord]:
            found = await _all(
                conn,
                "SELECT * FROM tasks WHERE board_id = %s AND task_id = ANY(%s)",
                (board_id, list(dict.fromkeys(task_ids))),
            )
            return {t.task_id: t for t in map(rows.task_from_row, found)}

        if not task_ids:
            return {}
        result: dict[str, TaskRecord] = await self._read(run)
        return result

    async def list_children(self, parent_tasks: Sequence[str], limit: int) -> list[TaskRecord]:
        async def run(conn: Conn) -> list[TaskRecord]:
            found = await _all(
                conn,
                "SELECT * FROM tasks WHERE parent_task <> '' AND parent_task = ANY(%s) "
                "ORDER BY create_time, board_id, task_id LIMIT %s",
                (list(parent_tasks), limit),
            )
            return [rows.task_from_row(r) for r in found]

        if not parent_tasks:
            return []
        result: list[TaskRecord] = await self._read(run)
        return result

    async def list_tasks(self, query: TaskQuery) -> list[TaskRecord]:
        sql, args = task_listing(query)

        async def run(conn: Conn) -> list[TaskRecord]:
            return [rows.task_from_row(r) for r in await _all(conn, sql, args)]

        result: list[TaskRecord] = await self._read(run)
        return result

    async def list_events(self, query: EventQuery) -> EventPage:
        f = query.filter

        async def run(conn: Conn) -> EventPage:
            # The head first, then events up to it: every event up to a committed head is
            # committed (the head moves in the transaction that writes them).
            row = await _one(
                conn, "SELECT head_sequence FROM boards WHERE board_id = %s", (query.board_id,)
            )
            head = row["head_sequence"] if row else 0
            sql = ["SELECT * FROM events WHERE board_id = %s AND sequence > %s AND sequence <= %s"]
            args: list[Any] = [query.board_id, query.after_sequence, head]
            for column, value in (("task_id", f.task_id), ("agent", f.agent)):
                if value:
                    sql.append(f"AND {column} = %s")
                    args.append(value)
            _any_of(sql, args, "type", f.types)
            _any_of(sql, args, "to_status", f.statuses)
            _globs(sql, args, "task_type", f.task_types)
            sql.append("ORDER BY sequence LIMIT %s")
            args.append(query.limit)
            found = await _all(conn, " ".join(sql), args)
            return EventPage([rows.event_from_row(r) for r in found], head)

        result: EventPage = await self._read(run)
        return result

    async def events_after(self, board_id: str, after: int, limit: int) -> list[EventRecord]:
        """Every event of a board after a sequence (for the feed)."""

        async def run(conn: Conn) -> list[EventRecord]:
            found = await _all(
                conn,
                "SELECT * FROM events WHERE board_id = %s AND sequence > %s "
                "ORDER BY sequence LIMIT %s",
                (board_id, after, limit),
            )
            return [rows.event_from_row(r) for r in found]

        result: list[EventRecord] = await self._read(run)
        return result

    async def heads(self) -> dict[str, int]:
        """Every board's head sequence (for the feed's poll)."""

        async def run(conn: Conn) -> dict[str, int]:
            found = await _all(conn, "SELECT board_id, head_sequence FROM boards", ())
            return {r["board_id"]: r["head_sequence"] for r in found}

        result: dict[str, int] = await self._read(run)
        return result

    async def get_agent(self, board_id: str, agent_id: str) -> AgentRecord | None:
        async def run(conn: Conn) -> AgentRecord | None:
            row = await _one(
                conn,
                "SELECT * FROM agents WHERE board_id = %s AND agent_id = %s",
                (board_id, agent_id),
            )
            return None if row is None else rows.agent_from_row(row)

        result: AgentRecord | None = await self._read(run)
        return result

    async def list_agents(
        self, board_id: str, after: tuple[int, str] | None, limit: int
    ) -> list[AgentRecord]:
        registered, agent_id = after or (-1, "")

        async def run(conn: Conn) -> list[AgentRecord]:
            found = await _all(
                conn,
                "SELECT * FROM agents WHERE board_id = %s AND (register_time, agent_id) > (%s, %s) "
                "ORDER BY register_time, agent_id LIMIT %s",
                (board_id, registered, agent_id, limit),
            )
            return [rows.agent_from_row(r) for r in found]

        result: list[AgentRecord] = await self._read(run)
        return result

    async def get_data(self, board_id: str, key: str) -> DataRecord | None:
        async def run(conn: Conn) -> DataRecord | None:
            row = await _one(
                conn, "SELECT * FROM data WHERE board_id = %s AND key = %s", (board_id, key)
            )
            return None if row is None else rows.data_from_row(row)

        result: DataRecord | None = await self._read(run)
        return result

    async def list_data(
        self, board_id: str, prefix: str, after_key: str, limit: int, *, internal: bool = False
    ) -> list[DataRecord]:
        async def run(conn: Conn) -> list[DataRecord]:
            hidden = "" if internal else "AND NOT starts_with(key, '_') "
            found = await _all(
                conn,
                # starts_with, not LIKE: keys may contain '_', a LIKE wildcard.
                "SELECT * FROM data WHERE board_id = %s AND key > %s AND starts_with(key, %s) "
                f'{hidden}ORDER BY key COLLATE "C" LIMIT %s',
                (board_id, after_key, prefix, limit),
            )
            return [rows.data_from_row(r) for r in found]

        result: list[DataRecord] = await self._read(run)
        return result


# --- shared SQL -----------------------------------------------------------------------


def _planned(commands: list[Command], assume_new: bool) -> tuple[list[str], Keys, Loaded, set[str]]:
    """What a batch starts from: the ids it tries first for its new tasks, the rows its
    commands name, and the rows it takes without reading them. With `assume_new`, its
    request ids are taken as never seen (returned, to be checked if a command is
    refused) and the ids it draws as free: a retry is rare, and ids drawn from 60 million
    at random are free but for one batch in a great many; the primary keys of `requests`
    and `tasks` catch the rare one that is not, and the batch runs again. Without it,
    the drawn ids are looked up (`keys.tasks`)."""
    candidates = [ids.new_task_id(ids.DEFAULT_LENGTH) for c in commands if needs_generated_id(c)]
    loaded = Loaded()
    keys = keys_of(commands, candidates)
    assumed: set[str] = set()
    if assume_new:
        assumed, keys.requests = keys.requests, set()
        loaded.requests.update(dict.fromkeys(assumed))
        loaded.tasks.update(dict.fromkeys(keys.generated - keys.tasks))
    else:
        keys.tasks |= keys.generated
    return candidates, keys, loaded, assumed


@contextlib.asynccontextmanager
async def _pipelined_transaction(
    conn: Conn, committing: Callable[[], None] | None = None
) -> AsyncIterator[None]:
    """BEGIN, the block's statements, COMMIT, in pipeline mode: statements whose answers
    the batch does not read go out without waiting for them; leaving waits for every
    answer, COMMIT's included. BEGIN and COMMIT are written out: `conn.transaction()`
    waits for the server at both ends in pipeline mode, two round trips more while the
    batch holds its boards' rows locked. `committing` is called once COMMIT is sent."""
    try:
        async with conn.pipeline():
            await conn.execute("BEGIN")
            yield
            await conn.execute("COMMIT")
            if committing is not None:
                committing()
    except BaseException:
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            await conn.execute("ROLLBACK")
        raise


def _unavailable(exc: BaseException) -> Unavailable:
    """A batch or read failed with the connection or the server: its outcome is unknown
    to the callers, who retry with the same request ids (never a wrong answer)."""
    return Unavailable(f"the database is unavailable: {exc}", reason=reasons.STORE_UNAVAILABLE)


class _IdleCheck:
    """Checks a connection taken from the pool only when it has sat there a while: one
    the server may have dropped meanwhile (a restart, an idle timeout). A check is a
    round trip, which every batch and every read would otherwise pay; a connection that
    broke while in steady use fails its statement, and the caller's retry gets a fresh
    one."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._returned: weakref.WeakKeyDictionary[Conn, float] = weakref.WeakKeyDictionary()

    async def check(self, conn: Conn) -> None:
        returned = self._returned.pop(conn, None)
        if returned is None or time.monotonic() - returned > self.seconds:
            await AsyncConnectionPool.check_connection(conn)

    async def reset(self, conn: Conn) -> None:
        self._returned[conn] = time.monotonic()


async def _configure(conn: Conn) -> None:
    # Waiting on a row lock longer than this means something is stuck: give up and let
    # the batch run again (LockNotAvailable is retried) rather than hang for ever.
    await conn.execute("SET lock_timeout = '10s'")


# The revision of a board the transaction asked to lock and found no row of (yet).
_NO_BOARD = -1


@dataclass
class _Held:
    """The boards a transaction holds locked, with the revision each had when locked,
    those of them whose kept rows are current, and those whose rows it wrote."""

    revisions: dict[str, int] = field(default_factory=dict)
    trusted: set[str] = field(default_factory=set)
    written: set[str] = field(default_factory=set)

    def __contains__(self, board: object) -> bool:
        return board in self.revisions

    def left(self) -> dict[str, int]:
        """The revision this transaction leaves on each board it held, once committed."""
        return {
            board: revision + (board in self.written)
            for board, revision in self.revisions.items()
            if revision != _NO_BOARD
        }


def written_boards(overlay: Overlay) -> set[str]:
    """The boards whose tasks, agents, data or log a batch writes."""
    written = set(overlay.moved_heads)
    for rows_by_key in (
        overlay.new_tasks,
        overlay.changed_tasks,
        overlay.new_agents,
        overlay.changed_agents,
        overlay.data_writes,
    ):
        written.update(board for board, _ in rows_by_key)
    return written


def _child_query(table: str, key: str, keys: set[tuple[str, str]], held: _Held) -> str:
    """The read of a board's children by (board, key), locking them unless every board
    they belong to is locked already."""
    sql = (
        f"SELECT * FROM {table} WHERE (board_id, {key}) IN "
        "(SELECT * FROM unnest(%s::text[], %s::text[]))"
    )
    if all(board in held for board, _ in keys):
        return sql
    return f"{sql} ORDER BY board_id, {key} FOR UPDATE"


# Agents by key, and the agents holding tasks by key, locked in the same order.
_AGENTS_QUERY = (
    "SELECT * FROM agents WHERE (board_id, agent_id) IN "
    "(SELECT * FROM unnest(%s::text[], %s::text[]) UNION SELECT board_id, assigned_to "
    "FROM tasks WHERE (board_id, task_id) IN (SELECT * FROM unnest(%s::text[], %s::text[])) "
    "AND assigned_to <> '') ORDER BY board_id, agent_id FOR UPDATE"
)


def _absorb(
    into: dict[tuple[str, str], T | None],
    parse: Callable[[dict[str, Any]], T],
    key: str,
    found: list[dict[str, Any]],
) -> None:
    for row in found:
        into[(row["board_id"], row[key])] = parse(row)


def _absorb_requests(loaded: Loaded, found: list[dict[str, Any]]) -> None:
    for row in found:
        loaded.requests[row["request_id"]] = StoredRequest(
            row["request_id"], row["fingerprint"], row["result"], row["create_time"]
        )


def _absorb_leases(loaded: Loaded, found: list[dict[str, Any]]) -> None:
    for row in found:
        loaded.leases[row["name"]] = LeaseRecord(
            row["name"], row["holder"], row["epoch"], row["expires_at"]
        )


def _is_taken_key(exc: Exception) -> bool:
    """Whether `exc` is the INSERT of a request record stored before, or of a task whose
    generated id another task has: the keys a batch takes as new without reading them.
    (Other tasks' ids were read under their board's lock: no one else can take them.)"""
    return isinstance(exc, pg_errors.UniqueViolation) and exc.diag.constraint_name in (
        "requests_pkey",
        "tasks_pkey",
    )


def _pairs(keys: set[tuple[str, str]]) -> tuple[list[str], list[str]]:
    ordered = sorted(keys)
    return [k[0] for k in ordered], [k[1] for k in ordered]


async def _all(conn: Conn, sql: str, args: Any) -> list[dict[str, Any]]:
    async with conn.cursor() as cur:
        await cur.execute(sql, args)
        return await cur.fetchall()


async def _one(conn: Conn, sql: str, args: Any) -> dict[str, Any] | None:
    async with conn.cursor() as cur:
        await cur.execute(sql, args)
        return await cur.fetchone()


def _as_json(found: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    return jsontext.dumps([{c: r[c] for c in columns} for r in found])


class _Writes:
    """The statements of a batch's writes, whose answers it does not read, sent as one:
    each a data-modifying query of one WITH. A statement costs psycopg and PostgreSQL a
    round of work of its own (sending, parsing, starting an executor, answering), about
    a dozen a batch; one statement does it once. They read one snapshot and touch
    distinct rows (a task is inserted or updated, never both), and nothing reads what
    another wrote: the foreign keys are checked at the statement's end, with the rows of
    all of them there."""

    def __init__(self) -> None:
        self._queries: list[str] = []
        self._args: list[Any] = []
        self._select = "1"
        self._select_args: list[Any] = []

    def __bool__(self) -> bool:
        return bool(self._queries) or bool(self._select_args)

    def add(self, sql: str, args: Sequence[Any]) -> None:
        self._queries.append(sql)
        self._args.extend(args)

    def finally_select(self, expression: str, args: Sequence[Any]) -> None:
        """What the statement selects (a function to call once, pg_notify): a query of a
        WITH that is not data-modifying runs only if something reads it."""
        self._select = expression
        self._select_args = list(args)

    def insert(self, table: str, found: list[dict[str, Any]], upsert: tuple[str, ...] = ()) -> None:
        """One INSERT for all the rows, passed as one JSON array that PostgreSQL turns
        into rows of the table's own type (`json_populate_recordset`): a statement per row
        would cost PostgreSQL a statement execution per row, and a parameter per column
        (arrays) costs psycopg more than encoding the rows as JSON, which orjson does in
        C. The rows of one table all have its columns, those of the first. `upsert`: the
        key whose conflict updates the other columns instead."""
        names = ", ".join(found[0])
        sql = (
            f"INSERT INTO {table} ({names}) SELECT {names} "
            f"FROM json_populate_recordset(NULL::{table}, %s::json)"
        )
        if upsert:
            changed = ", ".join(f"{c} = EXCLUDED.{c}" for c in found[0] if c not in upsert)
            sql += f" ON CONFLICT ({', '.join(upsert)}) DO UPDATE SET {changed}"
        self.add(sql, [jsontext.dumps(found)])

    def rows(
        self,
        table: str,
        keys: tuple[str, ...],
        new: list[dict[str, Any]],
        changes: list[tuple[dict[str, Any], tuple[str, ...]]],
    ) -> None:
        """The `new` rows of a table, inserted, and its rows that changed (each a row of
        its key and changed columns, and those columns): an UPDATE of only the changed
        columns, one query per set of columns."""
        if new:
            self.insert(table, new)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row, changed in changes:
            if changed:
                groups.setdefault(changed, []).append(row)
        for changed, found in groups.items():
            self.add(*update_statement(table, keys, changed, found))

    def statement(self) -> tuple[str, list[Any]]:
        queries = ", ".join(f"w{i} AS ({q})" for i, q in enumerate(self._queries))
        head = f"WITH {queries} " if queries else ""
        return f"{head}SELECT {self._select}", [*self._args, *self._select_args]


def update_statement(
    table: str, keys: tuple[str, ...], changed: tuple[str, ...], found: list[dict[str, Any]]
) -> tuple[str, tuple[Any, ...]]:
    """The UPDATE of the `changed` columns of the rows `found`, and its arguments: the
    rows passed as one JSON array like `_Writes.insert`'s.

    The rows are also named by their keys as arrays (`unnest`; the keys are text):
    PostgreSQL takes a `json_populate_recordset` for a hundred rows whatever it holds,
    and for a join with that many it scans the whole table rather than its primary
    key, a cost that grows with the table; an array's length it knows."""
    assignments = ", ".join(f"{c} = v.{c}" for c in changed)
    names = ", ".join(f"t.{k}" for k in keys)
    arrays = ", ".join(["%s::text[]"] * len(keys))
    joined = " AND ".join(f"t.{k} = v.{k}" for k in keys)
    sql = (
        f"UPDATE {table} AS t SET {assignments} "
        f"FROM json_populate_recordset(NULL::{table}, %s::json) AS v "
        f"WHERE ({names}) IN (SELECT * FROM unnest({arrays})) AND {joined}"
    )
    return sql, (_as_json(found, (*keys, *changed)), *([r[k] for r in found] for k in keys))


def task_listing(query: TaskQuery) -> tuple[str, list[Any]]:
    """The statement that lists tasks for `query`, and its arguments."""
    return query.statement("%s", _any_of, _globs)


def _any_of(sql: list[str], args: list[Any], column: str, values: tuple[str, ...]) -> None:
    if values:
        sql.append(f"AND {column} = ANY(%s)")
        args.append(list(values))


def _globs(sql: list[str], args: list[Any], column: str, patterns: tuple[str, ...]) -> None:
    # Our glob grammar translates to the same anchored regular expression in Python and
    # in PostgreSQL's regex dialect.
    if patterns:
        sql.append("AND (" + " OR ".join(f"{column} ~ %s" for _ in patterns) + ")")
        args.extend(globs.to_regex(p) for p in patterns)


async def _migrate(conn: Conn) -> None:
    known = migrations.load("quadro_server.storage.postgres.migrations")
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_time BIGINT NOT NULL)"
        )
        applied = {
            r["version"] for r in await _all(conn, "SELECT version FROM schema_migrations", ())
        }
        newest = max(applied, default=0)
        if newest > len(known):
            raise migrations.SchemaTooNew(
                f"the database is at schema version {newest}; this Quadro knows up to "
                f"{len(known)}. Upgrade Quadro."
            )
        for migration in known:
            if migration.version in applied:
                continue
            await conn.execute(migration.sql.encode())
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_time) VALUES (%s, %s, %s)",
                (migration.version, migration.name, now_us()),
            )
            log.info("applied migration %04d_%s", migration.version, migration.name)


__all__ = ["PostgresStore"]
