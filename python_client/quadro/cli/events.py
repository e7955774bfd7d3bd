"""`quadro events ls`: read a board's event log."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

import quadro
from quadro.cli.common import add_command, as_dict, print_json, print_table
from quadro.v1 import event_pb2


def print_events(events: Iterable[event_pb2.Event], as_json: bool) -> None:
    if as_json:
        print_json([as_dict(e) for e in events])
        return
    print_table(
        ("seq", "time", "event", "task", "from", "to", "agent"),
        (
            (e.sequence, e.create_time.ToDatetime().strftime("%H:%M:%S.%f")[:-3],
             quadro.event_type_name(e.type), quadro.names.last_segment(e.task),
             e.from_status, e.to_status, e.agent)
            for e in events
        ),
    )  # fmt: skip


def ls(client: quadro.Client, args: argparse.Namespace) -> None:
    events = client.iter_events(
        args.board, after_sequence=args.after, task=args.task, agent=args.agent,
        event_types=args.type, task_types=args.task_type, statuses=args.status,
    )  # fmt: skip
    if args.limit:
        events = (e for i, e in zip(range(args.limit), events, strict=False))
    print_events(events, args.json)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("events", help="read the event log")
    commands = parser.add_subparsers(dest="events_command", metavar="COMMAND", required=True)
    p = add_command(
        commands,
        "ls",
        ls,
        help="list a board's events, oldest first",
        example="quadro events ls claims --after 120 --type task_completed",
    )
    p.add_argument("board")
    p.add_argument("--after", type=int, default=0, help="only events after this sequence")
    p.add_argument("--task", default="", help="only this task (id or full name)")
    p.add_argument("--agent", default="", help="only events involving this agent id")
    p.add_argument(
        "--type", action="append", default=[], help="event type, e.g. task_assigned (repeatable)"
    )
    p.add_argument("--task-type", action="append", default=[], help="task type or glob")
    p.add_argument("--status", action="append", default=[], help="status moved to")
    p.add_argument("--limit", type=int, default=0, help="at most this many events")
