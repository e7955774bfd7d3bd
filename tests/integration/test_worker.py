"""The Worker runtime against a real server: it takes the tasks assigned to it over its
subscription, heartbeats while the handler runs, posts the result, fails on an
exception, reviews, steps back when the board supersedes its attempt, takes up again
after a restart, and gives back unfinished work when it drains."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import quadro
from quadro.v1 import task_pb2
from quadro_workers import Approve, BlockingContext, Revise, WorkContext, Worker
from support.runtime import Background, until
from support.server import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def board(work_board: str) -> str:
    """The runtimes' board (see conftest): `quick_*` fast, the rest review_required."""
    return work_board


async def status_of(client: quadro.AsyncClient, task: str) -> str:
    return (await client.get_task(task)).task.status


async def reach(client: quadro.AsyncClient, task: str, status: str) -> task_pb2.Task:
    async def there() -> bool:
        return await status_of(client, task) == status

    await until(there, f"{task} to reach {status}")
    return (await client.get_task(task)).task


def worker(client: quadro.AsyncClient, board: str, agent: str, handler: Any, **kw: Any) -> Worker:
    kw.setdefault("heartbeat_interval", 0.1)
    return Worker(client, board, agent, handler, **kw)


async def test_takes_an_assignment_and_posts_the_result(
    aclient: quadro.AsyncClient, board: str
) -> None:
    seen: list[tuple[str, int, bool]] = []

    async def handle(context: WorkContext) -> dict[str, Any]:
        seen.append((context.task.label, context.attempt, context.review))
        context.note("checked the policy")
        await asyncio.sleep(0.35)  # long enough for heartbeats
        return {"valid": True}

    async with Background(worker(aclient, board, "w1", handle, capabilities=["quick_*"])):
        posted = (await aclient.post_task(board, "quick_check", "claim 1042")).task
        await aclient.transition_task(
            posted.name, "IN_PROGRESS", assignee="w1", expected_status="UNASSIGNED"
        )
        done = await reach(aclient, posted.name, "COMPLETE")
    assert seen == [("claim 1042", 1, False)]
    assert done.output == '{"valid": true}'
    assert done.notes == ["checked the policy"]
    history = [quadro.event_type_name(e.type) for e in await aclient.task_history(posted.name)]
    assert history[:2] == ["task_posted", "task_assigned"]
    assert history[-1] == "task_completed"
    assert "task_heartbeat" in history, "the worker heartbeats while the handler runs"
    agent = (await aclient.get_agent(board, "w1")).agent
    assert list(agent.capabilities) == ["quick_*"]
    assert agent.active_tasks == 0


