"""Gathering single calls into batch calls, for asyncio programs: each caller awaits
its own answer as if it had made the call alone, while the calls go out together —
when `max_items` are waiting, or `delay` seconds after the first one came.

    results = quadro.batcher.Batcher(client.post_results)
    response = await results.submit(quadro.Result(task, "done", agent="w1"))

A batch that cannot be sent at all (the server is away past the client's retries)
fails every caller in it with that error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from quadro import errors, limits

Item = TypeVar("Item")
Answer = TypeVar("Answer")

Send = Callable[[Sequence[Item]], Awaitable[Sequence[Answer | errors.QuadroError]]]


class Batcher(Generic[Item, Answer]):
    def __init__(
        self,
        send: Send[Item, Answer],
        *,
        max_items: int = 100,
        delay: float = 0.002,
    ) -> None:
        """`send` is a batch method of the client (`post_results`, `transition_tasks`,
        or `post_tasks` with its board bound)."""
        if not 1 <= max_items <= limits.BATCH_ITEMS_MAX:
            raise ValueError(f"max_items must be 1 to {limits.BATCH_ITEMS_MAX}")
        self._send = send
        self.max_items = max_items
        self.delay = delay
        self._waiting: list[tuple[Item, asyncio.Future[Answer]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.batches_sent = 0

    async def submit(self, item: Item) -> Answer:
        """The item's answer, once its batch is back; its error is raised."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Answer] = loop.create_future()
        self._waiting.append((item, answer))
        if len(self._waiting) >= self.max_items:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.delay, self._flush)
        return await answer

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._deliver(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _deliver(self, batch: list[tuple[Item, asyncio.Future[Answer]]]) -> None:
        self.batches_sent += 1
        try:
            answers = await self._send([item for item, _ in batch])
        except Exception as exc:  # the whole call failed: so did each item
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            return
        for (_, answer), outcome in zip(batch, answers, strict=True):
            if answer.done():
                continue  # its caller gave up waiting
            if isinstance(outcome, errors.QuadroError):
                answer.set_exception(outcome)
            else:
                answer.set_result(outcome)

    async def drain(self) -> None:
        """Send what is waiting and wait for every batch in flight."""
        self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)


__all__ = ["Batcher"]
