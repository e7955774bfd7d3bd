"""`quadro data ...`: the board's key-value store."""

from __future__ import annotations

import argparse
import json

import quadro
from quadro.cli.common import add_command, print_json, print_table


def put(client: quadro.Client, args: argparse.Namespace) -> None:
    try:
        value = json.loads(args.value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"value is not JSON ({exc}); quote strings: '\"text\"'") from None
    entry = client.put_data(args.board, args.key, value).entry
    print_json(entry) if args.json else print(f"{entry.name} written")


def get(client: quadro.Client, args: argparse.Namespace) -> None:
    entry = client.get_data(args.board, args.key).entry
    print_json(quadro.from_value(entry.value))


def rm(client: quadro.Client, args: argparse.Namespace) -> None:
    existed = client.delete_data(args.board, args.key).existed
    print(json.dumps({"existed": existed}) if args.json else ("deleted" if existed else "absent"))


def ls(client: quadro.Client, args: argparse.Namespace) -> None:
    entries = list(client.iter_data(args.board, key_prefix=args.prefix))
    if args.json:
        print_json({quadro.names.last_segment(e.name): quadro.from_value(e.value) for e in entries})
        return
    print_table(
        ("key", "value", "updated"),
        (
            (
                quadro.names.last_segment(e.name),
                json.dumps(quadro.from_value(e.value)),
                e.update_time.ToJsonString(),
            )
            for e in entries
        ),
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("data", help="the board's key-value store")
    commands = parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    p = add_command(
        commands,
        "put",
        put,
        help="store a JSON value",
        example="quadro data put claims limits '{\"max_payout\": 5000}'",
    )
    p.add_argument("board")
    p.add_argument("key")
    p.add_argument("value", help="a JSON value")
    for name, handler, text in (("get", get, "print a value as JSON"), ("rm", rm, "delete a key")):
        p = add_command(
            commands, name, handler, help=text, example=f"quadro data {name} claims limits"
        )
        p.add_argument("board")
        p.add_argument("key")
    p = add_command(
        commands,
        "ls",
        ls,
        help="list the keys not starting with '_'",
        example="quadro data ls claims --prefix limits",
    )
    p.add_argument("board")
    p.add_argument("--prefix", default="")
