"""The `quadro` command end to end: every client subcommand against a real server, its JSON
and table output, its exit codes and error messages, its help, and the quickstart script."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import quadro as quadro_client
from quadro.v1 import chief_pb2
from support.server import ServerProcess

SEED, EVENT = chief_pb2.CYCLE_TRIGGER_SEED, chief_pb2.CYCLE_TRIGGER_EVENT

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INVALID_ARGUMENT = 3
EXIT_NOT_FOUND = 4
EXIT_FAILED_PRECONDITION = 5
EXIT_CONFLICT = 6
EXIT_UNAVAILABLE = 7


def quadro(
    *args: str, server: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m quadro ARGS [--server SERVER]`. Whatever happens, no traceback."""
    argv = [sys.executable, "-m", "quadro", *args]
    if server is not None:
        argv += ["--server", server]
    base = {k: v for k, v in os.environ.items() if not k.startswith("QUADRO_")}
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**base, **(env or {})},
        cwd=ROOT,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def ok(server: ServerProcess, *args: str) -> str:
    """Run a subcommand that must succeed; its standard output."""
    result = quadro(*args, server=server.address)
    assert result.returncode == EXIT_OK, f"quadro {' '.join(args)}: {result.stderr}"
    return result.stdout


def ok_json(server: ServerProcess, *args: str) -> Any:
    """Run a subcommand with `--json` that must succeed; its output, parsed."""
    return json.loads(ok(server, *args, "--json"))


def fails(server: str, code: int, *args: str) -> str:
    """Run a subcommand that must fail with `code`; its standard error."""
    result = quadro(*args, server=server)
    assert result.returncode == code, (
        f"quadro {' '.join(args)}: exit {result.returncode}, wanted {code}\n"
        f"stdout: {result.stdout}\nstderr: {result.stderr}"
    )
    assert result.stdout == "", result.stdout
    assert result.stderr.strip(), "an error must say what went wrong"
    return result.stderr


def table(output: str, *headers: str) -> list[dict[str, str]]:
    """Rows of an aligned table, columns found by the header's positions."""
    lines = output.rstrip("\n").splitlines()
    header = lines[0]
    starts = [header.index(h.upper()) for h in headers]
    assert starts == sorted(starts), header
    ends = [*starts[1:], None]
    return [
        {h: line[s:e].strip() for h, s, e in zip(headers, starts, ends, strict=True)}
        for line in lines[1:]
    ]


def record(output: str) -> dict[str, str]:
    """A `field  value` record as printed for one resource."""
    fields: dict[str, str] = {}
    for line in output.splitlines():
        key, _, value = line.partition(" ")
        fields[key] = value.strip()
    return fields


