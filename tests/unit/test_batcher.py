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


class Gate:
    """A batch method stand-in that answers only when let through: records each batch
    and how many were out at once."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.out = 0
        self.most_out = 0
        self.open = asyncio.Event()

    async def send(self, items: Sequence[int]) -> list[int | errors.QuadroError]:
        self.batches.append(list(items))
        self.out += 1
        self.most_out = max(self.most_out, self.out)
        await self.open.wait()
        self.out -= 1
        return [i * 10 for i in items]


async def test_calls_wait_for_a_batch_in_flight_and_go_out_together() -> None:
    gate = Gate()
    batcher: Batcher[int, int] = Batcher(gate.send, max_items=3, delay=0.001, max_in_flight=1)
    first = asyncio.ensure_future(batcher.submit(0))
    await asyncio.sleep(0.05)  # the first goes out after its delay, alone
    assert gate.batches == [[0]]
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 8)]
    await asyncio.sleep(0.05)  # full or not, they wait for the batch in flight
    assert gate.batches == [[0]]
    gate.open.set()
    answers = await asyncio.wait_for(asyncio.gather(first, *rest), timeout=5)
    assert answers == [i * 10 for i in range(8)]
    # Once it returned: what had gathered, max_items at a time, one batch out at once.
    assert gate.batches == [[0], [1, 2, 3], [4, 5, 6], [7]]
    assert gate.most_out == 1
    await batcher.drain()


async def test_drain_waits_for_the_batches_that_leave_as_others_return() -> None:
    gate = Gate()
    batcher: Batcher[int, int] = Batcher(gate.send, max_items=2, delay=60, max_in_flight=2)
    answers = [asyncio.ensure_future(batcher.submit(i)) for i in range(7)]
    await asyncio.sleep(0.01)
    assert gate.batches == [[0, 1], [2, 3]]  # two out; 4 and 5 wait, 6 too
    gate.open.set()
    await asyncio.wait_for(batcher.drain(), timeout=5)
    assert all(a.done() for a in answers)
    assert gate.batches == [[0, 1], [2, 3], [4, 5], [6]]
    assert gate.most_out == 2


def test_max_in_flight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        Batcher(Recorder().send, max_in_flight=0)
