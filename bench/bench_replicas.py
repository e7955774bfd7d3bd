"""Transitions per second through 1, 2 and 3 server replicas sharing one PostgreSQL
database, against pgbench's simple-update rate on the same database server, in one run.

What it measures:

- ceiling: `pgbench -b simple-update` (one UPDATE, one SELECT, one INSERT per
  transaction) with one client per core (2 clients, 2 threads here) and, for
  reference, 8 clients, on a database of its own (`pgbench -i -s 10`);
- Quadro: N replicas (`quadro serve --store postgresql://...`), all on one fresh
  database, and 64 concurrent callers spread over them (one channel per 8 callers,
  channel k to replica k mod N) walking tasks through their whole life exactly as
  bench/bench_transitions.py does (PostTask, TransitionTask to IN_PROGRESS, PostResult):
  three committed writes, each counted as a transition. All callers share one board,
  the hardest case for replicas: every batch that writes a board's events locks its row.

The project's target: one replica reaches at least 40% of pgbench's one-client-per-core
simple-update rate, and replicas add throughput until the database saturates. Server,
database and client all share the machine's 2 cores, so more replicas also mean more
processes competing for them; the report shows the CPU of each.

Run from the repository root (PostgreSQL at QUADRO_BENCH_POSTGRES, default the local
server as postgres over 127.0.0.1, trust auth; pgbench from PostgreSQL's bin folder):

    .venv/bin/python bench/bench_replicas.py
    .venv/bin/python bench/bench_replicas.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

import quadro

# Run as a script: the repository root (for bench.*) and tests/ (for support.*).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench.bench_transitions import (
    BOARD,
    CpuClock,
    CpuSeconds,
    Measurement,
    agent_id,
    cpu_model,
    measure,
    source_version,
    transitions,
)
from support.server import ServerProcess

ADMIN_URL = os.environ.get("QUADRO_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BIN = Path(os.environ.get("QUADRO_PG_BIN", "/usr/lib/postgresql/15/bin"))
CALLERS = 64
PER_CHANNEL = 8
TARGET = 0.4


class ReplicaClock(CpuClock):
    """CPU of all replicas together (as `server`), of this client, and of the machine."""

    def __init__(self, pids: Sequence[int]) -> None:
        super().__init__(pids[0])
        self._replicas = [psutil.Process(pid) for pid in pids]

    def read(self) -> CpuSeconds:
        base = super().read()
        replicas = sum(float(p.cpu_times().user + p.cpu_times().system) for p in self._replicas)
        return CpuSeconds(replicas, base.client, base.machine)


# --- the database ---------------------------------------------------------------------


def database_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def create_database() -> str:
    name = "quadro_bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL process."""
    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        if process.info["name"] == "postgres" and process.info["cpu_times"] is not None:
            times = process.info["cpu_times"]
            total += float(times.user + times.system)
    return total


# --- pgbench --------------------------------------------------------------------------


@dataclass(frozen=True)
class PgbenchRun:
    clients: int
    tps: float
    latency_ms: float


def pgbench(name: str, clients: int, seconds: float) -> PgbenchRun:
    url = database_url(name)
    result = subprocess.run(
        [
            str(PG_BIN / "pgbench"),
            "-b",
            "simple-update",
            "-c",
            str(clients),
            "-j",
            str(min(clients, os.cpu_count() or 1)),
            "-T",
            str(int(seconds)),
            "-n",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", result.stdout)
    if tps is None or latency is None:
        raise RuntimeError(f"unexpected pgbench output:\n{result.stdout}")
    return PgbenchRun(clients, float(tps[1]), float(latency[1]))


# --- Quadro replicas ------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaRun:
    replicas: int
    transitions: Measurement
    database_cpu: float


async def run_replicas(count: int, seconds: float, settle: float, logs: Path) -> ReplicaRun:
    name = create_database()
    url = database_url(name)
    servers = [ServerProcess(url, log_dir=logs).start() for _ in range(count)]
    try:
        async with AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(quadro.AsyncClient(servers[k % count].address))
                for k in range(CALLERS // PER_CHANNEL)
            ]
            await clients[0].create_board(BOARD, default_profile="fast")
            for i in range(CALLERS):
                await clients[0].register_agent(BOARD, agent_id(i))
            clock = ReplicaClock([s.process.pid for s in servers if s.process is not None])
            database_before = postgres_cpu()
            result = await measure(
                transitions(clients, PER_CHANNEL), CALLERS, seconds, clock, settle=settle
            )
            database_cpu = postgres_cpu() - database_before
        return ReplicaRun(count, result, database_cpu)
    finally:
        for server in servers:
            server.stop()
        drop_database(name)


# --- the report -----------------------------------------------------------------------


def report(ceilings: Sequence[PgbenchRun], runs: Sequence[ReplicaRun], seconds: float) -> str:
    one_per_core = ceilings[0]
    with psycopg.connect(ADMIN_URL) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()
        synchronous = conn.execute("SHOW synchronous_commit").fetchone()
    lines = [
        "## Replicas on PostgreSQL against pgbench",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores (replicas, PostgreSQL and client share them)",
        f"- Python {platform.python_version()}, PostgreSQL {server_version[0] if server_version else '?'}"
        f" (synchronous_commit {synchronous[0] if synchronous else '?'})",
        f"- Quadro: {source_version()}",
        f"- {seconds:g} s per measurement; {CALLERS} callers, one channel per {PER_CHANNEL}",
        "",
        "| ceiling | clients | transactions/s | latency (ms) |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| pgbench simple-update | {c.clients} | {c.tps:,.0f} | {c.latency_ms:.2f} |"
            for c in ceilings
        ),
        "",
        "| replicas | transitions/s | vs pgbench (1 client per core) | p50 / p99 (ms) | CPU: replicas / PostgreSQL / client |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        m = run.transitions
        lines.append(
            f"| {run.replicas} | {m.rate:,.0f} | {m.rate / one_per_core.tps:.2f} | "
            f"{m.percentile(50):.1f} / {m.percentile(99):.1f} | "
            f"{m.load(m.cpu.server):.0%} / {m.load(run.database_cpu):.0%} / {m.load(m.cpu.client):.0%} |"
        )
    ratio = runs[0].transitions.rate / one_per_core.tps
    verdict = "met" if ratio >= TARGET else "NOT met"
    lines += [
        "",
        f"Target (one replica >= {TARGET:.0%} of pgbench, one client per core): "
        f"{verdict}, {ratio:.2f}.",
    ]
    return "\n".join(lines)


def ceilings(seconds: float) -> list[PgbenchRun]:
    """pgbench with one client per core, then with 8 clients, on a database of its own."""
    name = create_database()
    try:
        subprocess.run(
            [str(PG_BIN / "pgbench"), "-i", "-s", "10", "-q", database_url(name)],
            check=True,
            capture_output=True,
        )
        return [pgbench(name, os.cpu_count() or 1, seconds), pgbench(name, 8, seconds)]
    finally:
        drop_database(name)


async def replica_runs(args: argparse.Namespace) -> list[ReplicaRun]:
    logs = Path(os.environ.get("TMPDIR", "/tmp"))
    runs = []
    for count in args.replicas:
        print(f"{count} replica(s)...", file=sys.stderr)
        runs.append(await run_replicas(count, args.seconds, args.settle, logs))
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="3 s per measurement")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.settle = 3.0, 1.0
    started = time.monotonic()
    ceiling = ceilings(args.seconds)
    print(report(ceiling, asyncio.run(replica_runs(args)), args.seconds))
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
