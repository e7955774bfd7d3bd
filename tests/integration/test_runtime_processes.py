"""The coordination runtime as separate processes, as it is deployed: `quadro serve`
(with its Ombudsman), `quadro chief` and `quadro worker` processes.

- a mixed load of `fast` and `review_required` tasks, revisions included, all reach
  COMPLETE through two scoped Chiefs, and every task's history follows its lifecycle;
- a Worker killed with SIGKILL mid-task: the task goes STALE, is reassigned and
  completes, once;
- a Worker paused (SIGSTOP) past its timeout: the task is reassigned and completed;
  resumed (SIGCONT), the paused worker's late heartbeat and result are refused and the
  log shows one completion.
"""

from __future__ import annotations

import itertools
import signal
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import quadro
from quadro.v1 import event_pb2, task_pb2
from support.processes import QuadroProcess
from support.server import ServerProcess

pytestmark = pytest.mark.timeout(240)

HANDLERS = """
import os
import time


def work(context):
    # The first attempt of a task labelled slow takes long: long enough to be killed or
    # paused in the middle.
    if context.task.labels.get("slow") == "yes" and context.attempt == 1:
        time.sleep(float(os.environ.get("SLOW_SECONDS", "4")))
    if context.revision:
        return f"revised by {context.agent_id}"
    return f"done by {context.agent_id}"


def review(context):
    # Tasks labelled revise are sent back once.
    if context.task.labels.get("revise") == "yes":
        return context.task.output.startswith("revised")
    return True
"""

# The Ombudsman inside the server: a task quiet for 1.5 s in IN_PROGRESS is stale.
OMBUDSMAN = ("--ombudsman-stale-after", "IN_PROGRESS=1.5", "--ombudsman-interval", "0.2")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "handlers.py").write_text(textwrap.dedent(HANDLERS))
    return tmp_path