@pytest.fixture(scope="module")
def closed_address() -> Iterator[str]:
    """A loopback port bound but not listening: connecting is refused, and nobody else can
    take the port while the test runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def cli_board(server: ServerProcess, board_id: str) -> str:
    """A fresh board created through the command, with two agents."""
    ok(server, "boards", "create", board_id)
    ok(server, "agents", "register", board_id, "alice", "--capability", "claim_*")
    ok(server, "agents", "register", board_id, "bob")
    return board_id


# --- help -----------------------------------------------------------------------------------


def test_top_level_help_lists_every_command() -> None:
    result = quadro("--help")
    assert result.returncode == EXIT_OK
    assert result.stdout.startswith("usage: quadro ")
    for command, text in (
        ("agents", "register and inspect agents"),
        ("boards", "create, show and list boards"),
        ("data", "the board's key-value store"),
        ("events", "read the event log"),
        ("lineage", "a task's ancestors and descendants"),
        ("serve", "run a board server"),
        ("tasks", "post, move and inspect tasks"),
    ):
        assert any(
            line.split()[:1] == [command] and text in line for line in result.stdout.splitlines()
        ), f"{command}: {text!r} missing from\n{result.stdout}"


def test_top_level_help_shows_an_example() -> None:
    result = quadro("--help")
    assert result.returncode == EXIT_OK
    assert "example" in result.stdout.lower()
    assert "\n  quadro " in result.stdout


def test_no_command_prints_usage_and_exits_2() -> None:
    result = quadro()
    assert result.returncode == EXIT_USAGE
    assert "usage: quadro" in result.stdout + result.stderr


def test_tasks_move_help_shows_usage_example_and_exit_codes() -> None:
    result = quadro("tasks", "move", "--help")
    assert result.returncode == EXIT_OK
    out = result.stdout
    assert out.startswith("usage: quadro tasks move ")
    assert "task to_status" in out
    for option in ("--assignee", "--expect-status", "--server", "--timeout", "--json"):
        assert option in out
    assert "example:\n  quadro tasks move claims/k3x9a IN_PROGRESS --assignee alice" in out
    assert "exit codes: 0 ok, 2 usage, 3 invalid argument, 4 not found, 5 " in out


@pytest.mark.parametrize(
    "command",
    [
        "boards create",
        "agents register",
        "tasks post",
        "tasks ls",
        "tasks handoff",
        "events ls",
        "data put",
        "lineage",
    ],
)
def test_every_client_command_help_has_an_example(command: str) -> None:
    result = quadro(*command.split(), "--help")
    assert result.returncode == EXIT_OK
    assert result.stdout.startswith(f"usage: quadro {command} ")
    assert f"example:\n  quadro {command}" in result.stdout


# --- boards ---------------------------------------------------------------------------------


def test_boards_create_get_ls(server: ServerProcess, board_id: str) -> None:
    created = record(
        ok(
            server, "boards", "create", board_id, "--display-name", "Motor claims",
            "--task-type", "quick_*=fast",
            "--profile", "legal=UNASSIGNED:review,review:liable,review:not_liable",
        )
    )  # fmt: skip
    assert created["name"] == f"boards/{board_id}"
    assert created["display_name"] == "Motor claims"
    assert created["default_profile"] == "review_required"

    board = ok_json(server, "boards", "get", board_id)
    assert board["name"] == f"boards/{board_id}"
    assert board["display_name"] == "Motor claims"
    assert set(board["profiles"]) == {"fast", "review_required", "legal"}
    assert board["task_types"] == [{"pattern": "quick_*", "profile": "fast"}]
    legal = board["profiles"]["legal"]
    assert not legal.get("built_in", False)
    assert {(t["from_status"], t["to_status"]) for t in legal["transitions"]} == {
        ("UNASSIGNED", "review"), ("review", "liable"), ("review", "not_liable"),
    }  # fmt: skip
    assert "liable" in legal["terminal_statuses"]

    shown = ok(server, "boards", "get", board_id)
    assert "task type   quick_* -> fast" in shown
    assert "profile     fast (built-in): UNASSIGNED->IN_PROGRESS, IN_PROGRESS->COMPLETE" in shown
    assert "profile     legal (custom): UNASSIGNED->review" in shown

    rows = table(ok(server, "boards", "ls"), "board", "display name", "default profile", "events")
    assert {"board": f"boards/{board_id}", "display name": "Motor claims",
            "default profile": "review_required", "events": "0"} in rows  # fmt: skip
    listed = ok_json(server, "boards", "ls")
    assert f"boards/{board_id}" in [b["name"] for b in listed]


def test_boards_create_with_default_profile(server: ServerProcess, board_id: str) -> None:
    board = ok_json(server, "boards", "create", board_id, "--default-profile", "fast")
    assert board["default_profile"] == "fast"
    task = ok_json(server, "tasks", "post", board_id, "anything", "Do it")
    assert task["profile"] == "fast"


def test_handoff_and_lineage(server: ServerProcess, board_id: str) -> None:
    ok(server, "boards", "create", board_id, "--default-profile", "fast")
    ok(server, "boards", "create", f"{board_id}-next", "--default-profile", "fast")
    ok(server, "agents", "register", board_id, "w")
    root = ok_json(server, "tasks", "post", board_id, "intake", "claim 7", "--id", "root")
    ok(server, "tasks", "move", root["name"], "IN_PROGRESS", "--assignee", "w")
    # Not finished yet: refused, exit code of a failed precondition.
    handoff = ("tasks", "handoff", root["name"], f"{board_id}-next", "assess", "x")
    assert "not terminal" in fails(server.address, EXIT_FAILED_PRECONDITION, *handoff)
    ok(server, "tasks", "result", root["name"], "valid", "--agent", "w")
    child = ok_json(server, "tasks", "handoff", f"{board_id}/root", f"{board_id}-next",
                    "assess", "assess claim 7", "--id", "child", "--priority", "1")  # fmt: skip
    assert child["name"] == f"boards/{board_id}-next/tasks/child"
    assert child["parent_task"] == child["origin_task"] == root["name"]
    assert "already handed off" in fails(server.address, EXIT_FAILED_PRECONDITION, *handoff)
    shown = ok(server, "tasks", "get", root["name"])
    assert f"boards/{board_id}-next/tasks/child" in shown
    table = ok(server, "lineage", f"{board_id}-next/child").splitlines()
    assert table[0].split()[:3] == ["TASK", "TYPE", "STATUS"]
    assert table[1].split()[:3] == [f"boards/{board_id}/tasks/root", "intake", "COMPLETE"]
    assert table[2].split()[:4] == [
        f"boards/{board_id}-next/tasks/child",
        "*",
        "assess",
        "UNASSIGNED",
    ]
    assert table[2].startswith("  boards/")  # indented one level
    as_json = json.loads(ok(server, "lineage", f"{board_id}/root", "--json"))
    assert [h["name"] for h in as_json["descendants"]] == [child["name"]]


# --- chiefs ---------------------------------------------------------------------------------


def test_chiefs_ls_and_the_sleep_study(server: ServerProcess, board_id: str) -> None:
    with quadro_client.Client(server.address) as client:
        client.create_board(board_id)
        client.register_chief(board_id, "intake", task_types=["intake_*"], cadence="reactive")
        for trigger, actions, noop in ((SEED, 3, False), (EVENT, 0, True), (EVENT, 2, False)):
            cycle = chief_pb2.ChiefCycle(trigger=trigger, actions=actions, noop=noop,
                                         lost_races=1, in_flight=2, waiting=5)  # fmt: skip
            cycle.start_time.GetCurrentTime()
            cycle.duration.FromMilliseconds(12)
            client.record_chief_cycle(board_id, "intake", cycle)
    rows = table(ok(server, "chiefs", "ls", board_id),
                 "chief", "state", "task types", "cadence", "cycles", "last cycle")  # fmt: skip
    assert [(r["chief"], r["state"], r["task types"], r["cadence"], r["cycles"]) for r in rows] == [
        ("intake", "sleeping", "intake_*", "reactive", "3")
    ]
    cycles = table(ok(server, "chiefs", "cycles", board_id, "intake"), "cycle", "trigger",
                   "start", "ms", "actions", "lost", "errors", "in flight", "waiting",
                   "noop")  # fmt: skip
    assert [(c["cycle"], c["trigger"], c["actions"], c["noop"]) for c in cycles] == [
        ("1", "seed", "3", ""), ("2", "event", "0", "noop"), ("3", "event", "2", ""),
    ]  # fmt: skip
    assert {c["ms"] for c in cycles} == {"12.0"}
    summary = ok(server, "chiefs", "cycles", board_id, "intake", "--summary")
    assert "triggers     event 2, seed 1" in summary
    assert "noops        1 of 2 event-triggered cycles" in summary
    assert "actions      5 (3 lost races, 0 errors)" in summary
    listed = ok_json(server, "chiefs", "cycles", board_id, "intake")
    assert [c["number"] for c in listed] == ["1", "2", "3"]
    assert "not found" in fails(server.address, EXIT_NOT_FOUND, "chiefs", "get", board_id, "nobody")


# --- agents ---------------------------------------------------------------------------------


def test_agents_register_get_ls(server: ServerProcess, board_id: str) -> None:
    ok(server, "boards", "create", board_id)
    alice = ok_json(
        server, "agents", "register", board_id, "alice", "--capability", "claim_*",
        "--capability", "review", "--concurrency", "2", "--display-name", "Alice",
        "--review", "legal_*",
    )  # fmt: skip
    assert alice["name"] == f"boards/{board_id}/agents/alice"
    assert alice["capabilities"] == ["claim_*", "review"]
    assert alice["review_capabilities"] == ["legal_*"]
    assert alice["concurrency"] == 2
    assert alice["display_name"] == "Alice"
    assert alice["status"] == "AGENT_STATUS_IDLE"
    bob = record(ok(server, "agents", "register", board_id, "bob"))
    assert bob["name"] == f"boards/{board_id}/agents/bob"
    assert bob["concurrency"] == "1"

    got = ok_json(server, "agents", "get", board_id, "alice")
    assert got["register_time"] == alice["register_time"]

    rows = table(
        ok(server, "agents", "ls", board_id),
        "agent", "status", "active", "capabilities", "reviews", "last seen",
    )  # fmt: skip
    assert [
        (r["agent"], r["status"], r["active"], r["capabilities"], r["reviews"]) for r in rows
    ] == [
        ("alice", "IDLE", "0/2", "claim_*,review", "legal_*"),
        ("bob", "IDLE", "0/1", "*", "-"),
    ]
    listed = ok_json(server, "agents", "ls", board_id)
    assert [a["name"] for a in listed] == [
        f"boards/{board_id}/agents/alice",
        f"boards/{board_id}/agents/bob",
    ]


# --- tasks ----------------------------------------------------------------------------------


def test_task_lifecycle(server: ServerProcess, cli_board: str) -> None:
    b = cli_board
    posted = ok_json(
        server, "tasks", "post", b, "claim_intake", "Validate claim 1042", "--id", "c1042",
        "--priority", "2", "--label", "region=north", "--note", "first look",
    )  # fmt: skip
    name = f"boards/{b}/tasks/c1042"
    assert posted["name"] == name
    assert posted["status"] == "UNASSIGNED"
    assert posted["priority"] == 2
    assert posted["labels"] == {"region": "north"}
    assert posted["notes"] == ["first look"]
    assert posted["profile"] == "review_required"
    generated = ok_json(server, "tasks", "post", b, "claim_intake", "Another claim")
    other = generated["name"].rsplit("/", 1)[1]
    assert len(other) == 5

    # The three ways to name a task.
    for ref in (f"{b}/c1042", name):
        assert ok_json(server, "tasks", "get", ref)["name"] == name
    shown = record(ok(server, "tasks", "get", "c1042", "--board", b))
    assert shown["name"] == name
    assert shown["label"] == "Validate claim 1042"
    assert shown["status"] == "UNASSIGNED"
    assert shown["labels"] == '{"region": "north"}'

    headers = ("task", "type", "status", "assignee", "prio", "label")
    assert table(ok(server, "tasks", "ls", b), *headers) == [
        {"task": "c1042", "type": "claim_intake", "status": "UNASSIGNED", "assignee": "",
         "prio": "2", "label": "Validate claim 1042"},
        {"task": other, "type": "claim_intake", "status": "UNASSIGNED", "assignee": "",
         "prio": "5", "label": "Another claim"},
    ]  # fmt: skip

    moved = ok(
        server, "tasks", "move", f"{b}/c1042", "IN_PROGRESS", "--assignee", "alice",
        "--expect-status", "UNASSIGNED",
    )  # fmt: skip
    assert moved.strip() == f"{name}: UNASSIGNED -> IN_PROGRESS (task_assigned, sequence 3)"
    agents = table(ok(server, "agents", "ls", b), "agent", "status", "active", "capabilities")
    assert [(a["agent"], a["status"], a["active"]) for a in agents] == [
        ("alice", "BUSY", "1/1"),
        ("bob", "IDLE", "0/1"),
    ]
    in_progress = ok_json(server, "tasks", "ls", b, "--status", "IN_PROGRESS")
    assert [t["name"] for t in in_progress] == [name]
    assert [t["name"] for t in ok_json(server, "tasks", "ls", b, "--assignee", "alice")] == [name]

    done = ok(server, "tasks", "result", f"{b}/c1042", "policy valid", "--agent", "alice")
    assert done.strip() == f"{name}: IN_PROGRESS -> PENDING_REVIEW (sequence 4)"
    ok(server, "tasks", "move", f"{b}/c1042", "IN_PROGRESS", "--assignee", "bob", "--note", "rev")
    approved = ok_json(server, "tasks", "move", f"{b}/c1042", "APPROVED")
    assert approved["task"]["status"] == "APPROVED"
    assert approved["event"]["type"] == "EVENT_TYPE_TASK_REVIEWED"
    assert approved["event"]["sequence"] == "6"
    ok(server, "tasks", "move", f"{b}/c1042", "COMPLETE")

    archived = record(ok(server, "tasks", "archive", f"{b}/c1042"))
    assert archived["status"] == "COMPLETE"
    assert archived["archived"] == "True"
    assert [t["name"] for t in ok_json(server, "tasks", "ls", b)] == [generated["name"]]
    final = ok_json(server, "tasks", "get", f"{b}/c1042")
    assert final["archived"] is True
    assert final["output"] == "policy valid"
    assert final["assigned_to"] == "bob"
    assert final["notes"] == ["first look", "rev"]

    history = table(
        ok(server, "tasks", "history", f"{b}/c1042"),
        "seq", "time", "event", "task", "from", "to", "agent",
    )  # fmt: skip
    assert [(r["seq"], r["event"], r["from"], r["to"], r["agent"]) for r in history] == [
        ("1", "task_posted", "", "UNASSIGNED", ""),
        ("3", "task_assigned", "UNASSIGNED", "IN_PROGRESS", "alice"),
        ("4", "task_completed", "IN_PROGRESS", "PENDING_REVIEW", "alice"),
        ("5", "task_assigned", "PENDING_REVIEW", "IN_PROGRESS", "bob"),
        ("6", "task_reviewed", "IN_PROGRESS", "APPROVED", "bob"),
        ("7", "task_reviewed", "APPROVED", "COMPLETE", "bob"),
    ]
    assert {r["task"] for r in history} == {"c1042"}
    as_json = ok_json(server, "tasks", "history", f"{b}/c1042")
    assert [int(e["sequence"]) for e in as_json] == [1, 3, 4, 5, 6, 7]
    assert {e["task"] for e in as_json} == {name}


# --- events ---------------------------------------------------------------------------------


def test_events_ls_with_filters(server: ServerProcess, cli_board: str) -> None:
    b = cli_board
    ok(server, "tasks", "post", b, "claim_intake", "one", "--id", "t1")  # 1
    ok(server, "tasks", "post", b, "legal_review", "two", "--id", "t2")  # 2
    ok(server, "tasks", "move", f"{b}/t1", "IN_PROGRESS", "--assignee", "alice")  # 3
    ok(server, "tasks", "move", f"{b}/t2", "IN_PROGRESS", "--assignee", "bob")  # 4
    ok(server, "tasks", "result", f"{b}/t1", "done")  # 5
    ok(server, "tasks", "move", f"{b}/t2", "ON_HOLD")  # 6

    def seqs(*args: str) -> list[int]:
        return [int(e["sequence"]) for e in ok_json(server, "events", "ls", b, *args)]

    assert seqs() == [1, 2, 3, 4, 5, 6]
    assert seqs("--after", "4") == [5, 6]
    assert seqs("--type", "task_assigned") == [3, 4]
    assert seqs("--type", "task_posted", "--type", "task_failed") == [1, 2, 6]
    assert seqs("--after", "3", "--type", "task_assigned") == [4]
    assert seqs("--task", "t2") == [2, 4, 6]
    assert seqs("--agent", "alice") == [3, 5]
    assert seqs("--task-type", "legal_*") == [2, 4, 6]
    assert seqs("--status", "IN_PROGRESS") == [3, 4]
    assert seqs("--limit", "2") == [1, 2]
    assert seqs("--after", "6") == []

    events = ok_json(server, "events", "ls", b, "--type", "task_completed")
    assert len(events) == 1
    assert events[0]["task"] == f"boards/{b}/tasks/t1"
    assert events[0]["from_status"] == "IN_PROGRESS"
    assert events[0]["to_status"] == "PENDING_REVIEW"
    assert events[0]["agent"] == "alice"

    rows = table(
        ok(server, "events", "ls", b, "--after", "2", "--type", "task_assigned"),
        "seq", "time", "event", "task", "from", "to", "agent",
    )  # fmt: skip
    assert [(r["seq"], r["event"], r["task"], r["to"], r["agent"]) for r in rows] == [
        ("3", "task_assigned", "t1", "IN_PROGRESS", "alice"),
        ("4", "task_assigned", "t2", "IN_PROGRESS", "bob"),
    ]
    assert ok(server, "events", "ls", b, "--after", "6").strip() == "(none)"


# --- data -----------------------------------------------------------------------------------


def test_data_put_get_ls_rm(server: ServerProcess, board_id: str) -> None:
    b = board_id
    ok(server, "boards", "create", b)
    written = ok(server, "data", "put", b, "limits", '{"max_payout": 5000, "currency": "EUR"}')
    assert written.strip() == f"boards/{b}/data/limits written"
    entry = ok_json(server, "data", "put", b, "limits-motor", '"text"')
    assert entry["name"] == f"boards/{b}/data/limits-motor"
    assert entry["value"] == "text"
    ok(server, "data", "put", b, "other", "[1, 2, 3]")

    assert json.loads(ok(server, "data", "get", b, "limits")) == {
        "max_payout": 5000,
        "currency": "EUR",
    }
    assert ok_json(server, "data", "get", b, "other") == [1, 2, 3]

    assert ok_json(server, "data", "ls", b) == {
        "limits": {"max_payout": 5000, "currency": "EUR"},
        "limits-motor": "text",
        "other": [1, 2, 3],
    }
    assert ok_json(server, "data", "ls", b, "--prefix", "limits-") == {"limits-motor": "text"}
    rows = table(ok(server, "data", "ls", b, "--prefix", "limits"), "key", "value", "updated")
    # A JSON object's keys come back in no particular order: compare values, not text.
    assert [(r["key"], json.loads(r["value"])) for r in rows] == [
        ("limits", {"max_payout": 5000, "currency": "EUR"}),
        ("limits-motor", "text"),
    ]

    assert ok(server, "data", "rm", b, "limits").strip() == "deleted"
    assert ok(server, "data", "rm", b, "limits").strip() == "absent"
    assert ok_json(server, "data", "rm", b, "other") == {"existed": True}
    assert ok_json(server, "data", "ls", b) == {"limits-motor": "text"}
    fails(server.address, EXIT_NOT_FOUND, "data", "get", b, "limits")


# --- exit codes and errors ------------------------------------------------------------------


@pytest.fixture(scope="module")
def error_board(server: ServerProcess) -> str:
    """One board for the error cases, which change nothing: agent `alice`, task `t1`
    UNASSIGNED."""
    board = "errors-" + uuid.uuid4().hex[:8]
    ok(server, "boards", "create", board)
    ok(server, "agents", "register", board, "alice")
    ok(server, "tasks", "post", board, "claim_intake", "open", "--id", "t1")
    return board


ERROR_CASES = [
    # usage errors, caught by argparse or before any call
    (EXIT_USAGE, ["boards", "create"], "the following arguments are required: board"),
    (EXIT_USAGE, ["tasks", "post", "{b}", "t", "l", "--priority", "abc"], "invalid int value"),
    (EXIT_USAGE, ["boards", "create", "{b}-x", "--profile", "nope"], "expected KEY=VALUE"),
    (EXIT_USAGE, ["tasks", "get", "t1"], "give BOARD/TASK"),
    (EXIT_USAGE, ["data", "put", "{b}", "k", "not json"], "value is not JSON"),
    # invalid argument
    (EXIT_INVALID_ARGUMENT, ["boards", "create", "Not Valid"], "board_id: board id 'Not Valid'"),
    (EXIT_INVALID_ARGUMENT, ["tasks", "post", "{b}", "claim_intake", ""], "task.label:"),
    (EXIT_INVALID_ARGUMENT, ["events", "ls", "{b}", "--after", "-1"], "after_sequence:"),
    # not found
    (EXIT_NOT_FOUND, ["boards", "get", "{b}-missing"], "reason BOARD_NOT_FOUND"),
    (EXIT_NOT_FOUND, ["tasks", "get", "{b}/missing"], "reason TASK_NOT_FOUND"),
    (EXIT_NOT_FOUND, ["agents", "get", "{b}", "nobody"], "reason AGENT_NOT_FOUND"),
    (EXIT_NOT_FOUND, ["data", "get", "{b}", "missing"], "reason DATA_NOT_FOUND"),
    # not allowed in the current state
    (EXIT_FAILED_PRECONDITION, ["tasks", "move", "{b}/t1", "COMPLETE"], "reason INVALID_TRANSITION"),
    (EXIT_FAILED_PRECONDITION,
     ["tasks", "move", "{b}/t1", "IN_PROGRESS", "--assignee", "alice", "--expect-status", "STALE"],
     "reason STATUS_MISMATCH"),
    (EXIT_FAILED_PRECONDITION, ["tasks", "archive", "{b}/t1"], "reason NOT_TERMINAL"),
    (EXIT_FAILED_PRECONDITION, ["tasks", "result", "{b}/t1", "x"], "FAILED_PRECONDITION"),
    # already exists
    (EXIT_CONFLICT, ["boards", "create", "{b}"], "reason BOARD_EXISTS"),
    (EXIT_CONFLICT, ["tasks", "post", "{b}", "claim_intake", "again", "--id", "t1"],
     "reason TASK_EXISTS"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "args", "message"),
    ERROR_CASES,
    ids=[f"{code}-{'-'.join(args[:2])}-{i}" for i, (code, args, _) in enumerate(ERROR_CASES)],
)
def test_errors_have_a_message_and_an_exit_code(
    server: ServerProcess, error_board: str, code: int, args: list[str], message: str
) -> None:
    stderr = fails(server.address, code, *(a.replace("{b}", error_board) for a in args))
    assert message in stderr
    first = stderr.splitlines()[0]
    assert first.startswith(("quadro: error: ", "usage: quadro ")), stderr


def test_rejected_move_changes_nothing(server: ServerProcess, error_board: str) -> None:
    stderr = fails(
        server.address, EXIT_FAILED_PRECONDITION, "tasks", "move", f"{error_board}/t1", "APPROVED"
    )
    assert "does not allow UNASSIGNED -> APPROVED" in stderr
    assert ok_json(server, "tasks", "get", f"{error_board}/t1")["status"] == "UNASSIGNED"
    assert ok_json(server, "events", "ls", error_board, "--after", "0")[-1]["type"] == (
        "EVENT_TYPE_TASK_POSTED"
    )


@pytest.mark.parametrize(
    "args",
    [["boards", "ls"], ["tasks", "get", "claims/x"], ["events", "ls", "claims"]],
)
def test_unavailable_server_exits_7(closed_address: str, args: list[str]) -> None:
    stderr = fails(closed_address, EXIT_UNAVAILABLE, *args, "--timeout", "1")
    assert stderr.startswith("quadro: error: ")
    assert f"is a server running at {closed_address}?" in stderr


def test_server_from_environment(server: ServerProcess, board_id: str, closed_address: str) -> None:
    env = {"QUADRO_SERVER": server.address}
    created = quadro("boards", "create", board_id, "--json", env=env)
    assert created.returncode == EXIT_OK, created.stderr
    assert json.loads(created.stdout)["name"] == f"boards/{board_id}"

    # --server beats the environment; the environment's timeout applies.
    env = {"QUADRO_SERVER": closed_address, "QUADRO_TIMEOUT": "1"}
    assert quadro("boards", "get", board_id, env=env).returncode == EXIT_UNAVAILABLE
    assert quadro("boards", "get", board_id, server=server.address, env=env).returncode == EXIT_OK


@pytest.mark.parametrize("unbuffered", [True, False], ids=["unbuffered", "buffered"])
def test_closed_stdout_is_not_an_error(
    server: ServerProcess, board_id: str, unbuffered: bool
) -> None:
    ok(server, "boards", "create", board_id)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has already exited
    try:
        result = subprocess.run(
            [sys.executable, "-m", "quadro", "boards", "get", board_id, "--json",
             "--server", server.address],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT, env=env,
            check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (EXIT_OK, "")


# --- the quickstart -------------------------------------------------------------------------


def _sections(output: str) -> dict[str, str]:
    """The quickstart's output by the command (`$ ...`) that printed it."""
    sections: dict[str, str] = {}
    command = ""
    for line in output.splitlines():
        if line.startswith("$ "):
            command = line[2:]
            sections[command] = ""
        elif command:
            sections[command] += line + "\n"
    return sections


def test_quickstart_runs_and_ends_with_the_event_log() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUADRO_")}
    result = subprocess.run(
        ["bash", "examples/quickstart.sh"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    sections = _sections(result.stdout)

    commands = list(sections)
    assert commands[-1] == "quadro events ls claims"
    events = table(
        sections["quadro events ls claims"], "seq", "time", "event", "task", "from", "to", "agent"
    )
    assert [(r["seq"], r["event"], r["to"]) for r in events] == [
        ("1", "task_posted", "UNASSIGNED"),
        ("2", "task_assigned", "IN_PROGRESS"),
        ("3", "task_completed", "PENDING_REVIEW"),
        ("4", "task_assigned", "IN_PROGRESS"),
        ("5", "task_reviewed", "APPROVED"),
        ("6", "task_reviewed", "COMPLETE"),
    ]
    task = record(sections["quadro tasks get claims/c1042"])
    assert task["status"] == "COMPLETE"
    refused = next(s for c, s in sections.items() if "not allowed" in c)
    assert "(exit code 5)" in refused
    assert "reason INVALID_TRANSITION" in result.stderr
