"""Throughput of the full task transition path, against an empty RPC as the ceiling.

What it measures, on one real `quadro serve` process that it starts itself on a fresh
SQLite store:

- transitions: each caller loops over the whole life of a task through the public API
  with `quadro.AsyncClient`: PostTask (UNASSIGNED), TransitionTask to IN_PROGRESS with
  the caller's own agent as assignee, PostResult (IN_PROGRESS -> COMPLETE: the board's
  default profile is `fast`). Each of the three calls is one committed write and counts
  as one transition.
- empty RPC: the standard `grpc.health.v1.Health/Check` on the same server, through
  plain `grpc.aio` stubs: what a call costs when the handler does nothing.

Both run at each concurrency level (default 1, 8 and 64 concurrent callers: asyncio
tasks in this one process, one gRPC channel per 8 callers), after a warm-up, for 8 s
each in steady state, split into windows in which the two workloads take turns.
Latency is per call (each of the three calls of a task is one sample). The ratio
transitions/s / empty calls/s says how close the write path comes to the cost of the RPC
itself; the project's target is >= 0.5 at 64 callers. The CPU used by the server, by
this client and by any other process during each measurement is reported too, so that
a client-bound ceiling, a saturated server or a busy neighbour shows.

Run from the repository root (a markdown report goes to stdout, progress to stderr):

    .venv/bin/python bench/bench_transitions.py                       # durability full
    .venv/bin/python bench/bench_transitions.py --durability fast
    .venv/bin/python bench/bench_transitions.py --quick               # ~1 s per level
    .venv/bin/python bench/bench_transitions.py --group-commit        # with and without

`--group-commit` runs 64 callers twice, back to back, each on a fresh server: with
`--max-batch 1` (each call commits on its own: no group commit) and with the default
commit size, and reports both.

The store lives in a temporary directory (honours TMPDIR): the file system it is on
decides what an fsync costs, so the report names it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import functools
import math
import operator
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TypeVar

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

import quadro

# The server is started exactly as the integration tests start theirs, by the helper in
# tests/support: one way to run a real server process, kept in one place.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.server import ServerProcess

REPO = Path(__file__).resolve().parents[1]

T = TypeVar("T")

BOARD = "bench"
TASK_TYPE = "bench.task"
TARGET_CALLERS = 64
TARGET_RATIO = 0.5
HEALTH_CHECK = health_pb2.HealthCheckRequest()
# Seconds the callers run before a window opens, once the channels are warm.
SETTLE = 0.25
# Other processes' CPU, as a share of one core, above which the report warns.
DISTURBED = 0.1


# --- measuring ------------------------------------------------------------------------


class Recorder:
    """When every call of a measurement finished, and how long it took."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, float]] = []

    async def time(self, call: Awaitable[T]) -> T:
        start = time.perf_counter()
        result = await call
        end = time.perf_counter()
        self.calls.append((end, end - start))
        return result

    def latencies(self, start: float, end: float) -> list[float]:
        """Latencies of the calls that finished between `start` and `end`, sorted."""
        return sorted(latency for done, latency in self.calls if start <= done < end)


