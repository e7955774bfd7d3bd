"""Racing writers: compare-and-set gives every task to exactly one of them, and the log
stays gapless and strictly increasing whatever the interleaving."""

from __future__ import annotations

import random
import threading
from collections import Counter

import quadro
from quadro import errors
from support.server import ServerProcess

CLIENTS = 8
TASKS = 500


def test_eight_clients_race_to_assign_500_tasks(server: ServerProcess, board_id: str) -> None:
    with quadro.Client(server.address) as setup:
        setup.create_board(board_id, default_profile="fast")
        for i in range(CLIENTS):
            setup.register_agent(board_id, f"racer-{i}", concurrency=TASKS)
        tasks = [setup.post_task(board_id, "race", f"task {n}").task.name for n in range(TASKS)]

    wins: list[list[str]] = [[] for _ in range(CLIENTS)]
    losses = [0] * CLIENTS
    unexpected: list[BaseException] = []
    start = threading.Barrier(CLIENTS)

    def race(i: int) -> None:
        order = tasks[:]
        random.Random(i).shuffle(order)
        try:
            with quadro.Client(server.address) as client:
                start.wait()
                for task in order:
                    try:
                        client.transition_task(task, "IN_PROGRESS", assignee=f"racer-{i}",
                                               expected_status="UNASSIGNED")  # fmt: skip
                        wins[i].append(task)
                    except (errors.CompareAndSetFailed, errors.TransitionRejected):
                        losses[i] += 1
        except BaseException as exc:  # surfaced below; a thread must not swallow it
            unexpected.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not unexpected

    won = Counter(task for per_client in wins for task in per_client)
    assert set(won) == set(tasks), "every task was assigned"
    assert max(won.values()) == 1, "no task was assigned twice"
    assert sum(losses) == TASKS * (CLIENTS - 1)

    with quadro.Client(server.address) as reader:
        events = list(reader.iter_events(board_id, page_size=1000))
        assert [e.sequence for e in events] == list(range(1, 2 * TASKS + 1))
        assigned = [e for e in events if quadro.event_type_name(e.type) == "task_assigned"]
        assert Counter(e.task for e in assigned) == Counter(tasks)
        for i in range(CLIENTS):
            holder = {e.task for e in assigned if e.agent == f"racer-{i}"}
            assert holder == set(wins[i])
            assert reader.get_agent(board_id, f"racer-{i}").agent.active_tasks == len(wins[i])
        assert reader.get_board(board_id).board.head_sequence == 2 * TASKS
