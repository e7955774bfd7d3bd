"""The server through `grpcurl` alone: reflection (no proto files), a whole task lifecycle,
rich error details, the health service, and the README's grpcurl examples as printed."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.server import ServerProcess

GRPCURL = Path(sys.executable).parent / "grpcurl"
README = Path(__file__).resolve().parents[2] / "README.md"
TIMEOUT = 30

# grpcurl exits with 64 + the gRPC status code when the call fails.
GRPCURL_STATUS_OFFSET = 64
FAILED_PRECONDITION = 9

SERVICES = {
    "quadro.v1.BoardService",
    "quadro.v1.TaskService",
    "quadro.v1.EventService",
    "quadro.v1.AgentService",
    "quadro.v1.DataService",
    "grpc.health.v1.Health",
}
TASK_RPCS = (
    "PostTask",
    "GetTask",
    "ListTasks",
    "TransitionTask",
    "PostResult",
    "ArchiveTask",
)


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    """Run grpcurl with the given arguments; never waits forever."""
    return subprocess.run(
        [str(GRPCURL), *args], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def call(server: ServerProcess, method: str, request: dict[str, Any]) -> dict[str, Any]:
    """One unary call with a JSON request; the JSON response, parsed."""
    result = grpcurl("-plaintext", "-d", json.dumps(request), server.address, method)
    assert result.returncode == 0, f"{method} failed: {result.stderr}"
    response: dict[str, Any] = json.loads(result.stdout)
    return response


def readme_grpcurl_commands() -> list[str]:
    """The README's lines starting with `grpcurl`, backslash-continued lines joined."""
    commands: list[str] = []
    current: str | None = None
    for line in README.read_text().splitlines():
        if current is not None:
            current += " " + line.strip()
        elif line.startswith("grpcurl"):
            current = line.strip()
        else:
            continue
        if current.endswith("\\"):
            current = current[:-1].rstrip()
        else:
            commands.append(current)
            current = None
    assert current is None, f"README ends inside a continued grpcurl line: {current!r}"
    return commands


def test_grpcurl_is_installed_next_to_python() -> None:
    result = grpcurl("-version")
    assert result.returncode == 0, result.stderr
    assert "grpcurl" in result.stdout + result.stderr


def test_list_services_through_reflection(server: ServerProcess) -> None:
    result = grpcurl("-plaintext", server.address, "list")
    assert result.returncode == 0, result.stderr
    listed = set(result.stdout.split())
    assert listed >= SERVICES


def test_describe_task_service(server: ServerProcess) -> None:
    result = grpcurl("-plaintext", server.address, "describe", "quadro.v1.TaskService")
    assert result.returncode == 0, result.stderr
    assert "quadro.v1.TaskService is a service" in result.stdout
    for rpc in TASK_RPCS:
        assert re.search(
            rf"rpc {rpc} \( \.quadro\.v1\.{rpc}Request \) returns \( \.quadro\.v1\.{rpc}Response \)",
            result.stdout,
        ), f"{rpc} missing from:\n{result.stdout}"


def test_describe_task_message(server: ServerProcess) -> None:
    result = grpcurl("-plaintext", server.address, "describe", "quadro.v1.Task")
    assert result.returncode == 0, result.stderr
    assert "quadro.v1.Task is a message" in result.stdout
    for field in (
        "string name = 1;",
        "string task_type = 2;",
        "string label = 3;",
        "optional int32 priority = 4;",
        "string status = 5;",
        "string assigned_to = 6;",
        "string output = 7;",
        "repeated string notes = 8;",
        "int64 attempt = 12;",
        "string etag = 13;",
        "bool archived = 14;",
    ):
        assert field in result.stdout, f"{field!r} missing from:\n{result.stdout}"


