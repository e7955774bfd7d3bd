"""What the long-running commands (`quadro worker`, `quadro chief`, `quadro ombudsman`)
share: logging, errors as exit codes, and running until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from quadro import errors
from quadro.cli.common import (
    EXIT_CODES_HELP,
    EXIT_USAGE,
    connection_options,
    exit_code,
    report,
)


class Runner(Protocol):
    """A Worker, a Chief, an Ombudsman: runs until stopped, says when it is ready."""

    ready: asyncio.Event

    async def run(self) -> None: ...

    def stop(self) -> None: ...


def add_runtime_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    main: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
    *,
    help: str,
    description: str,
    examples: str,
) -> argparse.ArgumentParser:
    """A long-running subcommand: connection options, --log-level, and `main(args)` run
    by `run_command`."""
    parser = subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=f"{examples.rstrip()}\n\n{EXIT_CODES_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[connection_options()],
    )
    parser.add_argument("--log-level", default=os.environ.get("QUADRO_LOG_LEVEL", "INFO"))
    parser.set_defaults(handler=lambda args: run_command(name, args, lambda: main(args)))
    return parser


def run_command(
    name: str, args: argparse.Namespace, main: Callable[[], Coroutine[Any, Any, int]]
) -> int:
    """Run `main` with logging set up; usage errors and board errors become a message
    and an exit code, never a traceback."""
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return asyncio.run(main())
    except ValueError as exc:
        print(f"quadro {name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except errors.QuadroError as exc:
        report(exc, args.server)
        return exit_code(exc)


async def run_until_signalled(runner: Runner, announce: str) -> None:
    """Run until the runner ends or a signal stops it (it then drains); print `announce`
    once it is ready."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, runner.stop)
    running = asyncio.create_task(runner.run())
    ready = asyncio.create_task(runner.ready.wait())
    await asyncio.wait([running, ready], return_when=asyncio.FIRST_COMPLETED)
    if runner.ready.is_set():
        print(announce, flush=True)
    ready.cancel()
    await running
