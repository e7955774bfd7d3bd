"""`quadro chief` and `quadro ombudsman`, contributed to the `quadro` command."""

from __future__ import annotations

import argparse
import os

import quadro
from quadro.cli.common import client_settings, load_callable
from quadro.cli.runtime import add_runtime_command, run_until_signalled
from quadro_chiefs.cadence import parse_cadence
from quadro_chiefs.chief import ChiefAgent
from quadro_chiefs.ombudsman import Ombudsman, parse_timeouts
from quadro_chiefs.policies import default_policy
from quadro_chiefs.snapshot import WAITING_LIMIT

CHIEF_EXAMPLES = """\
examples:
  quadro chief --board claims --task-type 'intake_*'
  quadro chief --board claims --task-type 'payment_*' --cadence 'cron:*/5 * * * *'
  quadro chief --board claims --policy claims.policies:assessment --cadence debounced:2

A policy is `module:function`, imported with the current folder on the path: it gets a
quadro_chiefs.Snapshot and returns actions (quadro_chiefs.Assign, Transition, PostTask,
HandOff). Without --policy, the default policy dispatches by priority then age to agents
whose capabilities match, routes reviews, and reassigns stale work."""

OMBUDSMAN_EXAMPLES = """\
examples:
  quadro ombudsman                                  # every board, IN_PROGRESS quiet 60 s
  quadro ombudsman --board claims --stale-after IN_PROGRESS=30 --stale-after INSPECTING=600

A task quiet (no heartbeat, no change) for longer than its status's timeout moves to
STALE when its lifecycle has that route (a Chief reassigns it), else to HUMAN_REVIEW.
`quadro serve` runs one by default; several at once are safe."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    chief = add_runtime_command(
        subparsers,
        "chief",
        _chief,
        help="run a Chief that decides who works on what",
        description="Run a Chief over a scope of one or more boards: wake on changes, "
        "read the scope, apply a policy's decisions.",
        examples=CHIEF_EXAMPLES,
    )
    chief.add_argument(
        "--board", action="append", required=True, help="a board of the scope (repeatable)"
    )
    chief.add_argument(
        "--task-type",
        action="append",
        default=[],
        metavar="GLOB",
        help="task types of the scope (repeatable; none means all)",
    )
    chief.add_argument(
        "--cadence",
        default="reactive",
        help="reactive, debounced:SECONDS, periodic:SECONDS or cron:EXPRESSION (default reactive)",
    )
    chief.add_argument("--policy", metavar="MODULE:FUNCTION", help="default: the built-in one")
    chief.add_argument(
        "--waiting-limit",
        type=int,
        default=WAITING_LIMIT,
        metavar="N",
        help="tasks waiting for an agent each cycle reads per board, first in dispatch "
        f"order (0: all; default {WAITING_LIMIT})",
    )
    chief.add_argument(
        "--live-view",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="decide event cycles on the view kept from events between reads (default: "
        "with the built-in policy only; see docs/runtime.md)",
    )
    chief.add_argument(
        "--view-max-age",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="read a live view again, in the background, after this long (default 1)",
    )
    chief.add_argument(
        "--name", default=os.environ.get("QUADRO_CHIEF", "chief"), help="env QUADRO_CHIEF"
    )

    ombudsman = add_runtime_command(
        subparsers,
        "ombudsman",
        _ombudsman,
        help="run an Ombudsman that declares quiet work stale",
        description="Run an Ombudsman: sweep boards for tasks whose heartbeat went quiet.",
        examples=OMBUDSMAN_EXAMPLES,
    )
    add_ombudsman_options(ombudsman)
    ombudsman.add_argument(
        "--board", action="append", default=[], help="a board to sweep (repeatable; none: all)"
    )


def add_ombudsman_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The Ombudsman's settings, also offered by `quadro serve` (with `prefix`)."""
    parser.add_argument(
        f"--{prefix}stale-after",
        dest="ombudsman_timeouts",
        action="append",
        default=[],
        metavar="STATUS=SECONDS",
        help="seconds of quiet after which a task in STATUS is stale (repeatable; "
        "default IN_PROGRESS=60)",
    )
    parser.add_argument(
        f"--{prefix}interval",
        dest="ombudsman_interval",
        type=float,
        default=5.0,
        help="seconds between sweeps (default 5)",
    )


def ombudsman_from(client: quadro.AsyncClient, args: argparse.Namespace) -> Ombudsman:
    timeouts = parse_timeouts(args.ombudsman_timeouts) or {"IN_PROGRESS": 60.0}
    boards = getattr(args, "board", None) or ()
    return Ombudsman(client, boards, timeouts=timeouts, interval=args.ombudsman_interval)


async def _chief(args: argparse.Namespace) -> int:
    cadence = parse_cadence(args.cadence)
    policy = load_callable(args.policy) if args.policy else default_policy
    async with quadro.AsyncClient(
        args.server, timeout=args.timeout, **client_settings(args)
    ) as client:
        chief = ChiefAgent(
            client,
            args.name,
            args.board,
            task_types=args.task_type,
            cadence=cadence,
            policy=policy,
            waiting_limit=args.waiting_limit,
            live_view=args.live_view,
            view_max_age=args.view_max_age,
        )
        scope = ", ".join(args.task_type) or "all task types"
        await run_until_signalled(
            chief,
            f"quadro chief: {args.name} on {', '.join(args.board)} ({scope}), "
            f"{cadence.describe()}, at {args.server}",
        )
        cycles = list(chief.cycles)
        print(
            f"quadro chief: {args.name} stopped after {chief.cycle_count} cycles, "
            f"{sum(c.actions for c in cycles)} actions, "
            f"{sum(c.lost_races for c in cycles)} lost races",
            flush=True,
        )
    return 0


async def _ombudsman(args: argparse.Namespace) -> int:
    async with quadro.AsyncClient(
        args.server, timeout=args.timeout, **client_settings(args)
    ) as client:
        ombudsman = ombudsman_from(client, args)
        boards = ", ".join(args.board) or "every board"
        await run_until_signalled(
            ombudsman, f"quadro ombudsman: sweeping {boards} at {args.server}"
        )
    return 0


# --- inside `quadro serve` ------------------------------------------------------------


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the Ombudsman, run inside the server")
    group.add_argument(
        "--no-ombudsman",
        action="store_true",
        default=os.environ.get("QUADRO_OMBUDSMAN", "1") == "0",
        help="do not run an Ombudsman in this process (env QUADRO_OMBUDSMAN=0)",
    )
    add_ombudsman_options(group, prefix="ombudsman-")  # type: ignore[arg-type]


def serve_companion(args: argparse.Namespace, client: quadro.AsyncClient) -> Ombudsman | None:
    """The Ombudsman `quadro serve` runs beside itself, sweeping every board."""
    if args.no_ombudsman:
        return None
    return ombudsman_from(client, args)
