"""The handler of bench_runtime.py's workers: does nothing, at once."""

from __future__ import annotations

from quadro_workers import WorkContext


async def noop(context: WorkContext) -> str:
    return "ok"