@pytest.fixture
def server(store_url: str, folder: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(store_url, *OMBUDSMAN, log_dir=folder).start()
    yield process
    process.stop()


class Runtime:
    """Chief and worker processes against one server, all stopped at the end."""

    def __init__(self, server: ServerProcess, board: str, folder: Path) -> None:
        self.server = server
        self.board = board
        self.folder = folder
        self.processes: list[QuadroProcess] = []

    def chief(self, name: str, *task_types: str, extra: tuple[str, ...] = ()) -> QuadroProcess:
        args = ["chief", "--server", self.server.address, "--board", self.board, "--name", name,
                *extra]  # fmt: skip
        for pattern in task_types:
            args += ["--task-type", pattern]
        return self._start(QuadroProcess(*args, cwd=self.folder), f"quadro chief: {name}")

    def worker(self, agent: str, *extra: str) -> QuadroProcess:
        args = ["worker", "--server", self.server.address, "--board", self.board,
                "--agent", agent, "--handler", "handlers:work", "--heartbeat-interval", "0.3",
                *extra]  # fmt: skip
        return self._start(QuadroProcess(*args, cwd=self.folder), f"quadro worker: {agent}")

    def _start(self, process: QuadroProcess, ready: str) -> QuadroProcess:
        self.processes.append(process)
        return process.start(ready)

    def close(self) -> None:
        for process in self.processes:
            if process.process is not None and process.process.poll() is None:
                process.signal(signal.SIGCONT)
                process.stop()


@pytest.fixture
def runtime(server: ServerProcess, board_id: str, folder: Path) -> Iterator[Runtime]:
    with quadro.Client(server.address) as client:
        client.create_board(board_id, task_types={"quick_*": "fast"})
    running = Runtime(server, board_id, folder)
    yield running
    running.close()


def wait_for(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def moves(client: quadro.Client, task: str) -> list[event_pb2.Event]:
    return [e for e in client.task_history(task) if e.type != event_pb2.EVENT_TYPE_TASK_HEARTBEAT]


def assert_follows_lifecycle(client: quadro.Client, task: task_pb2.Task) -> None:
    profile = client.get_board(task.name.split("/tasks/")[0]).board.profiles[task.profile]
    allowed = {(t.from_status, t.to_status) for t in profile.transitions}
    history = moves(client, task.name)
    assert history[0].type == event_pb2.EVENT_TYPE_TASK_POSTED
    for before, event in itertools.pairwise(history):
        assert event.from_status == before.to_status, (task.name, event)
        assert (event.from_status, event.to_status) in allowed, (task.name, event)


def test_scoped_chiefs_and_workers_finish_a_mixed_load(runtime: Runtime) -> None:
    # One decides on its view kept from events, read again often; one reads every cycle.
    runtime.chief("intake", "quick_*", extra=("--view-max-age", "0.2"))
    runtime.chief("assessment", "assess_*", extra=("--no-live-view",))
    for agent in ("w1", "w2"):
        runtime.worker(agent, "--capability", "quick_*", "--capability", "assess_*",
                       "--concurrency", "3")  # fmt: skip
    runtime.worker("senior", "--review", "assess_*", "--review-handler", "handlers:review")
    with quadro.Client(runtime.server.address) as client:
        board = runtime.board
        names = [client.post_task(board, "quick_check", f"q{i}").task.name for i in range(30)]
        for i in range(10):
            labels = {"revise": "yes"} if i < 3 else {}
            names.append(client.post_task(board, "assess_damage", f"a{i}", labels=labels).task.name)

        def all_complete() -> bool:
            return all(t.status == "COMPLETE" for t in client.iter_tasks(board, page_size=1000))

        wait_for(all_complete, "all 40 tasks to complete")
        tasks = [client.get_task(n).task for n in names]
        for task in tasks:
            assert_follows_lifecycle(client, task)
        revised = [t for t in tasks if t.labels.get("revise") == "yes"]
        assert all(t.output.startswith("revised by") for t in revised)
        for task in revised:
            to = [e.to_status for e in moves(client, task.name)]
            assert to.count("REVISION_NEEDED") == 1
            assert to[-1] == "COMPLETE"
        reviewers = {
            e.agent
            for t in tasks
            if t.profile == "review_required"
            for e in moves(client, t.name)
            if e.from_status == "PENDING_REVIEW"
        }
        assert reviewers == {"senior"}


def dispatch_slow_task(runtime: Runtime, client: quadro.Client) -> str:
    task = client.post_task(runtime.board, "quick_claim", "slow", labels={"slow": "yes"}).task.name
    wait_for(lambda: client.get_task(task).task.status == "IN_PROGRESS", "the first dispatch")
    assert client.get_task(task).task.assigned_to == "w1"
    return task


def completions(client: quadro.Client, task: str) -> list[event_pb2.Event]:
    return [e for e in client.task_history(task) if e.type == event_pb2.EVENT_TYPE_TASK_COMPLETED]


def test_a_killed_worker_leaves_a_task_that_is_reassigned_and_completed(
    runtime: Runtime,
) -> None:
    runtime.chief("dispatcher")
    first = runtime.worker("w1")
    with quadro.Client(runtime.server.address) as client:
        task = dispatch_slow_task(runtime, client)
        time.sleep(0.5)  # mid-task, heartbeating
        first.kill()
        runtime.worker("w2")
        wait_for(lambda: client.get_task(task).task.status == "COMPLETE", "the second attempt")
        done = client.get_task(task).task
        assert (done.output, done.attempt) == ("done by w2", 2)
        to = [(e.to_status, e.agent) for e in moves(client, task)]
        assert to == [("UNASSIGNED", ""), ("IN_PROGRESS", "w1"), ("STALE", "w1"),
                      ("UNASSIGNED", "w1"), ("IN_PROGRESS", "w2"), ("COMPLETE", "w2")]  # fmt: skip
        assert len(completions(client, task)) == 1


def test_a_paused_worker_cannot_win_when_it_wakes_up(runtime: Runtime) -> None:
    runtime.chief("dispatcher")
    paused = runtime.worker("w1")
    with quadro.Client(runtime.server.address) as client:
        task = dispatch_slow_task(runtime, client)
        paused.signal(signal.SIGSTOP)
        runtime.worker("w2")
        wait_for(lambda: client.get_task(task).task.status == "COMPLETE", "the reassignment")
        reassigned = max(e.sequence for e in moves(client, task) if e.to_status == "UNASSIGNED")
        paused.signal(signal.SIGCONT)  # its handler's sleep is over: it tries to finish
        wait_for(lambda: "was superseded" in paused.output, "the zombie to be refused")
        assert paused.stop() == 0
        assert "1 superseded" in paused.output
        done = client.get_task(task).task
        assert (done.status, done.output, done.assigned_to) == ("COMPLETE", "done by w2", "w2")
        assert len(completions(client, task)) == 1
        late = [
            e for e in client.task_history(task)
            if e.agent == "w1" and e.sequence > reassigned
        ]  # fmt: skip
        assert late == [], "nothing from the paused worker landed after the reassignment"
