"""`quadro chiefs ...`: the Chiefs working on a board, and what their cycles did."""

from __future__ import annotations

import argparse
import collections
import statistics

import quadro
from quadro.cli.common import add_command, as_dict, print_json, print_record, print_table
from quadro.v1 import chief_pb2

FIELDS = (
    "name",
    "display_name",
    "state",
    "task_types",
    "boards",
    "cadence",
    "version",
    "cycles",
    "last_cycle_time",
    "register_time",
)


def _state(chief: chief_pb2.Chief) -> str:
    return chief_pb2.ChiefState.Name(chief.state).removeprefix("CHIEF_STATE_").lower()


def _trigger(cycle: chief_pb2.ChiefCycle) -> str:
    return chief_pb2.CycleTrigger.Name(cycle.trigger).removeprefix("CYCLE_TRIGGER_").lower()


def ls(client: quadro.Client, args: argparse.Namespace) -> None:
    chiefs = list(client.iter_chiefs(args.board))
    if args.json:
        print_json([as_dict(c) for c in chiefs])
        return
    print_table(
        ("chief", "state", "task types", "cadence", "cycles", "last cycle"),
        (
            (
                quadro.names.last_segment(c.name),
                _state(c),
                ",".join(c.task_types) or "*",
                c.cadence,
                c.cycles,
                c.last_cycle_time.ToJsonString() if c.HasField("last_cycle_time") else "-",
            )
            for c in chiefs
        ),
    )


def get(client: quadro.Client, args: argparse.Namespace) -> None:
    chief = client.get_chief(args.board, args.chief).chief
    print_json(chief) if args.json else print_record(chief, FIELDS)


def cycles(client: quadro.Client, args: argparse.Namespace) -> None:
    found = list(client.iter_chief_cycles(args.board, args.chief, page_size=1000))
    if args.json:
        print_json([as_dict(c) for c in found])
        return
    if not args.summary:
        print_table(
            ("cycle", "trigger", "start", "ms", "actions", "lost", "errors", "in flight",
             "waiting", "noop"),
            (
                (c.number, _trigger(c), c.start_time.ToJsonString(),
                 f"{c.duration.ToMicroseconds() / 1000:.1f}", c.actions, c.lost_races,
                 c.errors, c.in_flight, c.waiting, "noop" if c.noop else "")
                for c in found
            ),
        )  # fmt: skip
        return
    print_summary(found)


def print_summary(found: list[chief_pb2.ChiefCycle]) -> None:
    """The sleep study of one Chief: how often it thought, why, and for what."""
    if not found:
        print("no cycles recorded")
        return
    triggers = collections.Counter(_trigger(c) for c in found)
    durations = sorted(c.duration.ToMicroseconds() / 1000 for c in found)
    span = found[-1].start_time.ToMicroseconds() - found[0].start_time.ToMicroseconds()
    event_cycles = triggers.get("event", 0)
    noops = sum(c.noop for c in found)
    lines = [
        ("cycles", f"{len(found)} over {span / 1e6:.1f} s"),
        ("triggers", ", ".join(f"{t} {n}" for t, n in sorted(triggers.items()))),
        ("noops", f"{noops} of {event_cycles} event-triggered cycles"),
        ("actions", f"{sum(c.actions for c in found)} ({sum(c.lost_races for c in found)} lost "
                    f"races, {sum(c.errors for c in found)} errors)"),
        ("duration ms", f"median {statistics.median(durations):.1f}, max {durations[-1]:.1f}"),
    ]  # fmt: skip
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key.ljust(width)}  {value}")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("chiefs", help="the Chiefs of a board and their cycles")
    commands = parser.add_subparsers(dest="chiefs_command", metavar="COMMAND", required=True)
    p = add_command(
        commands, "ls", ls, help="list a board's Chiefs", example="quadro chiefs ls claims"
    )
    p.add_argument("board")
    p = add_command(
        commands, "get", get, help="show a Chief", example="quadro chiefs get claims intake"
    )
    p.add_argument("board")
    p.add_argument("chief")
    p = add_command(
        commands,
        "cycles",
        cycles,
        help="a Chief's recorded cycles, or their summary (the sleep study)",
        example="quadro chiefs cycles claims intake --summary",
    )
    p.add_argument("board")
    p.add_argument("chief")
    p.add_argument("--summary", action="store_true", help="totals instead of one row per cycle")
