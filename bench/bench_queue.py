"""Quadro's full task cycle against a plain PostgreSQL job queue, in one run on one
PostgreSQL server.

- pgbench simple-update, 8 clients: what the database does with tiny transactions.
- PgQueuer (bench/requirements-queue.txt), one process, no-op jobs: N jobs enqueued,
  then drained by a QueueManager in drain mode, with its default batch of 10 and with
  100. Drain rate = jobs / drain time.
- Quadro's full cycle (posted -> dispatched by a Chief -> no-op handler in a Worker ->
  complete), as bench/bench_runtime.py runs it: one `quadro serve`, one `quadro chief`
  and four `quadro worker`s, 1,024 tasks kept unfinished; on PostgreSQL and on SQLite.
  Each worker holds up to 256 tasks at once, runs their no-op handlers concurrently
  (PgQueuer runs a dequeued batch's jobs concurrently too): a worker's concurrency is
  the credit it gives the board, and the unfinished tasks are as many as the credits.
- Quadro draining a backlog, as PgQueuer drains its queue: N tasks posted beforehand,
  then the same Chief and Workers dispatch and finish them all; on PostgreSQL, with the
  workers at concurrency 64 and at 256 (a larger credit, as PgQueuer's larger batch).

For each: items per second, write transactions per item (PostgreSQL transaction ids
assigned during the run: read-only transactions take none), and CPU per item (every
process of the system, PostgreSQL's included); for Quadro's full cycle, the dispatch
latency (posted -> assigned) while posting open loop at half the rate it measured. The
project's targets: Quadro's full cycle on PostgreSQL at least as fast as PgQueuer's
default drain, and a half-load dispatch p99 under 50 ms.

    .venv/bin/pip install -r bench/requirements-queue.txt
    .venv/bin/python bench/bench_queue.py            # about 3 min
    .venv/bin/python bench/bench_queue.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg

import quadro
from quadro import limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench.bench_replicas import (
    ADMIN_URL,
    PG_BIN,
    create_database,
    database_url,
    drop_database,
    pgbench,
    postgres_cpu,
)
from bench.bench_runtime import FLOW, ProcessCpu, run_flow, start_runtime
from bench.bench_transitions import cpu_model, source_version
from support.server import ServerProcess

TARGET = 1.0
TARGET_HALF_LOAD_P99_MS = 50
# Tasks each worker may hold at once: its credit on the board; and the tasks the
# producer of the full cycle keeps unfinished, as many as the workers' credits: the
# queue PgQueuer drains holds all its jobs from the start.
WORKER_CONCURRENCY = 256
BACKLOG = 4 * WORKER_CONCURRENCY
# The workers' credits of the backlog drains.
DRAIN_CREDITS = (64, 256)


@dataclass(frozen=True)
class Run:
    name: str
    items: int
    seconds: float
    write_transactions: int | None
    cpu_seconds: float
    # Posted -> assigned at half the measured rate, p50 and p99 (ms): Quadro's full cycle.
    half_load_dispatch: tuple[float, float] | None = None

    @property
    def rate(self) -> float:
        return self.items / self.seconds

    @property
    def tx_per_item(self) -> str:
        if self.write_transactions is None:
            return "—"
        return f"{self.write_transactions / self.items:.2f}"

    @property
    def cpu_us_per_item(self) -> float:
        return self.cpu_seconds / self.items * 1e6


def assigned_xids() -> int:
    """Transaction ids PostgreSQL has handed out so far (write transactions only); the
    query itself takes none."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        row = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetchone()
    assert row is not None
    return int(row[0])


