"""What authentication and tenant scoping cost on the transition path, against the same
path without them, in the same run.

Two real `quadro serve` processes on fresh SQLite stores, identical but for one thing:
the second has `--auth-config`, and every call to it carries an API token whose
principal (role admin, scoped to one tenant) passes the whole gate — token lookup, role
check, and the scope check of every board the request names. Both boards are in that
tenant's scope (`acme.bench`). The workload is bench/bench_transitions.py's: 64 callers
each walking tasks through PostTask, TransitionTask and PostResult. The two servers take
turns, window by window, so that a busy neighbour weighs on both alike.

Reported: transitions/s and server CPU per transition of each, and the slowdown of the
authenticated one (the project's target: under 10%). The CPU figure is the steadier one
on a shared machine; both are given.

    .venv/bin/python bench/bench_auth.py            # about 1 min
    .venv/bin/python bench/bench_auth.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import quadro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench import bench_transitions as bt
from bench.bench_transitions import CpuClock, Measurement, agent_id, measure, merged
from support.server import ServerProcess

CALLERS = 64
PER_CHANNEL = 8
BOARD = "acme.bench"
TOKEN = "qd_bench_" + "x" * 32
TARGET_SLOWDOWN = 0.10


async def prepare(server: ServerProcess, token: str | None) -> None:
    async with quadro.AsyncClient(server.address, token=token) as client:
        await client.create_board(BOARD, default_profile="fast")
        await asyncio.gather(
            *(client.register_agent(BOARD, agent_id(i), concurrency=1) for i in range(CALLERS))
        )


async def run(
    servers: dict[str, tuple[ServerProcess, str | None]], rounds: int, window: float, warmup: float
) -> dict[str, Measurement]:
    parts: dict[str, list[Measurement]] = {name: [] for name in servers}
    async with AsyncExitStack() as stack:
        clients = {
            name: [
                await stack.enter_async_context(quadro.AsyncClient(server.address, token=token))
                for _ in range(CALLERS // PER_CHANNEL)
            ]
            for name, (server, token) in servers.items()
        }
        clocks = {name: CpuClock(server.process.pid) for name, (server, _) in servers.items()}  # type: ignore[union-attr]
        for round_ in range(rounds):
            for name in servers:
                unit = bt.transitions(clients[name], PER_CHANNEL, BOARD)
                settle = warmup if round_ == 0 else 1.0
                parts[name].append(
                    await measure(unit, CALLERS, window, clocks[name], settle=settle)
                )
                print(
                    f"  round {round_ + 1} {name}: {parts[name][-1].rate:,.0f}/s", file=sys.stderr
                )
    return {name: merged(found) for name, found in parts.items()}


def report(results: dict[str, Measurement], window: float, rounds: int) -> str:
    plain, secured = results["without auth"], results["with auth"]
    slowdown = 1 - secured.rate / plain.rate
    cpu_cost = secured.server_cpu_per_call_us() / plain.server_cpu_per_call_us() - 1
    lines = [
        "## The cost of authentication and scoping",
        "",
        f"- CPU: {bt.cpu_model()}",
        f"- Quadro: {bt.source_version()}; SQLite store, durability full, two servers",
        f"- {CALLERS} callers, {rounds} windows of {window:.0f} s per server, taking turns",
        "",
        "| server | transitions/s | p50 / p99 (ms) | server CPU per transition (µs) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, m in results.items():
        lines.append(
            f"| {name} | {m.rate:,.0f} | {m.percentile(50):.1f} / {m.percentile(99):.1f} "
            f"| {m.server_cpu_per_call_us():,.0f} |"
        )
    lines += [
        "",
        f"Slowdown with auth: **{slowdown:+.1%}** in transitions/s, "
        f"**{cpu_cost:+.1%}** in server CPU per transition "
        f"(target: under {TARGET_SLOWDOWN:.0%}: {'met' if max(slowdown, cpu_cost) < TARGET_SLOWDOWN else 'NOT met'}).",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one 2 s window per server")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--window", type=float, default=6.0, help="seconds per window")
    args = parser.parse_args(argv)
    rounds, window, warmup = (1, 2.0, 0.5) if args.quick else (args.rounds, args.window, 2.0)
    with tempfile.TemporaryDirectory(prefix="quadro-bench-") as folder:
        config = Path(folder) / "auth.yaml"
        digest = hashlib.sha256(TOKEN.encode()).hexdigest()
        config.write_text(
            "principals:\n"
            f"  - {{name: bench, token_sha256: '{digest}', roles: [admin], scopes: [acme]}}\n"
        )
        plain = ServerProcess(Path(folder) / "plain.db").start()
        secured = ServerProcess(Path(folder) / "secured.db", "--auth-config", str(config)).start()
        servers = {"without auth": (plain, None), "with auth": (secured, TOKEN)}
        try:
            for server, token in servers.values():
                asyncio.run(prepare(server, token))
            results = asyncio.run(run(servers, rounds, window, warmup))
        finally:
            plain.stop()
            secured.stop()
    print(report(results, window, rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
