"""`quadro lineage TASK`: a task's ancestors and descendants, across boards."""

from __future__ import annotations

import argparse

import quadro
from quadro.cli.common import add_command, print_json, print_table, task_name


def lineage(client: quadro.Client, args: argparse.Namespace) -> None:
    response = client.get_lineage(task_name(args.task, args.board))
    if args.json:
        print_json(response)
        return
    hops = [*reversed(response.ancestors), response.task, *response.descendants]
    print_table(
        ("task", "type", "status", "posted", "updated"),
        (
            (
                # Indented by depth; the task asked about is marked.
                "  " * h.depth + h.name + (" *" if h.name == response.task.name else ""),
                h.task_type,
                h.status + (" (archived)" if h.archived else ""),
                h.create_time.ToDatetime().isoformat(timespec="seconds") + "Z",
                h.update_time.ToDatetime().isoformat(timespec="seconds") + "Z",
            )
            for h in hops
        ),
    )
    if response.truncated:
        print(f"(more descendants than the {quadro.limits.LINEAGE_TASKS_MAX} shown)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        subparsers,
        "lineage",
        lineage,
        help="a task's ancestors and descendants across boards (the task marked *)",
        example="quadro lineage assessment/k3x9a",
    )
    p.add_argument("task", help="BOARD/TASK, boards/BOARD/tasks/TASK, or TASK with --board")
    p.add_argument("--board", help="board of a bare task id")