class CountingClient(quadro.AsyncClient):
    """A real client that remembers the heartbeat calls it made, once answered, and
    their answers."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.single: int = 0
        self.batches: list[list[quadro.Beat]] = []
        self.answers: list[list[Any]] = []

    async def heartbeat(self, *args: Any, **kw: Any) -> Any:
        self.single += 1
        return await super().heartbeat(*args, **kw)

    async def heartbeats(self, beats: Any) -> Any:
        made = list(beats)
        answers = await super().heartbeats(made)
        self.batches.append(made)
        self.answers.append(list(answers))
        return answers


async def test_heartbeats_of_all_tasks_at_work_go_in_one_call(
    aclient: quadro.AsyncClient, board: str, server: ServerProcess
) -> None:
    release = asyncio.Event()

    async def handle(context: WorkContext) -> str:
        await release.wait()
        return "done"

    counting = CountingClient(server.address)
    try:
        async with Background(worker(counting, board, "w1", handle, concurrency=5)):
            posted = [(await aclient.post_task(board, "quick_x", f"{i}")).task for i in range(5)]
            for task in posted:
                await aclient.transition_task(task.name, "IN_PROGRESS", assignee="w1")

            async def all_beating() -> bool:
                return bool(counting.batches) and len(counting.batches[-1]) == 5

            # Answered before the tasks may finish: each beat found its task at work.
            await until(all_beating, "one heartbeat call for the five tasks")
            release.set()
            for task in posted:
                await reach(aclient, task.name, "COMPLETE")
    finally:
        await counting.close()
    assert counting.single == 0
    full = [i for i, b in enumerate(counting.batches) if len(b) == 5]
    assert {b.task for b in counting.batches[full[0]]} == {t.name for t in posted}
    assert all(b.attempt == 1 for b in counting.batches[full[0]])
    assert {a.event.task for a in counting.answers[full[0]]} == {t.name for t in posted}
    for task in posted:
        beats = [
            e
            for e in await aclient.task_history(task.name)
            if quadro.event_type_name(e.type) == "task_heartbeat"
        ]
        assert beats, f"{task.name} was heartbeated"


async def test_a_handler_exception_fails_the_task(aclient: quadro.AsyncClient, board: str) -> None:
    async def broken(context: WorkContext) -> str:
        raise ValueError("policy number missing")

    running = worker(aclient, board, "w1", broken)
    async with Background(running):
        posted = (await aclient.post_task(board, "quick_check", "claim 7")).task
        await aclient.transition_task(posted.name, "IN_PROGRESS", assignee="w1")
        failed = await reach(aclient, posted.name, "HUMAN_REVIEW")
        assert running.stats.failed == 1
    assert failed.output == "ValueError: policy number missing"
    assert "w1 failed: ValueError: policy number missing" in failed.notes[-1]
    events = await aclient.task_history(posted.name)
    assert quadro.event_type_name(events[-1].type) == "task_failed"


async def test_review_and_revision(aclient: quadro.AsyncClient, board: str) -> None:
    """review_required: work, review asks for a revision, work again, review approves."""
    rounds: list[str] = []

    async def assess(context: WorkContext) -> str:
        rounds.append(f"work revision={context.revision}")
        return "estimate 900" if context.revision else "estimate 1200"

    async def check(context: WorkContext) -> Approve | Revise:
        rounds.append(f"review of {context.task.output}")
        if context.task.output == "estimate 1200":
            return Revise("too high: the bumper is reusable")
        return Approve("fine")

    async with Background(
        worker(aclient, board, "assessor", assess, capabilities=["assess"]),
        worker(aclient, board, "senior", assess, review_handler=check,
               review_capabilities=["assess"]),
    ):  # fmt: skip
        task = (await aclient.post_task(board, "assess", "claim 88")).task.name
        await aclient.transition_task(task, "IN_PROGRESS", assignee="assessor")
        await reach(aclient, task, "PENDING_REVIEW")
        await aclient.transition_task(task, "IN_PROGRESS", assignee="senior")
        revise = await reach(aclient, task, "REVISION_NEEDED")
        assert revise.notes[-1] == "too high: the bumper is reusable"
        await aclient.transition_task(task, "IN_PROGRESS", assignee="assessor")
        await reach(aclient, task, "PENDING_REVIEW")
        await aclient.transition_task(task, "IN_PROGRESS", assignee="senior")
        approved = await reach(aclient, task, "APPROVED")
    assert rounds == [
        "work revision=False",
        "review of estimate 1200",
        "work revision=True",
        "review of estimate 900",
    ]
    assert approved.output == "estimate 900"
    assert approved.notes[-1] == "fine"


async def test_a_superseded_attempt_stops_and_posts_nothing(
    aclient: quadro.AsyncClient, board: str
) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(context: WorkContext) -> str:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "too late"

    running = worker(aclient, board, "w1", slow)
    async with Background(running):
        task = (await aclient.post_task(board, "quick_check", "claim 5")).task.name
        await aclient.transition_task(task, "IN_PROGRESS", assignee="w1")
        await asyncio.wait_for(started.wait(), 10)
        # The board takes the task away (as the Ombudsman does when heartbeats stop).
        await aclient.transition_task(task, "STALE", expected_status="IN_PROGRESS")
        await asyncio.wait_for(cancelled.wait(), 10)
        assert running.stats.superseded == 1
    after = (await aclient.get_task(task)).task
    assert after.status == "STALE"
    assert after.output == ""


async def test_takes_up_its_tasks_after_a_restart(aclient: quadro.AsyncClient, board: str) -> None:
    """Assignments made while no worker process ran (or before it crashed) are taken up."""
    await aclient.register_agent(board, "w1", concurrency=2)
    names = []
    for label in ("a", "b"):
        task = (await aclient.post_task(board, "quick_check", label)).task.name
        await aclient.transition_task(task, "IN_PROGRESS", assignee="w1")
        names.append(task)

    def handle(context: BlockingContext) -> str:  # a blocking handler, in a thread
        context.put_data(f"seen-{context.task.label}", context.attempt)
        return f"done {context.task.label} ({context.get_data(f'seen-{context.task.label}')})"

    async with Background(worker(aclient, board, "w1", handle, concurrency=2)):
        outputs = [(await reach(aclient, t, "COMPLETE")).output for t in names]
    assert outputs == ["done a (1)", "done b (1)"]


async def test_drain_gives_back_unfinished_work(aclient: quadro.AsyncClient, board: str) -> None:
    started = asyncio.Event()

    async def endless(context: WorkContext) -> str:
        started.set()
        await asyncio.sleep(60)
        return "never"

    w = worker(aclient, board, "w1", endless, drain_grace=0.2)
    async with Background(w):
        task = (await aclient.post_task(board, "quick_check", "claim 9")).task.name
        await aclient.transition_task(task, "IN_PROGRESS", assignee="w1")
        await asyncio.wait_for(started.wait(), 10)
    assert w.stats.released == 1
    released = (await aclient.get_task(task)).task
    assert released.status == "STALE"
    assert "released unfinished by w1" in released.notes[-1]


def test_quadro_worker_from_the_shell(server: ServerProcess, tmp_path: Path, board_id: str) -> None:
    """`quadro worker` runs a handler given as module:function and drains on SIGTERM."""
    (tmp_path / "handlers.py").write_text(
        textwrap.dedent(
            """
            def shout(context):
                return context.task.label.upper()
            """
        )
    )
    with quadro.Client(server.address) as client:
        client.create_board(board_id, default_profile="fast")
        process = subprocess.Popen(
            [sys.executable, "-m", "quadro", "worker", "--server", server.address,
             "--board", board_id, "--handler", "handlers:shout", "--agent", "cli-1",
             "--heartbeat-interval", "0.2"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert f"cli-1 working on {board_id}" in first, first
            task = client.post_task(board_id, "anything", "hello").task.name
            client.transition_task(task, "IN_PROGRESS", assignee="cli-1")
            for _ in range(500):
                if client.get_task(task).task.status == "COMPLETE":
                    break
                time.sleep(0.02)
            assert client.get_task(task).task.output == "HELLO"
            process.send_signal(signal.SIGTERM)
            rest, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, rest
        assert "cli-1 stopped: 1 completed" in rest


def test_a_bad_handler_is_a_usage_error(server: ServerProcess, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "quadro", "worker", "--server", server.address, "--board", "b",
         "--handler", "no_such_module:fn"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot import no_such_module" in result.stderr


async def test_a_worker_rides_out_a_server_restart(store_url: str, tmp_path: Path) -> None:
    """The server dies (SIGKILL) and comes back on the same store: the worker reconnects
    on its own and takes the next assignment."""
    server = ServerProcess(store_url, "--no-ombudsman", log_dir=tmp_path).start()
    try:
        async with quadro.AsyncClient(server.address, timeout=10) as client:
            await client.create_board("restart", default_profile="fast")

            async def handle(context: WorkContext) -> str:
                return f"done {context.task.label}"

            async with Background(worker(client, "restart", "w1", handle)):
                first = (await client.post_task("restart", "t", "before")).task.name
                await client.transition_task(first, "IN_PROGRESS", assignee="w1")
                await reach(client, first, "COMPLETE")
                server.kill()
                server.restart()
                second = (await client.post_task("restart", "t", "after")).task.name
                await client.transition_task(second, "IN_PROGRESS", assignee="w1")
                done = await reach(client, second, "COMPLETE")
            assert done.output == "done after"
    finally:
        server.stop()