def own_cpu() -> float:
    """CPU seconds of this process and its finished children (pgbench)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


# --- pgbench --------------------------------------------------------------------------


def run_pgbench(seconds: float) -> Run:
    name = create_database()
    try:
        url = database_url(name)
        subprocess.run([str(PG_BIN / "pgbench"), "-i", "-s", "10", "-q", url], check=True,
                       capture_output=True)  # fmt: skip
        xids, cpu, pg = assigned_xids(), own_cpu(), postgres_cpu()
        result = pgbench(name, 8, seconds)
        transactions = round(result.tps * seconds)
        return Run(
            "pgbench simple-update, 8 clients",
            transactions,
            seconds,
            assigned_xids() - xids,
            own_cpu() - cpu + postgres_cpu() - pg,
        )
    finally:
        drop_database(name)


# --- PgQueuer -------------------------------------------------------------------------


async def run_pgqueuer(jobs: int, batch_size: int) -> Run:
    from pgqueuer import PsycopgDriver, Queries, QueueManager
    from pgqueuer.types import QueueExecutionMode

    name = create_database()
    try:
        url = database_url(name)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            queries = Queries.from_psycopg_connection(conn)
            await queries.install()
            for start in range(0, jobs, 1000):
                count = min(1000, jobs - start)
                await queries.enqueue(["noop"] * count, [None] * count, [0] * count)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            manager = QueueManager(Queries(PsycopgDriver(conn)))
            done = 0
            finished = 0.0

            async def noop(job: object) -> None:
                nonlocal done, finished
                done += 1
                if done == jobs:  # the drain's end, not the queue manager's shutdown
                    finished = time.perf_counter()

            manager.entrypoint("noop")(noop)

            xids, cpu, pg = assigned_xids(), own_cpu(), postgres_cpu()
            started = time.perf_counter()
            await manager.run(
                batch_size=batch_size,
                mode=QueueExecutionMode.drain,
                dequeue_timeout=timedelta(seconds=1),
                log_aggregation_interval=timedelta(0),
            )
            elapsed = finished - started
            if done != jobs:
                raise RuntimeError(f"PgQueuer drained {done} of {jobs} jobs")
            return Run(
                f"PgQueuer 1.6, batch {batch_size}, 1 process",
                jobs,
                elapsed,
                assigned_xids() - xids,
                own_cpu() - cpu + postgres_cpu() - pg,
            )
    finally:
        drop_database(name)


# --- Quadro ---------------------------------------------------------------------------


def run_quadro(store: str, label: str, seconds: float, on_postgres: bool) -> Run:
    with tempfile.TemporaryDirectory(prefix="quadro-bench-") as folder:
        server = ServerProcess(store, log_dir=Path(folder)).start()
        try:
            xids, pg = assigned_xids(), postgres_cpu()
            flow = asyncio.run(run_flow(server, seconds, 3.0, WORKER_CONCURRENCY, BACKLOG))
            pg_cpu, tx = postgres_cpu() - pg, assigned_xids() - xids
            total = asyncio.run(count_tasks(server.address))
        finally:
            server.stop()
    # The Quadro processes' CPU is the measured window's; PostgreSQL's and the
    # transaction ids are the whole run's, spread over every task it completed.
    return Run(
        label,
        flow.completed,
        flow.seconds,
        round(tx * flow.completed / total) if on_postgres else None,
        sum(flow.cpu.values()) * flow.seconds
        + (pg_cpu * flow.completed / total if on_postgres else 0),
        (flow.percentile(50, half_load=True), flow.percentile(99, half_load=True)),
    )


def run_quadro_drain(
    store: str, label: str, tasks: int, on_postgres: bool, concurrency: int = WORKER_CONCURRENCY
) -> Run:
    """Like PgQueuer's drain: `tasks` posted beforehand (in batch calls), then the Chief
    and Workers (at `concurrency`, the credit each gives the board) started; measured
    from the first assignment to the last completion, by the server's clock in the
    event log."""
    with tempfile.TemporaryDirectory(prefix="quadro-bench-") as folder:
        server = ServerProcess(store, log_dir=Path(folder)).start()
        try:
            asyncio.run(post_backlog(server.address, tasks))
            xids, pg = assigned_xids(), postgres_cpu()
            processes = start_runtime(server, concurrency)
            try:
                cpu = ProcessCpu(
                    {"all": [server.process.pid, *(p.process.pid for p in processes)]}  # type: ignore[union-attr]
                )
                before = cpu.read()["all"]
                first, last = asyncio.run(wait_drained(server.address, tasks))
                used = cpu.read()["all"] - before
            finally:
                for process in processes:
                    process.stop()
            pg_cpu, tx = postgres_cpu() - pg, assigned_xids() - xids
        finally:
            server.stop()
    return Run(
        label,
        tasks,
        last - first,
        tx if on_postgres else None,
        used + (pg_cpu if on_postgres else 0),
    )


async def post_backlog(address: str, tasks: int) -> None:
    async with quadro.AsyncClient(address, timeout=120) as client:
        await client.create_board(FLOW, default_profile="fast")
        for start in range(0, tasks, limits.BATCH_ITEMS_MAX):
            count = min(limits.BATCH_ITEMS_MAX, tasks - start)
            await client.post_tasks(FLOW, [quadro.NewTask("noop", "backlog")] * count)


async def wait_drained(address: str, tasks: int) -> tuple[float, float]:
    """Server times of the first assignment and the last completion, once all are done."""
    async with quadro.AsyncClient(address) as client:
        for _ in range(6000):
            if (await client.get_board(FLOW)).board.head_sequence >= 3 * tasks:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the runtime did not drain its backlog within 5 min")
        first = await client.list_events(FLOW, event_types=["task_assigned"], page_size=1)
        done = [
            e.create_time.ToMicroseconds()
            async for e in client.iter_events(FLOW, event_types=["task_completed"], page_size=1000)
        ]
    return first.events[0].create_time.ToMicroseconds() / 1e6, max(done) / 1e6


async def count_tasks(address: str) -> int:
    async with quadro.AsyncClient(address) as client:
        return (await client.get_board(FLOW)).board.head_sequence // 3  # 3 events a task


def report(runs: Sequence[Run], seconds: float) -> str:
    by_name = {r.name: r for r in runs}
    queue = next(r for r in runs if r.name.startswith("PgQueuer") and "batch 10," in r.name)
    quadro_pg = by_name["Quadro full cycle, PostgreSQL"]
    ratio = quadro_pg.rate / queue.rate
    assert quadro_pg.half_load_dispatch is not None
    p99 = quadro_pg.half_load_dispatch[1]
    lines = [
        "## Quadro against a PostgreSQL job queue",
        "",
        f"- CPU: {cpu_model()}; PostgreSQL {ADMIN_URL.rsplit('@', 1)[-1]}",
        f"- Quadro: {source_version()}; {seconds:.0f} s per measured window; 1 Chief, "
        f"4 workers x concurrency {WORKER_CONCURRENCY}",
        "",
        "| system | items/s | write transactions per item | CPU per item (µs, all processes) "
        "| dispatch p50 / p99 at half load (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        half = "—"
        if r.half_load_dispatch is not None:
            half = "{:.0f} / {:.0f}".format(*r.half_load_dispatch)
        lines.append(
            f"| {r.name} | {r.rate:,.0f} | {r.tx_per_item} | {r.cpu_us_per_item:,.0f} | {half} |"
        )
    lines += [
        "",
        f"Quadro's full cycle on PostgreSQL / PgQueuer's default drain: **{ratio:.2f}** "
        f"(target >= {TARGET:.1f}: {'met' if ratio >= TARGET else 'NOT met'}).",
        f"Dispatch latency p99 at half load on PostgreSQL: "
        f"{p99:.0f} ms (target < {TARGET_HALF_LOAD_P99_MS} ms: "
        f"{'met' if p99 < TARGET_HALF_LOAD_P99_MS else 'NOT met'}).",
    ]
    return "\n".join(lines)


def on_new_database(run: Callable[[str], Run]) -> Run:
    """`run` on a PostgreSQL database of its own, dropped afterwards."""
    name = create_database()
    try:
        return run(database_url(name))
    finally:
        drop_database(name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--jobs", type=int, default=20_000, help="PgQueuer jobs per drain")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    seconds, jobs = (3.0, 2_000) if args.quick else (args.seconds, args.jobs)
    runs = []
    print("pgbench...", file=sys.stderr, flush=True)
    runs.append(run_pgbench(seconds))
    for batch in (10, 100):
        print(f"PgQueuer, batch {batch}...", file=sys.stderr, flush=True)
        runs.append(asyncio.run(run_pgqueuer(jobs, batch)))
    print("Quadro on PostgreSQL...", file=sys.stderr, flush=True)
    runs.append(
        on_new_database(lambda url: run_quadro(url, "Quadro full cycle, PostgreSQL", seconds, True))
    )
    print("Quadro draining a backlog on PostgreSQL...", file=sys.stderr, flush=True)
    # The credit is to the drain what the batch size is to PgQueuer's.
    for credit in DRAIN_CREDITS:
        label = f"Quadro draining a backlog, PostgreSQL, workers at concurrency {credit}"
        drain = functools.partial(
            run_quadro_drain, label=label, tasks=jobs, on_postgres=True, concurrency=credit
        )
        runs.append(on_new_database(drain))
    print("Quadro on SQLite...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="quadro-bench-") as folder:
        store = str(Path(folder) / "quadro.db")
        runs.append(run_quadro(store, "Quadro full cycle, SQLite", seconds, False))
    print(report(runs, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
