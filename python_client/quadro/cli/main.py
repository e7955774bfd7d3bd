"""Parser assembly, plug-in discovery and exit codes of the `quadro` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

ENTRY_POINT_GROUP = "quadro.commands"

EPILOG = """\
example:
  quadro serve &                                   # a server on localhost:50051
  quadro boards create claims
  quadro tasks post claims claim_intake "Validate claim 1042"
  quadro events ls claims

`quadro COMMAND --help` describes each command, with an example."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quadro",
        description="Quadro: a coordination board for many agents.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        entry.load()(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
