"""What every client subcommand shares: connection options, output, errors, exit codes."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

import quadro
from quadro import errors
from quadro.retry import DEFAULT_TARGET

# Exit codes: a script can tell what happened without parsing text.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INVALID_ARGUMENT = 3
EXIT_NOT_FOUND = 4
EXIT_FAILED_PRECONDITION = 5
EXIT_CONFLICT = 6
EXIT_UNAVAILABLE = 7
EXIT_DENIED = 8

EXIT_CODES_HELP = """\
exit codes: 0 ok, 2 usage, 3 invalid argument, 4 not found, 5 not allowed in the current
state (invalid transition, lost compare-and-set), 6 already exists or request-id conflict,
7 server unavailable, 8 unauthenticated or permission denied, 1 anything else"""

_EXIT_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: EXIT_INVALID_ARGUMENT,
    grpc.StatusCode.OUT_OF_RANGE: EXIT_INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND: EXIT_NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION: EXIT_FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS: EXIT_CONFLICT,
    grpc.StatusCode.ABORTED: EXIT_CONFLICT,
    grpc.StatusCode.UNAVAILABLE: EXIT_UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: EXIT_UNAVAILABLE,
    grpc.StatusCode.UNAUTHENTICATED: EXIT_DENIED,
    grpc.StatusCode.PERMISSION_DENIED: EXIT_DENIED,
}

Handler = Callable[[quadro.Client, argparse.Namespace], None]


def connection_options() -> argparse.ArgumentParser:
    """Options every client subcommand takes (after the subcommand)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection and output")
    group.add_argument(
        "--server",
        default=os.environ.get("QUADRO_SERVER", DEFAULT_TARGET),
        help="server address (env QUADRO_SERVER, default localhost:50051)",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=float(os.environ.get("QUADRO_TIMEOUT", "10")),
        help="seconds per call (env QUADRO_TIMEOUT, default 10)",
    )
    group.add_argument("--json", action="store_true", help="print JSON for scripts")
    group.add_argument(
        "--token",
        default=os.environ.get("QUADRO_TOKEN"),
        help="API token of a server with authentication (env QUADRO_TOKEN)",
    )
    group.add_argument(
        "--tls",
        action="store_true",
        default=bool(os.environ.get("QUADRO_TLS")),
        help="connect with TLS, trusting the system's CAs (env QUADRO_TLS=1)",
    )
    for flag, env, what in (
        (
            "--tls-ca",
            "QUADRO_TLS_CA",
            "CA certificate (PEM) to trust for the server; implies --tls",
        ),
        ("--tls-cert", "QUADRO_TLS_CERT", "client certificate (PEM) for mutual TLS"),
        ("--tls-key", "QUADRO_TLS_KEY", "client private key (PEM) for mutual TLS"),
    ):
        group.add_argument(flag, default=os.environ.get(env), help=f"{what} (env {env})")
    return parent


def client_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The client's keyword arguments from the connection options: token and TLS."""
    settings: dict[str, Any] = {"token": args.token}
    if args.tls or args.tls_ca or args.tls_cert or args.tls_key:
        settings["credentials"] = quadro.tls.channel_credentials(
            args.tls_ca, args.tls_cert, args.tls_key
        )
    return settings


def add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    handler: Handler,
    *,
    help: str,
    example: str,
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=f"example:\n  {example}\n\n{EXIT_CODES_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[connection_options()],
    )
    parser.set_defaults(handler=lambda args: run(handler, args))
    return parser


def run(handler: Handler, args: argparse.Namespace) -> int:
    """Call the handler with a client; turn errors into a readable message and an exit
    code, never a traceback."""
    retry = quadro.RetryPolicy(max_attempts=3)
    try:
        settings = client_settings(args)
        with quadro.Client(args.server, timeout=args.timeout, retry=retry, **settings) as client:
            handler(client, args)
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`quadro events ls B | head`): not an error. Point stdout at
        # /dev/null so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except errors.QuadroError as exc:
        report(exc, args.server)
        return exit_code(exc)
    except (ValueError, OSError) as exc:
        print(f"quadro: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValueError) else EXIT_INTERNAL
    return EXIT_OK


def exit_code(exc: errors.QuadroError) -> int:
    """The exit code that tells a script what kind of error ended the command."""
    return _EXIT_BY_CODE.get(exc.code, EXIT_INTERNAL)


def report(exc: errors.QuadroError, server: str) -> None:
    # With field violations the message only repeats them; list them one per line.
    lines = [
        "quadro: error: invalid request"
        if exc.field_violations
        else f"quadro: error: {exc.message}"
    ]
    for field, description in exc.field_violations:
        lines.append(f"  {field}: {description}" if field else f"  {description}")
    if isinstance(exc, errors.Unavailable):
        lines.append(f"  is a server running at {server}? start one with `quadro serve`")
    if exc.reason:
        lines.append(f"  ({exc.code.name}, reason {exc.reason})")
    print("\n".join(lines), file=sys.stderr)


def as_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def print_json(value: Any) -> None:
    if isinstance(value, Message):
        value = as_dict(value)
    print(json.dumps(value, indent=2, ensure_ascii=False))


def print_record(message: Message, fields: Sequence[str]) -> None:
    """A resource as aligned `field: value` lines (empty fields left out)."""
    data = as_dict(message)
    width = max(len(f) for f in fields)
    for field in fields:
        value = data.get(field)
        if value in (None, "", [], {}):
            continue
        if isinstance(value, (list, dict)):
            value = json.dumps(value, ensure_ascii=False)
        print(f"{field.ljust(width)}  {value}")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Aligned columns; long cells are cut so that a row stays on one line."""
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells:
        print("(none)")
        return
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    text = "" if value is None else str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def task_name(value: str, board: str | None = None) -> str:
    """A task from `boards/B/tasks/T`, `B/T`, or `T` with --board."""
    if value.startswith("boards/"):
        return value
    if "/" in value:
        board_id, task_id = value.split("/", 1)
        return quadro.names.task(board_id, task_id)
    if board:
        return quadro.names.task(board, value)
    raise ValueError(f"task {value!r}: give BOARD/TASK or a full name boards/BOARD/tasks/TASK")


def key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key, value


def load_callable(spec: str) -> Any:
    """`package.module:function`, imported with the current folder on the path."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{spec!r}: expected MODULE:FUNCTION")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"{spec!r}: cannot import {module_name}: {exc}") from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"{spec!r}: {module_name} has no {attribute}") from None
    if not callable(target):
        raise ValueError(f"{spec!r} is not callable")
    return target
