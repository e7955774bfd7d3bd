"""Gathering single calls into batch calls, for asyncio programs: each caller awaits
its own answer as if it had made the call alone, while the calls go out together —
when `max_items` are waiting, or `delay` seconds after the first one came. With
`max_in_flight`, at most that many batches are out at once: the calls that come
meanwhile wait for one to return and go out together then, so that the batches grow
with the server's answer time (as a group commit's do) instead of each call costing
the server a call of its own when it is busiest.

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
        max_in_flight: int | None = None,
    ) -> None:
        """`send` is a batch method of the client (`post_results`, `transition_tasks`,
        or `post_tasks` with its board bound). `max_in_flight`: None for no limit."""
        if not 1 <= max_items <= limits.BATCH_ITEMS_MAX:
            raise ValueError(f"max_items must be 1 to {limits.BATCH_ITEMS_MAX}")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1 (or None: no limit)")
        self._send = send
        self.max_items = max_items
        self.delay = delay
        self.max_in_flight = max_in_flight
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
        while self._waiting and not self._all_out():
            batch = self._waiting[: self.max_items]
            del self._waiting[: self.max_items]
            task = asyncio.get_running_loop().create_task(self._deliver(batch))
            self._sending.add(task)
            task.add_done_callback(self._returned)

    def _all_out(self) -> bool:
        return self.max_in_flight is not None and len(self._sending) >= self.max_in_flight

    def _returned(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if self._waiting and self.max_in_flight is not None:
            # They waited for this batch's answer: long enough to go out at once.
            self._flush()

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
        """Send what is waiting and wait for every batch in flight (and, with
        `max_in_flight`, for those that leave as the first ones return)."""
        self._flush()
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)


__all__ = ["Batcher"]
