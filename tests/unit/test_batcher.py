"""The Batcher: calls gathered by size or by delay, each caller given its own answer or
error, and a failed batch failing each of its callers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
import pytest

from quadro import errors
from quadro.batcher import Batcher


class Recorder:
    """A batch method stand-in: records each batch; odd numbers are refused."""

    def __init__(self, fail_all: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail_all = fail_all

    async def send(self, items: Sequence[int]) -> list[int | errors.QuadroError]:
        self.batches.append(list(items))
        await asyncio.sleep(0)
        if self.fail_all:
            raise errors.Unavailable(grpc.StatusCode.UNAVAILABLE, "away")
        return [
            errors.FailedPrecondition(grpc.StatusCode.FAILED_PRECONDITION, f"odd {i}")
            if i % 2
            else i * 10
            for i in items
        ]


async def test_calls_within_the_delay_go_together() -> None:
    recorder = Recorder()
    batcher: Batcher[int, int] = Batcher(recorder.send, max_items=100, delay=0.05)
    answers = await asyncio.gather(*(batcher.submit(i) for i in range(6)), return_exceptions=True)
    assert recorder.batches == [[0, 1, 2, 3, 4, 5]]
    assert answers[0::2] == [0, 20, 40]
    assert all(isinstance(a, errors.FailedPrecondition) for a in answers[1::2])
    assert str(answers[1]).endswith("odd 1")


async def test_a_full_batch_goes_at_once() -> None:
    recorder = Recorder()
    batcher: Batcher[int, int] = Batcher(recorder.send, max_items=4, delay=60)
    answers = await asyncio.wait_for(
        asyncio.gather(*(batcher.submit(i * 2) for i in range(8))), timeout=5
    )
    assert recorder.batches == [[0, 2, 4, 6], [8, 10, 12, 14]]
    assert answers == [i * 20 for i in range(8)]


async def test_a_failed_batch_fails_each_caller() -> None:
    batcher: Batcher[int, int] = Batcher(Recorder(fail_all=True).send, delay=0.001)
    outcomes = await asyncio.gather(batcher.submit(2), batcher.submit(4), return_exceptions=True)
    assert [type(o) for o in outcomes] == [errors.Unavailable, errors.Unavailable]


async def test_drain_sends_what_waits() -> None:
    recorder = Recorder()
    batcher: Batcher[int, int] = Batcher(recorder.send, delay=60)
    waiting = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0)
    await batcher.drain()
    assert await waiting == 20
    assert batcher.batches_sent == 1


def test_batch_size_is_bounded() -> None:
    with pytest.raises(ValueError, match="max_items"):
        Batcher(Recorder().send, max_items=501)