@pytest.mark.parametrize(
    "board_spec",
    [
        pytest.param({"default_profile": "fast"}, id="default-profile"),
        pytest.param({"task_types": [{"pattern": "claim_*", "profile": "fast"}]}, id="task-type"),
    ],
)
def test_post_assign_complete_with_grpcurl_alone(
    server: ServerProcess, board_id: str, board_spec: dict[str, Any]
) -> None:
    board = call(
        server, "quadro.v1.BoardService/CreateBoard", {"board_id": board_id, "board": board_spec}
    )["board"]
    assert board["name"] == f"boards/{board_id}"

    agent = call(
        server,
        "quadro.v1.AgentService/RegisterAgent",
        {
            "parent": f"boards/{board_id}",
            "agent_id": "alice",
            "agent": {"capabilities": ["claim_*"]},
        },
    )["agent"]
    assert agent["name"] == f"boards/{board_id}/agents/alice"
    assert agent["status"] == "AGENT_STATUS_IDLE"

    posted = call(
        server,
        "quadro.v1.TaskService/PostTask",
        {
            "parent": f"boards/{board_id}",
            "task_id": "c1042",
            "task": {"task_type": "claim_intake", "label": "Validate claim 1042"},
        },
    )
    task_name = f"boards/{board_id}/tasks/c1042"
    assert posted["task"]["name"] == task_name
    assert posted["task"]["status"] == "UNASSIGNED"
    assert posted["task"]["profile"] == "fast"
    assert posted["event"]["type"] == "EVENT_TYPE_TASK_POSTED"

    moved = call(
        server,
        "quadro.v1.TaskService/TransitionTask",
        {"name": task_name, "to_status": "IN_PROGRESS", "assignee": "alice"},
    )
    assert moved["task"]["status"] == "IN_PROGRESS"
    assert moved["task"]["assignedTo"] == "alice"
    assert moved["event"]["type"] == "EVENT_TYPE_TASK_ASSIGNED"

    result = call(
        server,
        "quadro.v1.TaskService/PostResult",
        {"name": task_name, "output": "policy valid", "agent": "alice"},
    )
    assert result["task"]["status"] == "COMPLETE"
    assert result["task"]["output"] == "policy valid"
    assert result["event"]["type"] == "EVENT_TYPE_TASK_COMPLETED"

    listed = call(server, "quadro.v1.EventService/ListEvents", {"parent": f"boards/{board_id}"})
    summary = [
        (int(e["sequence"]), e["type"], e.get("fromStatus", ""), e["toStatus"], e.get("agent", ""))
        for e in listed["events"]
    ]
    assert summary == [
        (1, "EVENT_TYPE_TASK_POSTED", "", "UNASSIGNED", ""),
        (2, "EVENT_TYPE_TASK_ASSIGNED", "UNASSIGNED", "IN_PROGRESS", "alice"),
        (3, "EVENT_TYPE_TASK_COMPLETED", "IN_PROGRESS", "COMPLETE", "alice"),
    ]
    assert all(e["task"] == task_name for e in listed["events"])
    assert int(listed["headSequence"]) == 3

    # Filters work through grpcurl too: enum names in JSON, int64 as strings or numbers.
    completed = call(
        server,
        "quadro.v1.EventService/ListEvents",
        {
            "parent": f"boards/{board_id}",
            "after_sequence": 1,
            "filter": {"event_types": ["EVENT_TYPE_TASK_COMPLETED"]},
        },
    )
    assert [int(e["sequence"]) for e in completed["events"]] == [3]

    got = call(server, "quadro.v1.TaskService/GetTask", {"name": task_name})["task"]
    assert got["status"] == "COMPLETE"
    assert int(got["attempt"]) == 1


def _details(stderr: str) -> list[dict[str, Any]]:
    """The numbered `Details:` lines grpcurl prints for a failed call, parsed."""
    return [json.loads(m[1]) for m in re.finditer(r"^\s*\d+\)\s+(\{.*\})\s*$", stderr, re.M)]


