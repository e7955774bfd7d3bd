"""`quadro tasks ...`: post, show, list, move, complete, archive tasks; their history."""

from __future__ import annotations

import argparse

import quadro
from quadro.cli.common import (
    add_command,
    as_dict,
    key_value,
    print_json,
    print_record,
    print_table,
    task_name,
)
from quadro.cli.events import print_events

FIELDS = (
    "name",
    "task_type",
    "label",
    "status",
    "assigned_to",
    "priority",
    "profile",
    "attempt",
    "etag",
    "output",
    "notes",
    "labels",
    "parent_task",
    "origin_task",
    "successor_task",
    "create_time",
    "update_time",
    "heartbeat_time",
    "archived",
)


def _show(task: quadro.v1.task_pb2.Task, args: argparse.Namespace) -> None:
    if args.json:
        print_json(task)
    else:
        print_record(task, FIELDS)


def post(client: quadro.Client, args: argparse.Namespace) -> None:
    response = client.post_task(
        args.board,
        args.task_type,
        args.label,
        task_id=args.id,
        priority=args.priority,
        notes=args.note,
        labels=dict(args.label_pair),
        parent_task=args.parent,
    )
    _show(response.task, args)


def get(client: quadro.Client, args: argparse.Namespace) -> None:
    _show(client.get_task(task_name(args.task, args.board)).task, args)


def ls(client: quadro.Client, args: argparse.Namespace) -> None:
    tasks = client.iter_tasks(
        args.board, statuses=args.status, task_types=args.type, assigned_to=args.assignee
    )
    if args.json:
        print_json([as_dict(t) for t in tasks])
        return
    print_table(
        ("task", "type", "status", "assignee", "prio", "label"),
        (
            (
                quadro.names.last_segment(t.name),
                t.task_type,
                t.status,
                t.assigned_to,
                t.priority,
                t.label,
            )
            for t in tasks
        ),
    )


def move(client: quadro.Client, args: argparse.Namespace) -> None:
    response = client.transition_task(
        task_name(args.task, args.board),
        args.to_status,
        assignee=args.assignee,
        output=args.output,
        note=args.note,
        expected_status=args.expect_status,
        etag=args.etag,
        attempt=args.attempt,
    )
    if args.json:
        print_json(response)
    else:
        event = response.event
        print(
            f"{response.task.name}: {event.from_status} -> {event.to_status} "
            f"({quadro.event_type_name(event.type)}, sequence {event.sequence})"
        )


def result(client: quadro.Client, args: argparse.Namespace) -> None:
    response = client.post_result(
        task_name(args.task, args.board), args.output, agent=args.agent, note=args.note
    )
    if args.json:
        print_json(response)
    else:
        event = response.event
        print(
            f"{response.task.name}: {event.from_status} -> {event.to_status} "
            f"(sequence {event.sequence})"
        )


def archive(client: quadro.Client, args: argparse.Namespace) -> None:
    _show(client.archive_task(task_name(args.task, args.board)).task, args)


def handoff(client: quadro.Client, args: argparse.Namespace) -> None:
    response = client.hand_off_task(
        task_name(args.task, args.board),
        args.to_board,
        args.task_type,
        args.label,
        successor_id=args.id,
        priority=args.priority,
        notes=args.note,
        labels=dict(args.label_pair),
    )
    _show(response.successor, args)


def history(client: quadro.Client, args: argparse.Namespace) -> None:
    task = task_name(args.task, args.board)
    client.get_task(task)  # a missing task is an error here, not an empty history
    print_events(client.task_history(task), args.json)


def _task_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="BOARD/TASK, boards/BOARD/tasks/TASK, or TASK with --board")
    parser.add_argument("--board", help="board of a bare task id")


def _new_task_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id", default="", help="task id (default: a generated 5-character id)")
    parser.add_argument("--priority", type=int, help="lower runs sooner (default 5)")
    parser.add_argument("--note", action="append", default=[], help="initial note (repeatable)")
    parser.add_argument(
        "--label",
        dest="label_pair",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="key-value label (repeatable)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("tasks", help="post, move and inspect tasks")
    commands = parser.add_subparsers(dest="tasks_command", metavar="COMMAND", required=True)

    p = add_command(
        commands,
        "post",
        post,
        help="post a task (status UNASSIGNED)",
        example="quadro tasks post claims claim_intake 'Validate claim 1042'",
    )
    p.add_argument("board")
    p.add_argument("task_type")
    p.add_argument("label")
    _new_task_options(p)
    p.add_argument("--parent", default="", help="parent task, boards/B/tasks/T")

    p = add_command(
        commands,
        "handoff",
        handoff,
        help="post the successor of a finished task, on any board, exactly once",
        example="quadro tasks handoff intake/k3x9a assessment assess_claim 'Assess claim 1042'",
    )
    _task_argument(p)
    p.add_argument("to_board", help="board of the successor")
    p.add_argument("task_type")
    p.add_argument("label")
    _new_task_options(p)

    p = add_command(
        commands,
        "get",
        get,
        help="show a task (archived ones too)",
        example="quadro tasks get claims/k3x9a",
    )
    _task_argument(p)

    p = add_command(
        commands,
        "ls",
        ls,
        help="list the tasks of a board",
        example="quadro tasks ls claims --status UNASSIGNED --type 'intake_*'",
    )
    p.add_argument("board")
    p.add_argument("--status", action="append", default=[], help="filter (repeatable)")
    p.add_argument("--type", action="append", default=[], help="task type or glob (repeatable)")
    p.add_argument("--assignee", default="", help="agent id")

    p = add_command(
        commands,
        "move",
        move,
        help="move a task to another status",
        example="quadro tasks move claims/k3x9a IN_PROGRESS --assignee alice",
    )
    _task_argument(p)
    p.add_argument("to_status")
    p.add_argument("--assignee", default="", help="agent taking the task")
    p.add_argument("--output", help="output to record")
    p.add_argument("--note", default="", help="note to append")
    p.add_argument("--expect-status", default="", help="only if the task is in this status")
    p.add_argument("--etag", default="", help="only if the task's etag is this")
    p.add_argument("--attempt", type=int, default=0, help="only if this is the current attempt")

    p = add_command(
        commands,
        "result",
        result,
        help="post a worker's result",
        example="quadro tasks result claims/k3x9a 'policy valid' --agent alice",
    )
    _task_argument(p)
    p.add_argument("output")
    p.add_argument("--agent", default="", help="agent posting (must be the assignee)")
    p.add_argument("--note", default="")

    p = add_command(
        commands,
        "archive",
        archive,
        help="archive a task in a terminal status",
        example="quadro tasks archive claims/k3x9a",
    )
    _task_argument(p)

    p = add_command(
        commands,
        "history",
        history,
        help="every event of a task",
        example="quadro tasks history claims/k3x9a",
    )
    _task_argument(p)
