"""Helpers for tests of the runtimes (Chiefs, Workers) running in the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol


class Runner(Protocol):
    ready: asyncio.Event

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class Background:
    """Runs Chiefs and Workers until the block ends, then stops them and waits."""

    def __init__(self, *runners: Runner) -> None:
        self.runners = runners
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Background:
        for runner in self.runners:
            self.tasks.append(asyncio.create_task(runner.run()))
            await asyncio.wait_for(runner.ready.wait(), 15)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for runner in self.runners:
            runner.stop()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 30)


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 30) -> None:
    """Poll `check` until it holds; fail the test after `seconds`."""
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
