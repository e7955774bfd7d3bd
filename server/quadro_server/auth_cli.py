"""`quadro auth token`: make an API token and the config entry that grants it."""

from __future__ import annotations

import argparse
import sys

from quadro_server.api.auth import ALL, ROLES, new_token, principals_line

EXAMPLE = """\
example:
  quadro auth token intake-worker-1 --role worker --scope acme >> auth.yaml.part
  # the token goes to stderr, once: give it to the principal; the entry (only its hash)
  # goes under `principals:` in the file passed to `quadro serve --auth-config`
"""


def token(args: argparse.Namespace) -> int:
    secret = new_token()
    print(principals_line(args.name, secret, args.role, args.scope or [ALL]))
    print(f"token for {args.name} (shown once, not stored): {secret}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("auth", help="make API tokens for `quadro serve`")
    commands = parser.add_subparsers(dest="auth_command", metavar="COMMAND", required=True)
    p = commands.add_parser(
        "token",
        help="a new token and its config entry",
        description="Print a config entry (name, token hash, roles, scopes) for a new API "
        "token; the token itself goes to standard error.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", help="the principal's name, recorded on every event it causes")
    p.add_argument(
        "--role", action="append", choices=sorted(ROLES), required=True, help="repeatable"
    )
    p.add_argument(
        "--scope",
        action="append",
        help="tenant it may see (repeatable; '' is the default scope); default: all",
    )
    p.set_defaults(handler=token)
