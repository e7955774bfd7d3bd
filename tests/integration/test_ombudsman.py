"""The Ombudsman against a real server: quiet work goes STALE (or HUMAN_REVIEW where the
lifecycle has no STALE route), live work is never touched, several Ombudsmen sweep at
once safely, and it runs standalone or inside `quadro serve` (or not at all)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import quadro
from quadro_chiefs.ombudsman import Ombudsman
from quadro_workers import WorkContext, Worker
from support.processes import QuadroProcess
from support.runtime import Background, until
from support.server import ServerProcess

pytestmark = pytest.mark.timeout(120)

INSPECTION = [("UNASSIGNED", "INSPECTING"), ("INSPECTING", "DONE")]
WITH_STALE = [("UNASSIGNED", "INSPECTING"), ("INSPECTING", "DONE"), ("INSPECTING", "STALE"),
              ("STALE", "UNASSIGNED")]  # fmt: skip


async def test_quiet_work_is_declared_stale_by_its_lifecycle(
    aclient: quadro.AsyncClient, board_id: str
) -> None:
    await aclient.create_board(
        board_id,
        profiles={"inspection": INSPECTION, "recoverable": WITH_STALE},
        task_types={"quick_*": "fast", "inspect": "inspection", "check": "recoverable"},
    )
    await aclient.register_agent(board_id, "w", concurrency=10)
    quick = (await aclient.post_task(board_id, "quick_x", "fast one")).task.name
    await aclient.transition_task(quick, "IN_PROGRESS", assignee="w")
    inspect = (await aclient.post_task(board_id, "inspect", "custom, no stale route")).task.name
    await aclient.transition_task(inspect, "INSPECTING", assignee="w")
    check = (await aclient.post_task(board_id, "check", "custom with a stale route")).task.name
    await aclient.transition_task(check, "INSPECTING", assignee="w")
    untouched = (await aclient.post_task(board_id, "quick_y", "waiting")).task.name
    ombudsman = Ombudsman(
        aclient, [board_id], timeouts={"IN_PROGRESS": 0.3, "INSPECTING": 0.3}, interval=0.05
    )
    await asyncio.sleep(0.4)
    record = await ombudsman.sweep()
    assert record.moved == {"STALE": 2, "HUMAN_REVIEW": 1}
    statuses = [(await aclient.get_task(t)).task.status for t in (quick, inspect, check, untouched)]
    assert statuses == ["STALE", "HUMAN_REVIEW", "STALE", "UNASSIGNED"]
    history = await aclient.task_history(quick)
    assert quadro.event_type_name(history[-1].type) == "task_stale"
    assert "no sign of life for 0.3s in IN_PROGRESS" in str(history[-1].payload["note"])
    assert (await ombudsman.sweep()).moved == {}, "nothing quiet is left"


async def test_a_worker_that_heartbeats_on_time_never_loses_its_task(
    aclient: quadro.AsyncClient, work_board: str
) -> None:
    """Two Ombudsmen sweep every 20 ms with a 0.4 s timeout while a handler works for 2 s,
    heartbeating every 0.1 s: the task is never declared stale."""

    async def slow(context: WorkContext) -> str:
        await asyncio.sleep(2.0)
        return "finished"

    worker = Worker(aclient, work_board, "w", slow, heartbeat_interval=0.1)
    watchers = [
        Ombudsman(aclient, [work_board], timeouts={"IN_PROGRESS": 0.4}, interval=0.02)
        for _ in range(2)
    ]
    async with Background(worker, *watchers):
        task = (await aclient.post_task(work_board, "quick_x", "long")).task.name
        await aclient.transition_task(task, "IN_PROGRESS", assignee="w")

        async def done() -> bool:
            return (await aclient.get_task(task)).task.status == "COMPLETE"

        await until(done, "the slow task to complete")
    assert sum(sum(s.moved.values()) for w in watchers for s in w.sweeps) == 0
    assert sum(s.checked for w in watchers for s in w.sweeps) > 20


async def test_racing_ombudsmen_move_a_quiet_task_once(
    aclient: quadro.AsyncClient, work_board: str
) -> None:
    await aclient.register_agent(work_board, "gone")
    task = (await aclient.post_task(work_board, "quick_x", "orphan")).task.name
    await aclient.transition_task(task, "IN_PROGRESS", assignee="gone")
    await asyncio.sleep(0.3)
    watchers = [Ombudsman(aclient, [work_board], timeouts={"IN_PROGRESS": 0.2}) for _ in range(4)]
    records = await asyncio.gather(*(w.sweep() for w in watchers))
    assert sum(r.moved.get("STALE", 0) for r in records) == 1
    # The others found it moved (spared), or already out of IN_PROGRESS when they looked.
    assert all(sum(r.moved.values()) + r.spared <= 1 for r in records)
    assert all(r.errors == 0 for r in records)
    stale = [e for e in await aclient.task_history(task) if e.to_status == "STALE"]
    assert len(stale) == 1


def quiet_task(server: ServerProcess, board: str) -> str:
    with quadro.Client(server.address) as client:
        client.create_board(board, default_profile="fast")
        client.register_agent(board, "gone")
        task = client.post_task(board, "t", "orphan").task.name
        client.transition_task(task, "IN_PROGRESS", assignee="gone")
        return task


def status(server: ServerProcess, task: str) -> str:
    with quadro.Client(server.address) as client:
        return client.get_task(task).task.status


def test_standalone_ombudsman_and_a_server_without_one(
    store_url: str, tmp_path: Path, board_id: str
) -> None:
    server = ServerProcess(
        store_url, "--no-ombudsman", "--ombudsman-stale-after", "IN_PROGRESS=0.2",
        "--ombudsman-interval", "0.05", log_dir=tmp_path,
    ).start()  # fmt: skip
    try:
        task = quiet_task(server, board_id)
        time.sleep(1.0)
        assert status(server, task) == "IN_PROGRESS", "--no-ombudsman: nobody sweeps"
        standalone = QuadroProcess(
            "ombudsman", "--server", server.address, "--board", board_id,
            "--stale-after", "IN_PROGRESS=0.2", "--interval", "0.05", cwd=tmp_path,
        ).start("quadro ombudsman: sweeping")  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while status(server, task) != "STALE" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert status(server, task) == "STALE"
        finally:
            assert standalone.stop() == 0
    finally:
        server.stop()


def test_the_server_runs_an_ombudsman_by_default(
    store_url: str, tmp_path: Path, board_id: str
) -> None:
    server = ServerProcess(
        store_url, "--ombudsman-stale-after", "IN_PROGRESS=0.2", "--ombudsman-interval", "0.05",
        log_dir=tmp_path,
    ).start()  # fmt: skip
    try:
        task = quiet_task(server, board_id)
        deadline = time.monotonic() + 20
        while status(server, task) != "STALE" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status(server, task) == "STALE"
        assert server.terminate() == 0, "the server drains with its Ombudsman"
    finally:
        server.stop()
