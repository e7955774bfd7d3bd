"""End-to-end tasks per second through the coordination runtime (post -> dispatch by a
Chief -> no-op handler in a Worker -> complete), against the raw transition rate of the
same server in the same run.

What it measures, on one real `quadro serve` process on a fresh SQLite store (its own
Ombudsman on, as deployed):

- ceiling: the foundation's transition path, exactly as bench/bench_transitions.py
  drives it (64 callers walking tasks through PostTask, TransitionTask, PostResult);
  its rate divided by the three transitions a task needs is the *ideal* task rate;
- the runtime: one `quadro chief` process (default policy, reactive) and four
  `quadro worker` processes (a no-op coroutine handler, concurrency 16 each) on a board
  of their own, fed by a producer in this process that keeps 256 tasks unfinished
  (closed loop: a task is posted whenever one completes; posts go out in batch calls). Tasks/s counts completions in
  the measured window; dispatch latency is the assignment event's time minus the post
  event's (both server timestamps); Chief cycles per task are the cycles the Chief
  recorded on the board in the window divided by the tasks completed in it. A second
  phase posts open loop at half the rate measured, for the dispatch latency of a runtime
  that is not saturated (saturated, a task mostly waits its turn in the backlog).

The project's target: at least half of the ideal rate, and fewer than 0.2 Chief cycles per
task under load.

Run from the repository root:

    .venv/bin/python bench/bench_runtime.py
    .venv/bin/python bench/bench_runtime.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

import quadro
from quadro import limits
from quadro.batcher import Batcher
from quadro.v1 import event_pb2

# Run as a script: the repository root (for bench.*) and tests/ (for support.*).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench.bench_transitions import (
    BOARD,
    CpuClock,
    Measurement,
    agent_id,
    cpu_model,
    measure,
    source_version,
    transitions,
)
from support.processes import QuadroProcess
from support.server import ServerProcess

REPO = Path(__file__).resolve().parents[1]
FLOW = "flow"
CALLERS = 64
PER_CHANNEL = 8
WORKERS = 4
WORKER_CONCURRENCY = 16
BACKLOG = 256
# The producer's posts go out together in batch calls of up to 500 tasks (the most a
# call takes), one call at a time: the posts that come while one is out go in the next,
# as a client posting a stream of work would.
TARGET_SHARE = 0.5
TARGET_CYCLES_PER_TASK = 0.2


@dataclass
class Flow:
    """What the producer saw in the measured window."""

    completed: int
    seconds: float
    dispatch_ms: list[float]  # sorted
    half_load_dispatch_ms: list[float]  # sorted
    cycles: int
    cpu: dict[str, float]  # share of one core, by process kind

    @property
    def rate(self) -> float:
        return self.completed / self.seconds

    def percentile(self, q: float, half_load: bool = False) -> float:
        found = self.half_load_dispatch_ms if half_load else self.dispatch_ms
        rank = max(1, math.ceil(q / 100 * len(found)))
        return found[rank - 1]


async def ceiling(server: ServerProcess, seconds: float) -> Measurement:
    assert server.process is not None
    async with quadro.AsyncClient(server.address) as client:
        await client.create_board(BOARD, default_profile="fast")
        await asyncio.gather(
            *(client.register_agent(BOARD, agent_id(i), concurrency=1) for i in range(CALLERS))
        )
    clients = [quadro.AsyncClient(server.address) for _ in range(CALLERS // PER_CHANNEL)]
    try:
        return await measure(
            transitions(clients, PER_CHANNEL),
            CALLERS,
            seconds,
            CpuClock(server.process.pid),
            settle=2.0,
        )
    finally:
        for client in clients:
            await client.close()


def start_runtime(
    server: ServerProcess, concurrency: int = WORKER_CONCURRENCY
) -> list[QuadroProcess]:
    processes = [
        QuadroProcess("chief", "--server", server.address, "--board", FLOW, "--name", "bench",
                      "--log-level", "WARNING", cwd=REPO).start("quadro chief: bench")
    ]  # fmt: skip
    for i in range(WORKERS):
        processes.append(
            QuadroProcess(
                "worker", "--server", server.address, "--board", FLOW, "--agent", f"w{i}",
                "--handler", "bench._noop_handler:noop", "--concurrency",
                str(concurrency), "--log-level", "WARNING", cwd=REPO,
            ).start(f"quadro worker: w{i}")
        )  # fmt: skip
    return processes


class Producer:
    """Keeps `backlog` tasks unfinished, learning of completions from a subscription to
    them alone (the measuring itself should cost the server little). It posts what the
    completions free, one call at a time (up to 500 tasks a call): the completions that
    come while a call is out go in the next, as a client posting a stream of work would,
    and no task costs the producer a future or a coroutine of its own."""

    def __init__(self, client: quadro.AsyncClient, backlog: int) -> None:
        self.client = client
        self.free = backlog  # tasks to post: the backlog, then one per completion
        self.completions: list[float] = []  # server times of the completion events
        self._freed = asyncio.Event()
        self._freed.set()

    async def follow(self) -> None:
        async with self.client.subscribe(
            FLOW, after_sequence=0, event_types=["task_completed"]
        ) as events:
            async for event in events:
                self.completions.append(event.create_time.ToMicroseconds() / 1e6)
                self.free += 1
                self._freed.set()

    async def post(self) -> None:
        """Post for every free slot, a call at a time; cancelled, it stops posting."""
        while True:
            await self._freed.wait()
            self._freed.clear()
            count = min(self.free, limits.BATCH_ITEMS_MAX)
            self.free -= count
            if self.free:
                self._freed.set()
            await self.client.post_tasks(
                FLOW, [quadro.NewTask("noop", "task")] * count, event_only=True
            )


def posting_batcher(client: quadro.AsyncClient) -> Batcher[quadro.NewTask, Any]:
    return Batcher(
        functools.partial(client.post_tasks, FLOW, event_only=True),
        max_items=limits.BATCH_ITEMS_MAX,
        max_in_flight=1,
    )


class ProcessCpu:
    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.processes = {k: [psutil.Process(p) for p in v] for k, v in pids.items()}

    def read(self) -> dict[str, float]:
        return {
            kind: sum(float(sum(p.cpu_times()[:2])) for p in group)
            for kind, group in self.processes.items()
        }


async def run_flow(
    server: ServerProcess,
    seconds: float,
    warmup: float,
    concurrency: int = WORKER_CONCURRENCY,
    backlog: int = BACKLOG,
) -> Flow:
    assert server.process is not None
    async with quadro.AsyncClient(server.address) as client:
        await client.create_board(FLOW, default_profile="fast")
        processes = start_runtime(server, concurrency)
        try:
            producer = Producer(client, backlog)
            follow = asyncio.create_task(producer.follow())
            posting = asyncio.create_task(producer.post())
            cpu = ProcessCpu({
                "server": [server.process.pid],
                "chief": [processes[0].process.pid],  # type: ignore[union-attr]
                "workers": [p.process.pid for p in processes[1:]],  # type: ignore[union-attr]
                "bench": [os.getpid()],
            })  # fmt: skip
            await asyncio.sleep(warmup)
            cycles_before = (await client.get_chief(FLOW, "bench")).chief.cycles
            cpu_before, start = cpu.read(), time.time()
            await asyncio.sleep(seconds)
            cpu_after, end = cpu.read(), time.time()
            cycles_after = (await client.get_chief(FLOW, "bench")).chief.cycles
            if posting.done():
                posting.result()  # a post that failed ends the run with its error
            posting.cancel()
            completed = sum(1 for t in producer.completions if start <= t < end)
            # Half the load, open loop: how long a task waits for a Chief when the
            # runtime is not saturated (under saturation it waits in the backlog).
            await drained(client)
            half_start = time.time()
            await post_at(client, completed / (end - start) / 2, seconds)
            half_end = time.time()
            await drained(client)
            follow.cancel()
        finally:
            for process in processes:
                process.stop()
        dispatch = await dispatch_latencies(client, start, end)
        half = await dispatch_latencies(client, half_start, half_end)
    return Flow(
        completed=completed,
        seconds=end - start,
        dispatch_ms=dispatch,
        half_load_dispatch_ms=half,
        cycles=cycles_after - cycles_before,
        cpu={k: (cpu_after[k] - cpu_before[k]) / (end - start) for k in cpu_after},
    )


async def drained(client: quadro.AsyncClient) -> None:
    """Wait until every task of the flow board is complete."""
    for _ in range(600):
        live = await client.list_tasks(FLOW, statuses=["UNASSIGNED", "IN_PROGRESS"], page_size=1)
        if not live.tasks:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the runtime did not drain its backlog within 60 s")


async def post_at(client: quadro.AsyncClient, rate: float, seconds: float) -> None:
    """Post tasks open loop: task i leaves at start + i / rate, answered or not."""
    posts = posting_batcher(client)
    start = time.perf_counter()
    calls = []
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        calls.append(asyncio.create_task(posts.submit(quadro.NewTask("noop", "half load"))))
    await asyncio.gather(*calls)


async def dispatch_latencies(client: quadro.AsyncClient, start: float, end: float) -> list[float]:
    """Posted -> assigned, in ms, of the tasks assigned in the window, from the log (the
    server's clock on both ends)."""
    posted: dict[str, float] = {}
    latencies = []
    async for event in client.iter_events(
        FLOW, event_types=["task_posted", "task_assigned"], page_size=1000
    ):
        at = event.create_time.ToMicroseconds() / 1e6
        if event.type == event_pb2.EVENT_TYPE_TASK_POSTED:
            posted[event.task] = at
        elif event.from_status == "UNASSIGNED" and event.task in posted and start <= at < end:
            latencies.append((at - posted[event.task]) * 1000)
    return sorted(latencies)


def report(raw: Measurement, flow: Flow, seconds: float) -> str:
    ideal = raw.rate / 3
    share = flow.rate / ideal
    per_task = flow.cycles / max(1, flow.completed)
    met = share >= TARGET_SHARE and per_task < TARGET_CYCLES_PER_TASK
    cpu = " / ".join(f"{flow.cpu[k] * 100:.0f}%" for k in ("server", "chief", "workers", "bench"))
    return "\n".join([
        "## The coordination runtime end to end",
        "",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores (server, Chief, workers and this "
        "process share them)",
        f"- Quadro: {source_version()}; SQLite store, durability full",
        f"- {seconds:g} s measured; 1 Chief (reactive, default policy), {WORKERS} workers x "
        f"concurrency {WORKER_CONCURRENCY}, {BACKLOG} tasks kept unfinished",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| raw transitions/s (64 callers, same server) | {raw.rate:,.0f} |",
        f"| ideal tasks/s (raw / 3) | {ideal:,.0f} |",
        f"| tasks/s through Chief and Workers | {flow.rate:,.0f} |",
        f"| share of the ideal | **{share:.2f}** |",
        f"| Chief cycles per task | **{per_task:.3f}** ({flow.cycles} cycles) |",
        f"| dispatch latency p50 / p99 (ms), saturated ({BACKLOG} tasks kept unfinished) | "
        f"{flow.percentile(50):.1f} / {flow.percentile(99):.1f} |",
        f"| dispatch latency p50 / p99 (ms), half that load, open loop | "
        f"{flow.percentile(50, True):.1f} / {flow.percentile(99, True):.1f} |",
        f"| CPU: server / Chief / workers / producer | {cpu} |",
        "",
        f"Target (>= {TARGET_SHARE} of the ideal, < {TARGET_CYCLES_PER_TASK} cycles per task): "
        f"{'met' if met else 'NOT met'}.",
    ])  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured time (default 15)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 s measured")
    args = parser.parse_args(argv)
    seconds = 3.0 if args.quick else args.seconds
    with tempfile.TemporaryDirectory(prefix="quadro-bench-") as folder:
        server = ServerProcess(Path(folder) / "quadro.db").start()
        try:
            print("raw transitions...", file=sys.stderr, flush=True)
            raw = asyncio.run(ceiling(server, seconds))
            print("chief and workers...", file=sys.stderr, flush=True)
            flow = asyncio.run(run_flow(server, seconds, warmup=3.0))
        finally:
            server.stop()
    print(report(raw, flow, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