def test_invalid_transition_is_failed_precondition_with_error_info(
    server: ServerProcess, board_id: str
) -> None:
    call(server, "quadro.v1.BoardService/CreateBoard", {"board_id": board_id})
    task_name = call(
        server,
        "quadro.v1.TaskService/PostTask",
        {"parent": f"boards/{board_id}", "task": {"task_type": "claim_intake", "label": "x"}},
    )["task"]["name"]
    request = json.dumps({"name": task_name, "to_status": "COMPLETE"})

    result = grpcurl(
        "-plaintext", "-d", request, server.address, "quadro.v1.TaskService/TransitionTask"
    )
    assert result.returncode == GRPCURL_STATUS_OFFSET + FAILED_PRECONDITION, result.stderr
    assert result.stdout.strip() == ""
    assert "Code: FailedPrecondition" in result.stderr
    assert "UNASSIGNED -> COMPLETE" in result.stderr
    details = _details(result.stderr)
    infos = [d for d in details if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"]
    assert len(infos) == 1, result.stderr
    assert infos[0]["reason"] == "INVALID_TRANSITION"
    assert infos[0]["domain"] == "quadro"
    assert infos[0]["metadata"]["current_status"] == "UNASSIGNED"
    assert infos[0]["metadata"]["requested_status"] == "COMPLETE"
    assert "IN_PROGRESS" in infos[0]["metadata"]["allowed_statuses"].split(",")
    resources = [d for d in details if d["@type"] == "type.googleapis.com/google.rpc.ResourceInfo"]
    assert [r["resource_name"] for r in resources] == [task_name]

    # The same error as JSON (`-format-error`), which a script can parse whole.
    result = grpcurl(
        "-plaintext",
        "-format-error",
        "-d",
        request,
        server.address,
        "quadro.v1.TaskService/TransitionTask",
    )
    assert result.returncode == GRPCURL_STATUS_OFFSET + FAILED_PRECONDITION
    error = json.loads(result.stderr)
    assert error["code"] == FAILED_PRECONDITION
    assert [d.get("reason") for d in error["details"] if "reason" in d] == ["INVALID_TRANSITION"]

    # A rejected move changes nothing.
    assert call(server, "quadro.v1.TaskService/GetTask", {"name": task_name})["task"]["status"] == (
        "UNASSIGNED"
    )


@pytest.mark.parametrize("service", ["", "quadro.v1.TaskService", "quadro.v1.EventService"])
def test_health_check_is_serving(server: ServerProcess, service: str) -> None:
    request = {"service": service} if service else {}
    assert call(server, "grpc.health.v1.Health/Check", request) == {"status": "SERVING"}


def test_health_check_of_unknown_service_is_not_found(server: ServerProcess) -> None:
    result = grpcurl(
        "-plaintext",
        "-d",
        '{"service": "no.such.Service"}',
        server.address,
        "grpc.health.v1.Health/Check",
    )
    assert result.returncode == GRPCURL_STATUS_OFFSET + 5, result.stderr  # NOT_FOUND
    assert "Code: NotFound" in result.stderr


def test_readme_grpcurl_examples_work_as_printed(server: ServerProcess) -> None:
    commands = readme_grpcurl_commands()
    assert len(commands) >= 4, commands
    assert all("localhost:50051" in c for c in commands), commands
    outputs: dict[str, str] = {}
    for command in commands:
        argv = shlex.split(command.replace("localhost:50051", server.address))
        assert argv[0] == "grpcurl"
        result = grpcurl(*argv[1:])
        assert result.returncode == 0, f"{command}\nexit {result.returncode}: {result.stderr}"
        outputs[command] = result.stdout

    # What the examples did is visible: the services listed, the board and task created.
    listing = next(out for command, out in outputs.items() if command.endswith(" list"))
    assert set(listing.split()) >= SERVICES
    description = next(out for command, out in outputs.items() if " describe " in command)
    assert "rpc PostTask" in description
    board = call(server, "quadro.v1.BoardService/GetBoard", {"name": "boards/claims"})["board"]
    assert int(board["headSequence"]) == 1
    listed = call(server, "quadro.v1.TaskService/ListTasks", {"parent": "boards/claims"})
    assert [(t["taskType"], t["label"], t["status"]) for t in listed["tasks"]] == [
        ("claim_intake", "Validate claim 1042", "UNASSIGNED")
    ]
