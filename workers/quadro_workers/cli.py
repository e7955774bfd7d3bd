"""`quadro worker`: run a Worker from the shell, contributed to the `quadro` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import socket
import sys
from typing import Any

import quadro
from quadro import errors
from quadro.cli.common import EXIT_CODES_HELP, connection_options, exit_code, report
from quadro_workers.worker import Handler, Worker

EXAMPLES = f"""\
examples:
  quadro worker --board claims --handler claims.intake:validate --capability 'intake_*'
  quadro worker --board claims --handler claims.assess:estimate \\
      --review-handler claims.assess:check --review 'assessment_*' --concurrency 4

The handler is `module:function`, imported with the current folder on the path. It
gets a context (`context.task` is the task) and returns the output: text, or anything
JSON-able; an exception moves the task to HUMAN_REVIEW. A coroutine function runs on
the worker's event loop, a plain function in a thread. SIGTERM drains: no new task,
running ones finish within --drain-grace seconds or are given back.

{EXIT_CODES_HELP}"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run a worker that executes a board's tasks",
        description="Run a Worker: take the tasks assigned to this agent, run a handler "
        "for each, report the results.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[connection_options()],
    )
    parser.add_argument("--board", required=True, help="the board to work on")
    # Not `handler`: the parser's `handler` default is the function that runs the command.
    parser.add_argument("--handler", dest="work_handler", required=True, metavar="MODULE:FUNCTION")
    parser.add_argument(
        "--review-handler", metavar="MODULE:FUNCTION", help="judges work sent for review"
    )
    parser.add_argument(
        "--agent",
        default=os.environ.get("QUADRO_AGENT", f"{socket.gethostname()}-{os.getpid()}"),
        help="agent id (env QUADRO_AGENT, default HOSTNAME-PID)",
    )
    parser.add_argument(
        "--capability",
        action="append",
        default=[],
        metavar="TASK_TYPE",
        help="task type or glob it works on (repeatable; none means any)",
    )
    parser.add_argument(
        "--review",
        action="append",
        default=[],
        metavar="TASK_TYPE",
        help="task type or glob whose work it reviews (repeatable; needs --review-handler)",
    )
    parser.add_argument("--concurrency", type=int, default=1, help="tasks at once (default 1)")
    parser.add_argument("--heartbeat-interval", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument(
        "--drain-grace", type=float, default=30.0, help="seconds on SIGTERM (default 30)"
    )
    parser.add_argument("--log-level", default=os.environ.get("QUADRO_LOG_LEVEL", "INFO"))
    parser.set_defaults(handler=run)


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


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        handler = load_callable(args.work_handler)
        review = load_callable(args.review_handler) if args.review_handler else None
        return asyncio.run(_work(args, handler, review))
    except ValueError as exc:
        print(f"quadro worker: {exc}", file=sys.stderr)
        return 2
    except errors.QuadroError as exc:
        report(exc, args.server)
        return exit_code(exc)


async def _work(args: argparse.Namespace, handler: Handler, review: Handler | None) -> int:
    async with quadro.AsyncClient(args.server, timeout=args.timeout) as client:
        worker = Worker(
            client,
            args.board,
            args.agent,
            handler,
            review_handler=review,
            capabilities=args.capability,
            review_capabilities=args.review,
            concurrency=args.concurrency,
            heartbeat_interval=args.heartbeat_interval,
            drain_grace=args.drain_grace,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, worker.stop)
        running = asyncio.create_task(worker.run())
        ready = asyncio.create_task(worker.ready.wait())
        await asyncio.wait([running, ready], return_when=asyncio.FIRST_COMPLETED)
        if worker.ready.is_set():
            print(
                f"quadro worker: {args.agent} working on {args.board} at {args.server}",
                flush=True,
            )
        ready.cancel()
        await running
        s = worker.stats
        print(
            f"quadro worker: {args.agent} stopped: {s.completed} completed, {s.reviewed} "
            f"reviewed, {s.failed} failed, {s.superseded} superseded, {s.released} released",
            flush=True,
        )
    return 0
