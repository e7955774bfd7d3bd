"""`quadro events ls`: read a board's event log."""

from __future__ import annotations

import argparse
import json
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
            (
                e.sequence,
                e.create_time.ToDatetime().strftime("%H:%M:%S.%f")[:-3],
                quadro.event_type_name(e.type),
                quadro.names.last_segment(e.task),
                e.from_status,
                e.to_status,
                e.agent,
            )
            for e in events
        ),
    )


def ls(client: quadro.Client, args: argparse.Namespace) -> None:
    events = client.iter_events(
        args.board,
        after_sequence=args.after,
        task=args.task,
        agent=args.agent,
        event_types=args.type,
        task_types=args.task_type,
        statuses=args.status,
    )
    if args.limit:
        events = (e for i, e in zip(range(args.limit), events, strict=False))
    print_events(events, args.json)


def tail(client: quadro.Client, args: argparse.Namespace) -> None:
    """Follow until interrupted; one line (or one JSON object) per event."""
    subscription = client.subscribe(
        args.board,
        after_sequence=args.after,
        task=args.task,
        agent=args.agent,
        event_types=args.type,
        task_types=args.task_type,
        statuses=args.status,
        include_heartbeats=args.heartbeats,
    )
    try:
        with subscription:
            for event in subscription:
                if args.json:
                    print(json.dumps(as_dict(event), ensure_ascii=False), flush=True)
                else:
                    print(_line(event), flush=True)
    except KeyboardInterrupt:
        pass


def _line(e: event_pb2.Event) -> str:
    when = e.create_time.ToDatetime().strftime("%H:%M:%S.%f")[:-3]
    return (
        f"{e.sequence:>6}  {when}  {quadro.event_type_name(e.type):<15}  "
        f"{quadro.names.last_segment(e.task):<8}  {e.from_status or '-':>15} -> "
        f"{e.to_status:<15}  {e.agent}"
    ).rstrip()


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("board")
    p.add_argument("--task", default="", help="only this task (id or full name)")
    p.add_argument("--agent", default="", help="only events involving this agent id")
    p.add_argument(
        "--type", action="append", default=[], help="event type, e.g. task_assigned (repeatable)"
    )
    p.add_argument("--task-type", action="append", default=[], help="task type or glob")
    p.add_argument("--status", action="append", default=[], help="status moved to")


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
    _filters(p)
    p.add_argument("--after", type=int, default=0, help="only events after this sequence")
    p.add_argument("--limit", type=int, default=0, help="at most this many events")
    p = add_command(
        commands,
        "tail",
        tail,
        help="follow a board's events live until interrupted (heartbeats left out)",
        example="quadro events tail claims --task-type 'intake_*' --after 0",
    )
    _filters(p)
    p.add_argument(
        "--after",
        type=int,
        default=None,
        help="replay from after this sequence first (default: only new events)",
    )
    p.add_argument("--heartbeats", action="store_true", help="include heartbeat events")
