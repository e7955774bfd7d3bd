"""How the SQLite store commits a batch: without savepoints when every command either
succeeds or is rejected before writing; with a savepoint per command, on a second pass,
when one fails in an unexpected way — so that only that command fails."""

from __future__ import annotations

from pathlib import Path

from quadro_server.core import commands as c
from quadro_server.core.clock import now_us
from quadro_server.core.engine import Engine
from quadro_server.core.errors import Internal
from quadro_server.core.transaction import Applied, Transaction
from quadro_server.storage.base import EventQuery
from quadro_server.storage.sqlite import SqliteStore


class FailingEngine(Engine):
    """Fails half-way through posting a task labelled 'boom', after writing its event."""

    def apply(self, tx: Transaction, command: c.Command, now: int) -> Applied:
        applied = super().apply(tx, command, now)
        if isinstance(command, c.PostTask) and command.label == "boom":
            raise RuntimeError("a bug after the writes")
        return applied


async def test_an_unexpected_failure_costs_only_its_own_command(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "q.db"), engine=FailingEngine())
    await store.start()
    try:
        await store.execute(c.CreateBoard(board_id="b"))
        outcomes = await store.apply(
            [
                c.PostTask(board_id="b", task_type="t", label="first", request_id="r1"),
                c.PostTask(board_id="b", task_type="t", label="boom", request_id="r2"),
                c.PostTask(board_id="b", task_type="t", label="second", request_id="r3"),
            ]
        )
        assert [type(o) for o in outcomes] == [Applied, Internal, Applied]
        page = await store.list_events(EventQuery(board_id="b", limit=10))
        assert [e.sequence for e in page.events] == [1, 2]
        assert page.head_sequence == 2
        board = await store.get_board("b")
        assert board is not None
        assert board.head_sequence == 2
        # The failed command left no idempotency record: its id is still free.
        again = await store.execute(c.PostTask(board_id="b", task_type="t", label="x",
                                               request_id="r2"))  # fmt: skip
        assert not again.replayed
    finally:
        await store.close()


async def test_heads_written_once_per_batch_stay_exact(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "q.db"))
    await store.start()
    try:
        await store.apply([c.CreateBoard(board_id="a"), c.CreateBoard(board_id="b")])
        posts = [
            c.PostTask(board_id="ab"[i % 2], task_type="t", label=str(i), request_id=f"p{i}")
            for i in range(20)
        ]
        await store.apply(posts)
        for board_id in "ab":
            board = await store.get_board(board_id)
            assert board is not None
            assert board.head_sequence == 10
        started = now_us()
        await store.execute(c.PostTask(board_id="a", task_type="t", label="later"))
        page = await store.list_events(EventQuery(board_id="a", limit=100))
        assert [e.sequence for e in page.events] == list(range(1, 12))
        assert page.events[-1].create_time >= started
    finally:
        await store.close()
