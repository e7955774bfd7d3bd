"""`quadro worker`: run a Worker from the shell, contributed to the `quadro` command."""

from __future__ import annotations

import argparse
import os
import socket

import quadro
from quadro.cli.common import client_settings, load_callable
from quadro.cli.runtime import add_runtime_command, run_until_signalled
from quadro_workers.worker import Worker

EXAMPLES = """\
examples:
  quadro worker --board claims --handler claims.intake:validate --capability 'intake_*'
  quadro worker --board claims --handler claims.assess:estimate \\
      --review-handler claims.assess:check --review 'assessment_*' --concurrency 4

The handler is `module:function`, imported with the current folder on the path. It
gets a context (`context.task` is the task) and returns the output: text, or anything
JSON-able; an exception moves the task to HUMAN_REVIEW. A coroutine function runs on
the worker's event loop, a plain function in a thread. SIGTERM drains: no new task,
running ones finish within --drain-grace seconds or are given back."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_runtime_command(
        subparsers,
        "worker",
        _work,
        help="run a worker that executes a board's tasks",
        description="Run a Worker: take the tasks assigned to this agent, run a handler "
        "for each, report the results.",
        examples=EXAMPLES,
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


async def _work(args: argparse.Namespace) -> int:
    handler = load_callable(args.work_handler)
    review = load_callable(args.review_handler) if args.review_handler else None
    async with quadro.AsyncClient(
        args.server, timeout=args.timeout, **client_settings(args)
    ) as client:
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
        await run_until_signalled(
            worker, f"quadro worker: {args.agent} working on {args.board} at {args.server}"
        )
        s = worker.stats
        print(
            f"quadro worker: {args.agent} stopped: {s.completed} completed, {s.reviewed} "
            f"reviewed, {s.failed} failed, {s.superseded} superseded, {s.released} released",
            flush=True,
        )
    return 0
