"""`quadro boards ...`: create, show and list boards."""

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
)

FIELDS = ("name", "display_name", "default_profile", "head_sequence", "create_time", "scope")


def _profile(text: str) -> tuple[str, list[tuple[str, str]]]:
    """`NAME=FROM:TO,FROM:TO`."""
    name, pairs = key_value(text)
    out = []
    for pair in pairs.split(","):
        if ":" not in pair:
            raise argparse.ArgumentTypeError(f"expected FROM:TO in {pair!r}")
        frm, to = pair.split(":", 1)
        out.append((frm.strip(), to.strip()))
    return name, out


def create(client: quadro.Client, args: argparse.Namespace) -> None:
    response = client.create_board(
        args.board,
        display_name=args.display_name,
        profiles=dict(args.profile),
        task_types=list(args.task_type),
        default_profile=args.default_profile,
    )
    if args.json:
        print_json(response.board)
    else:
        print_record(response.board, FIELDS)


def get(client: quadro.Client, args: argparse.Namespace) -> None:
    board = client.get_board(args.board).board
    if args.json:
        print_json(board)
        return
    print_record(board, FIELDS)
    for rule in board.task_types:
        print(f"task type   {rule.pattern} -> {rule.profile}")
    for name in sorted(board.profiles):
        profile = board.profiles[name]
        kind = "built-in" if profile.built_in else "custom"
        pairs = ", ".join(f"{t.from_status}->{t.to_status}" for t in profile.transitions)
        print(f"profile     {name} ({kind}): {pairs}")
        print(f"            terminal: {', '.join(profile.terminal_statuses)}")


def ls(client: quadro.Client, args: argparse.Namespace) -> None:
    boards = list(client.iter_boards())
    if args.json:
        print_json([as_dict(b) for b in boards])
        return
    print_table(
        ("board", "display name", "default profile", "events"),
        ((b.name, b.display_name, b.default_profile, b.head_sequence) for b in boards),
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("boards", help="create, show and list boards")
    commands = parser.add_subparsers(dest="boards_command", metavar="COMMAND", required=True)
    p = add_command(
        commands,
        "create",
        create,
        help="create a board",
        example="quadro boards create claims --task-type 'intake_*=fast' "
        "--profile 'legal=UNASSIGNED:review,review:decided'",
    )
    p.add_argument("board", help="board id: lowercase letters, digits, hyphens")
    p.add_argument("--display-name", default="")
    p.add_argument(
        "--profile",
        type=_profile,
        action="append",
        default=[],
        metavar="NAME=FROM:TO,...",
        help="a custom lifecycle profile (repeatable)",
    )
    p.add_argument(
        "--task-type",
        type=key_value,
        action="append",
        default=[],
        metavar="PATTERN=PROFILE",
        help="task type or glob -> profile (repeatable)",
    )
    p.add_argument("--default-profile", default="", help="profile for unmatched task types")
    p = add_command(
        commands,
        "get",
        get,
        help="show a board and its lifecycles",
        example="quadro boards get claims",
    )
    p.add_argument("board")
    add_command(commands, "ls", ls, help="list boards", example="quadro boards ls")