# One unit of work of caller number `i`: one or more calls, each timed by the recorder.
Unit = Callable[[int, Recorder], Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class CpuSeconds:
    """CPU time (user + system, all threads) of the server, of this client, and of the
    whole machine."""

    server: float
    client: float
    machine: float

    def __sub__(self, earlier: CpuSeconds) -> CpuSeconds:
        return CpuSeconds(
            self.server - earlier.server,
            self.client - earlier.client,
            self.machine - earlier.machine,
        )

    def __add__(self, more: CpuSeconds) -> CpuSeconds:
        return CpuSeconds(
            self.server + more.server, self.client + more.client, self.machine + more.machine
        )

    @property
    def others(self) -> float:
        """Used by other processes: a busy neighbour (a test run, a build) shows here."""
        return max(0.0, self.machine - self.server - self.client)


class CpuClock:
    def __init__(self, server_pid: int) -> None:
        self._server = psutil.Process(server_pid)
        self._client = psutil.Process()

    def read(self) -> CpuSeconds:
        server, client = self._server.cpu_times(), self._client.cpu_times()
        machine = psutil.cpu_times()
        # Idle, I/O wait and steal are not work done on this machine's behalf.
        busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
        return CpuSeconds(
            float(server.user + server.system), float(client.user + client.system), float(busy)
        )


@dataclasses.dataclass(frozen=True)
class Measurement:
    calls: int
    seconds: float
    # Sorted, in seconds.
    latencies: Sequence[float]
    cpu: CpuSeconds

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        rank = max(1, math.ceil(q / 100 * len(self.latencies)))
        return self.latencies[rank - 1] * 1000

    def load(self, cpu_seconds: float) -> float:
        """CPU time as a share of one core over this measurement (1.0: one core busy
        throughout)."""
        return cpu_seconds / self.seconds

    def server_cpu_per_call_us(self) -> float:
        return self.cpu.server / self.calls * 1e6


def merged(parts: Sequence[Measurement]) -> Measurement:
    """Several measurements of one workload as one."""
    return Measurement(
        calls=sum(m.calls for m in parts),
        seconds=sum(m.seconds for m in parts),
        latencies=sorted(latency for m in parts for latency in m.latencies),
        cpu=functools.reduce(operator.add, (m.cpu for m in parts)),
    )


async def measure(
    unit: Unit, callers: int, seconds: float, cpu: CpuClock, *, settle: float
) -> Measurement:
    """Steady-state throughput of `callers` concurrent loops of `unit`.

    The loops run for `settle` seconds before the measured window opens and until it has
    closed; only calls that finish inside the window count, and the CPU clocks are read at
    its edges. So the ramp-up (all callers starting at once) and the ramp-down (callers
    finishing their last unit one by one) stay out of the figures: they would otherwise
    favour the workload with the shorter unit.
    """
    recorder = Recorder()
    stopping = False

    async def caller(i: int) -> None:
        while not stopping:
            await unit(i, recorder)

    loops = [asyncio.create_task(caller(i)) for i in range(callers)]
    try:
        await asyncio.sleep(settle)
        cpu_start, start = cpu.read(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu_end, end = cpu.read(), time.perf_counter()
    finally:
        stopping = True
        await asyncio.gather(*loops)
    latencies = recorder.latencies(start, end)
    return Measurement(len(latencies), end - start, latencies, cpu_end - cpu_start)


# --- the two workloads ----------------------------------------------------------------


def agent_id(caller: int) -> str:
    return f"caller-{caller}"


def transitions(
    clients: Sequence[quadro.AsyncClient], per_channel: int, board: str = BOARD
) -> Unit:
    """A task's whole life, as a worker lives it: post, take, deliver."""

    async def unit(i: int, recorder: Recorder) -> None:
        client, agent = clients[i // per_channel], agent_id(i)
        posted = await recorder.time(client.post_task(board, TASK_TYPE, "benchmark task"))
        taken = await recorder.time(
            client.transition_task(posted.task.name, "IN_PROGRESS", assignee=agent)
        )
        done = await recorder.time(
            client.post_result(taken.task.name, "done", agent=agent, attempt=taken.task.attempt)
        )
        # Cheap, and it proves the three calls were the three transitions we count.
        if done.task.status != "COMPLETE":
            raise RuntimeError(f"{done.task.name} ended {done.task.status}, not COMPLETE")

    return unit


def empty_calls(stubs: Sequence[health_pb2_grpc.HealthStub], per_channel: int) -> Unit:
    async def unit(i: int, recorder: Recorder) -> None:
        await recorder.time(stubs[i // per_channel].Check(HEALTH_CHECK, timeout=30))

    return unit


# --- one concurrency level ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    levels: Sequence[int]
    per_channel: int
    # Measured time per workload and level, split into `rounds` windows.
    seconds: float
    rounds: int
    # Uncounted time before the first window of each workload at each level.
    warmup: float

    @property
    def window(self) -> float:
        return self.seconds / self.rounds


@dataclasses.dataclass(frozen=True)
class Level:
    callers: int
    channels: int
    transitions: Measurement
    empty: Measurement

    @property
    def ratio(self) -> float:
        return self.transitions.rate / self.empty.rate


@asynccontextmanager
async def quadro_clients(address: str, count: int) -> AsyncIterator[list[quadro.AsyncClient]]:
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(quadro.AsyncClient(address)) for _ in range(count)]


@asynccontextmanager
async def health_stubs(address: str, count: int) -> AsyncIterator[list[health_pb2_grpc.HealthStub]]:
    async with AsyncExitStack() as stack:
        channels = [
            await stack.enter_async_context(grpc.aio.insecure_channel(address))
            for _ in range(count)
        ]
        yield [health_pb2_grpc.HealthStub(channel) for channel in channels]


async def run_level(address: str, callers: int, settings: Settings, cpu: CpuClock) -> Level:
    # Both workloads get the same number of channels, so that they differ only in what
    # the server does per call.
    channels = math.ceil(callers / settings.per_channel)
    async with (
        quadro_clients(address, channels) as clients,
        health_stubs(address, channels) as stubs,
    ):
        workloads = (
            transitions(clients, settings.per_channel),
            empty_calls(stubs, settings.per_channel),
        )
        parts: tuple[list[Measurement], list[Measurement]] = ([], [])
        # The workloads take turns, window by window: a neighbour that loads the machine
        # for a few seconds, or a store that slows as it grows, then weighs on both
        # alike instead of skewing their ratio.
        for round_ in range(settings.rounds):
            # The first window of each is preceded by a warm-up that connects the channels
            # and fills the server's caches; later ones only need the callers in flight.
            settle = settings.warmup if round_ == 0 else SETTLE
            for unit, measured in zip(workloads, parts, strict=True):
                measured.append(await measure(unit, callers, settings.window, cpu, settle=settle))
    return Level(callers, channels, merged(parts[0]), merged(parts[1]))


async def run_all(server: ServerProcess, settings: Settings) -> list[Level]:
    assert server.process is not None
    cpu = CpuClock(server.process.pid)
    async with quadro.AsyncClient(server.address) as client:
        await client.create_board(BOARD, display_name="benchmark", default_profile="fast")
        # One agent per caller, each allowed one task in IN_PROGRESS: a caller holds one
        # task at a time, and the server's per-agent capacity check runs on every take.
        await asyncio.gather(
            *(
                client.register_agent(BOARD, agent_id(i), concurrency=1)
                for i in range(max(settings.levels))
            )
        )
    levels = []
    for callers in settings.levels:
        print(f"{callers} caller(s)...", file=sys.stderr, flush=True)
        level = await run_level(server.address, callers, settings, cpu)
        print(
            f"  {level.transitions.rate:,.0f} transitions/s, "
            f"{level.empty.rate:,.0f} empty calls/s, ratio {level.ratio:.2f}",
            file=sys.stderr,
            flush=True,
        )
        levels.append(level)
    return levels


# --- the report -----------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def file_system(path: Path) -> str:
    """`ext4 on /dev/vda`: what an fsync of the store costs depends on it."""
    holding = [
        part
        for part in psutil.disk_partitions(all=True)
        if str(path).startswith(part.mountpoint.rstrip("/") + "/")
    ]
    if not holding:
        return "unknown"
    mount = max(holding, key=lambda part: len(part.mountpoint))
    return f"{mount.fstype} on {mount.device}"


def source_version() -> str:
    """The commit benchmarked, and whether the tree had changes on top of it (the figures
    belong to the code, not just to the machine)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        # Read-only: compares contents, and unlike `git status` never writes the index.
        changed = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"], cwd=REPO).returncode
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes" if changed else "")


def machine(durability: str, store: Path) -> list[str]:
    return [
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores (client and server share them)",
        f"- OS: {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, grpcio {grpc.__version__}, "
        f"SQLite {sqlite3.sqlite_version}",
        f"- durability: {durability}; store: {file_system(store)}",
        f"- Quadro: commit {source_version()}",
    ]


def ms(m: Measurement) -> str:
    return f"{m.percentile(50):.2f} / {m.percentile(99):.2f}"


def cpu_shares(m: Measurement) -> str:
    shares = (m.cpu.server, m.cpu.client, m.cpu.others)
    return " / ".join(f"{m.load(s) * 100:.0f}%" for s in shares)


def tables(levels: Sequence[Level]) -> list[str]:
    lines = [
        "| callers | channels | transitions/s | empty RPC calls/s | ratio "
        "| transition p50 / p99 (ms) | empty RPC p50 / p99 (ms) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {lv.callers} | {lv.channels} | {lv.transitions.rate:,.0f} | {lv.empty.rate:,.0f} "
        f"| {lv.ratio:.2f} | {ms(lv.transitions)} | {ms(lv.empty)} |"
        for lv in levels
    ]
    lines += [
        "",
        "CPU as a share of one core (100% = one core busy throughout); client is this "
        "process, others every other process on the machine:",
        "",
        "| callers | CPU during transitions: server / client / others "
        "| CPU during empty RPC: server / client / others "
        "| server CPU per transition (µs) | server CPU per empty call (µs) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {lv.callers} | {cpu_shares(lv.transitions)} | {cpu_shares(lv.empty)} "
        f"| {lv.transitions.server_cpu_per_call_us():,.0f} "
        f"| {lv.empty.server_cpu_per_call_us():,.0f} |"
        for lv in levels
    ]
    return lines


def disturbance(levels: Sequence[Level]) -> list[str]:
    """A warning when other processes competed for the CPU: the figures then understate
    what the server can do."""
    worst = max(m.load(m.cpu.others) for lv in levels for m in (lv.transitions, lv.empty))
    if worst < DISTURBED:
        return []
    return [
        "",
        f"Warning: other processes used up to {worst * 100:.0f}% of a core during a "
        "measurement; rerun on a quiet machine.",
    ]


def verdict(levels: Sequence[Level]) -> str:
    at_target = [lv for lv in levels if lv.callers == TARGET_CALLERS]
    if not at_target:
        return f"Target not evaluated: no run at {TARGET_CALLERS} callers."
    ratio = at_target[0].ratio
    met = "met" if ratio >= TARGET_RATIO else "NOT met"
    return (
        f"Target (ratio >= {TARGET_RATIO} at {TARGET_CALLERS} callers): {met}, ratio {ratio:.2f}."
    )


def report(levels: Sequence[Level], settings: Settings, durability: str, store: Path) -> str:
    return "\n".join(
        [
            f"## Transitions vs empty RPC, durability {durability}",
            "",
            *machine(durability, store),
            f"- per level and workload: {settings.seconds:g} s measured in {settings.rounds} "
            f"window(s) taking turns with the other workload, after {settings.warmup:g} s "
            f"of warm-up; one channel per {settings.per_channel} callers",
            "",
            *tables(levels),
            *disturbance(levels),
            "",
            verdict(levels),
        ]
    )


# --- command line ---------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0] if __doc__ else None,
        epilog="Prints a markdown report on stdout.",
    )
    parser.add_argument(
        "--durability",
        choices=["full", "fast"],
        default="full",
        help="passed to quadro serve (default full: SQLite synchronous=FULL)",
    )
    parser.add_argument(
        "--callers",
        type=int,
        nargs="+",
        default=[1, 8, TARGET_CALLERS],
        help="concurrency levels (default 1 8 64)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=8.0,
        help="measured time per workload and level (default 8)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="windows the measured time is split into, the workloads taking turns (default 4)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="uncounted time before each workload's first window at each level (default 2)",
    )
    parser.add_argument(
        "--callers-per-channel",
        type=int,
        default=8,
        help="callers sharing one gRPC channel (default 8)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 s per measurement, short warm-up"
    )
    parser.add_argument(
        "--group-commit",
        action="store_true",
        help=f"{TARGET_CALLERS} callers without group commit (--max-batch 1) and with it",
    )
    return parser.parse_args(argv)


def run_server(durability: str, settings: Settings, *extra: str) -> tuple[list[Level], Path]:
    with tempfile.TemporaryDirectory(prefix="quadro-bench-") as folder:
        store = Path(folder) / "quadro.db"
        server = ServerProcess(store, "--durability", durability, *extra).start()
        try:
            return asyncio.run(run_all(server, settings)), store
        finally:
            server.stop()


def group_commit_report(
    without: Level, with_it: Level, settings: Settings, durability: str, store: Path
) -> str:
    rows = [
        f"| {name} | {lv.transitions.rate:,.0f} | {lv.empty.rate:,.0f} | {lv.ratio:.2f} "
        f"| {ms(lv.transitions)} | {lv.transitions.server_cpu_per_call_us():,.0f} |"
        for name, lv in (("each call on its own (`--max-batch 1`)", without),
                         ("group commit (default)", with_it))
    ]  # fmt: skip
    return "\n".join(
        [
            f"## Single-call transitions at {TARGET_CALLERS} callers, without and with group "
            "commit",
            "",
            *machine(durability, store),
            f"- {settings.seconds:g} s measured per workload, back to back on fresh servers",
            "",
            "| commits | transitions/s | empty RPC calls/s | ratio | transition p50 / p99 (ms) "
            "| server CPU per transition (µs) |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            f"Group commit: {with_it.transitions.rate / without.transitions.rate:.2f}x the "
            "transitions/s.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if min(*args.callers, args.callers_per_channel, args.rounds) < 1 or args.seconds <= 0:
        sys.exit("callers, callers per channel, rounds and seconds must be positive")
    settings = Settings(
        levels=args.callers,
        per_channel=args.callers_per_channel,
        seconds=1.0 if args.quick else args.seconds,
        rounds=1 if args.quick else args.rounds,
        warmup=0.3 if args.quick else args.warmup,
    )
    if args.group_commit:
        single = dataclasses.replace(settings, levels=[TARGET_CALLERS])
        (without,), _ = run_server(args.durability, single, "--max-batch", "1")
        (with_it,), store = run_server(args.durability, single)
        print(group_commit_report(without, with_it, single, args.durability, store))
        return 0
    levels, store = run_server(args.durability, settings)
    print(report(levels, settings, args.durability, store))
    return 0


if __name__ == "__main__":
    sys.exit(main())
