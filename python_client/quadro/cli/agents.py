"""`quadro agents ...`: register, list and inspect agents."""

from __future__ import annotations

import argparse

import quadro
from quadro.cli.common import add_command, as_dict, print_json, print_record, print_table
from quadro.cli.events import print_events
from quadro.v1 import agent_pb2

FIELDS = (
    "name",
    "display_name",
    "status",
    "active_tasks",
    "concurrency",
    "capabilities",
    "review_capabilities",
    "version",
    "register_time",
    "last_seen_time",
)


def _status(agent: agent_pb2.Agent) -> str:
    return agent_pb2.AgentStatus.Name(agent.status).removeprefix("AGENT_STATUS_")


def register_agent(client: quadro.Client, args: argparse.Namespace) -> None:
    agent = client.register_agent(
        args.board,
        args.agent,
        display_name=args.display_name,
        capabilities=args.capability,
        review_capabilities=args.review,
        version=args.version,
        concurrency=args.concurrency,
    ).agent
    print_json(agent) if args.json else print_record(agent, FIELDS)


def get(client: quadro.Client, args: argparse.Namespace) -> None:
    agent = client.get_agent(args.board, args.agent).agent
    print_json(agent) if args.json else print_record(agent, FIELDS)


def ls(client: quadro.Client, args: argparse.Namespace) -> None:
    agents = list(client.iter_agents(args.board))
    if args.json:
        print_json([as_dict(a) for a in agents])
        return
    print_table(
        ("agent", "status", "active", "capabilities", "reviews", "last seen"),
        (
            (
                quadro.names.last_segment(a.name),
                _status(a),
                f"{a.active_tasks}/{a.concurrency}",
                ",".join(a.capabilities) or "*",
                ",".join(a.review_capabilities) or "-",
                a.last_seen_time.ToJsonString(),
            )
            for a in agents
        ),
    )


def heartbeat(client: quadro.Client, args: argparse.Namespace) -> None:
    response = client.heartbeat(args.board, args.agent, task=args.task)
    print_json(response) if args.json else print_record(response.agent, FIELDS)


def activity(client: quadro.Client, args: argparse.Namespace) -> None:
    print_events(client.agent_activity(args.board, args.agent), args.json)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("agents", help="register and inspect agents")
    commands = parser.add_subparsers(dest="agents_command", metavar="COMMAND", required=True)
    p = add_command(
        commands,
        "register",
        register_agent,
        help="register or update an agent",
        example="quadro agents register claims alice --capability 'intake_*'",
    )
    p.add_argument("board")
    p.add_argument("agent")
    p.add_argument("--display-name", default="")
    p.add_argument(
        "--capability",
        action="append",
        default=[],
        help="task type or glob it can work on (repeatable)",
    )
    p.add_argument(
        "--review",
        action="append",
        default=[],
        metavar="TASK_TYPE",
        help="task type or glob whose work it can review (repeatable)",
    )
    p.add_argument("--version", default="")
    p.add_argument("--concurrency", type=int, default=0, help="tasks it may hold (default 1)")
    for name, handler, text in (
        ("get", get, "show an agent"),
        ("activity", activity, "every event involving an agent"),
    ):
        p = add_command(
            commands, name, handler, help=text, example=f"quadro agents {name} claims alice"
        )
        p.add_argument("board")
        p.add_argument("agent")
    p = add_command(
        commands,
        "heartbeat",
        heartbeat,
        help="report an agent (and task) alive",
        example="quadro agents heartbeat claims alice --task boards/claims/tasks/k3x9a",
    )
    p.add_argument("board")
    p.add_argument("agent")
    p.add_argument("--task", default="", help="task it is working on")
    p = add_command(
        commands, "ls", ls, help="list a board's agents", example="quadro agents ls claims"
    )
    p.add_argument("board")
