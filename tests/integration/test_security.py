"""Tenants, tokens, roles and TLS through the real server.

The two matrices are generated from the service descriptors: every RPC of every Quadro
service must have a case here, so a new RPC without coverage fails the suite.

- Cross-tenant: a caller of tenant `acme` names tenant `globex`'s boards, tasks, agents,
  data, Chiefs and events, by id, by filter, by page token and by lineage. The same
  requests go to a server where globex's resources exist and to one where they never
  did: the answers must be byte-identical (status, message and details), and globex's
  resources unchanged.
- Roles: each role against each RPC is refused (PERMISSION_DENIED) exactly when the
  role may not make that call.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, json_format, symbol_database
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

import quadro
from quadro import errors, reasons
from quadro.v1 import board_pb2, chief_pb2
from quadro_chiefs import ChiefAgent
from quadro_server.api.server import SERVICE_NAMES
from quadro_workers import Approve, WorkContext, Worker
from support.runtime import Background, until
from support.security import CertificateAuthority, Spec, write_auth_config
from support.server import ServerProcess

# Every Quadro service the server registers.
SERVICES = [descriptor_pool.Default().FindServiceByName(n) for n in SERVICE_NAMES]
METHODS = {f"{s.name}/{m.name}": m for s in SERVICES for m in s.methods}

ROLES = ("admin", "producer", "chief", "worker", "reader")
PRINCIPALS = [
    *(
        Spec(f"acme-{role}", (role,), ("acme",), ("w1",) if role == "worker" else ())
        for role in ROLES
    ),
    Spec("acme-worker-2", ("worker",), ("acme",), ("w2",)),
    Spec("globex-admin", ("admin",), ("globex",)),
    Spec("root", ("admin",), ("*",)),
]


@dataclass
class World:
    server: ServerProcess
    tokens: dict[str, str]

    def client(self, principal: str) -> quadro.Client:
        return quadro.Client(self.server.address, token=self.tokens[principal], timeout=20)


@dataclass(frozen=True)
class Names:
    """One tenant's resources, by name."""

    board: str  # boards/{id}
    task: str  # a finished task
    live: str  # a task in progress, assigned to w1
    agent: str = "w1"
    chief: str = "c1"
    key: str = "k"
    page_token: str = ""

    @property
    def board_id(self) -> str:
        return self.board.removeprefix("boards/")


def populate(client: quadro.Client, board_id: str) -> Names:
    """A board with tasks, an agent, data, a Chief and its cycle; names of them."""
    client.create_board(board_id)
    client.register_agent(board_id, "w1", concurrency=100)
    done = client.post_task(
        board_id, "t", "finished", task_id="t-done", request_id="shared-rid"
    ).task.name
    client.transition_task(done, "IN_PROGRESS", assignee="w1")
    client.post_result(done, "out", agent="w1")
    client.transition_task(done, "IN_PROGRESS", assignee="w1")
    client.transition_task(done, "APPROVED")
    client.transition_task(done, "COMPLETE")
    live = client.post_task(board_id, "t", "in progress", task_id="t-live").task.name
    client.transition_task(live, "IN_PROGRESS", assignee="w1")
    client.post_task(board_id, "t", "waiting", task_id="t-wait")
    client.put_data(board_id, "k", {"secret": board_id})
    client.register_chief(board_id, "c1")
    cycle = chief_pb2.ChiefCycle(trigger=chief_pb2.CYCLE_TRIGGER_SEED)
    cycle.start_time.GetCurrentTime()
    client.record_chief_cycle(board_id, "c1", cycle)
    token = client.list_tasks(board_id, page_size=1).next_page_token
    return Names(f"boards/{board_id}", done, live, page_token=token)


def start_world(tmp: Path, store: str, tokens: dict[str, str], config: Path) -> World:
    server = ServerProcess(store, "--auth-config", str(config), "--no-ombudsman", log_dir=tmp)
    return World(server.start(), tokens)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("auth") / "auth.yaml"
    return path, write_auth_config(path, PRINCIPALS)


@pytest.fixture(scope="module")
def worlds(
    tmp_path_factory: pytest.TempPathFactory, config: tuple[Path, dict[str, str]]
) -> Iterator[tuple[World, World, Names, Names]]:
    """Two servers with the same tokens: in the first, acme and globex both have
    resources; in the second, only acme does (globex's never existed)."""
    path, tokens = config
    folder = tmp_path_factory.mktemp("worlds")
    with_b = start_world(folder, str(folder / "with.db"), tokens, path)
    without_b = start_world(folder, str(folder / "without.db"), tokens, path)
    try:
        with with_b.client("acme-admin") as a, without_b.client("acme-admin") as a2:
            acme = populate(a, "acme.claims")
            populate(a2, "acme.claims")
        with with_b.client("globex-admin") as b:
            globex = populate(b, "globex.claims")
        yield with_b, without_b, acme, globex
    finally:
        with_b.server.stop()
        without_b.server.stop()


# --- raw calls ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    details: str
    trailers: tuple[tuple[str, Any], ...]
    response: Message | None

    @property
    def reason(self) -> str:
        """The ErrorInfo reason in the status details."""
        for key, value in self.trailers:
            if key == "grpc-status-details-bin":
                for detail in status_pb2.Status.FromString(value).details:
                    info = error_details_pb2.ErrorInfo()
                    if detail.Unpack(info):
                        return str(info.reason)
        return ""


def call(
    world: World, principal: str | None, method: MethodDescriptor, request: Message
) -> Outcome:
    """One call of any RPC (a stream: its first message) as `principal` (None: no token)."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    metadata: tuple[tuple[str, str | bytes], ...] = ()
    if principal is not None:
        metadata = (("authorization", f"Bearer {world.tokens[principal]}"),)
    output = symbol_database.Default().GetSymbol(method.output_type.full_name)
    with grpc.insecure_channel(world.server.address) as channel:
        kind = channel.unary_stream if method.server_streaming else channel.unary_unary
        stub = kind(
            path,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=output.FromString,
        )
        try:
            if method.server_streaming:
                stream: Any = stub(request, metadata=metadata, timeout=10)
                response = next(stream)
                stream.cancel()
            else:
                response = stub(request, metadata=metadata, timeout=10)
        except grpc.RpcError as exc:
            failed: Any = exc
            trailers = tuple((k, v) for k, v in failed.trailing_metadata() or ())
            return Outcome(failed.code(), failed.details() or "", trailers, None)
    return Outcome(grpc.StatusCode.OK, "", (), response)


# --- requests of every RPC, naming one tenant's resources -----------------------------

Build = Callable[[Names, Names], Message]  # (target tenant, caller's own tenant)


def _msg(method: str, body: dict[str, Any]) -> Message:
    cls = symbol_database.Default().GetSymbol(METHODS[method].input_type.full_name)
    return json_format.ParseDict(body, cls())


def cases() -> list[tuple[str, str, Build]]:
    """(case, method, request builder): each names the target tenant's resources."""
    return [
        (
            "by id",
            "BoardService/CreateBoard",
            lambda t, o: _msg("BoardService/CreateBoard", {"boardId": t.board_id}),
        ),
        (
            "by id",
            "BoardService/GetBoard",
            lambda t, o: _msg("BoardService/GetBoard", {"name": t.board}),
        ),
        (
            "by page token",
            "BoardService/ListBoards",
            lambda t, o: _msg("BoardService/ListBoards", {"pageToken": t.page_token}),
        ),
        (
            "by id",
            "TaskService/PostTask",
            lambda t, o: _msg(
                "TaskService/PostTask", {"parent": t.board, "task": {"taskType": "t", "label": "x"}}
            ),
        ),
        (
            "by lineage",
            "TaskService/PostTask",
            lambda t, o: _msg(
                "TaskService/PostTask",
                {"parent": o.board, "task": {"taskType": "t", "label": "x", "parentTask": t.task}},
            ),
        ),
        (
            "by id",
            "TaskService/GetTask",
            lambda t, o: _msg("TaskService/GetTask", {"name": t.task}),
        ),
        (
            "by id",
            "TaskService/ListTasks",
            lambda t, o: _msg("TaskService/ListTasks", {"parent": t.board}),
        ),
        (
            "by page token",
            "TaskService/ListTasks",
            lambda t, o: _msg(
                "TaskService/ListTasks", {"parent": o.board, "pageToken": t.page_token}
            ),
        ),
        (
            "across boards",
            "TaskService/ListTasks",
            lambda t, o: _msg("TaskService/ListTasks", {"boards": [o.board, t.board]}),
        ),
        (
            "by id",
            "TaskService/TransitionTask",
            lambda t, o: _msg(
                "TaskService/TransitionTask", {"name": t.live, "toStatus": "HUMAN_REVIEW"}
            ),
        ),
        (
            "by id",
            "TaskService/PostResult",
            lambda t, o: _msg(
                "TaskService/PostResult", {"name": t.live, "output": "x", "agent": "w1"}
            ),
        ),
        (
            "by id",
            "TaskService/ArchiveTask",
            lambda t, o: _msg("TaskService/ArchiveTask", {"name": t.task}),
        ),
        (
            "by id",
            "TaskService/HandOffTask",
            lambda t, o: _msg(
                "TaskService/HandOffTask",
                {"name": t.task, "board": t.board, "successor": {"taskType": "t", "label": "x"}},
            ),
        ),
        (
            "by lineage",
            "TaskService/HandOffTask",
            lambda t, o: _msg(
                "TaskService/HandOffTask",
                {"name": o.task, "board": t.board, "successor": {"taskType": "t", "label": "x"}},
            ),
        ),
        (
            "by id",
            "TaskService/BatchPostTasks",
            lambda t, o: _msg(
                "TaskService/BatchPostTasks",
                {"requests": [{"parent": t.board, "task": {"taskType": "t", "label": "x"}}]},
            ),
        ),
        (
            "by id",
            "TaskService/BatchTransitionTasks",
            lambda t, o: _msg(
                "TaskService/BatchTransitionTasks",
                {
                    "requests": [
                        {"name": o.live, "toStatus": "ON_HOLD"},
                        {"name": t.live, "toStatus": "ON_HOLD"},
                    ]
                },
            ),
        ),
        (
            "by id",
            "TaskService/BatchPostResults",
            lambda t, o: _msg(
                "TaskService/BatchPostResults",
                {"requests": [{"name": t.live, "output": "x", "agent": "w1"}]},
            ),
        ),
        (
            "by lineage",
            "TaskService/GetLineage",
            lambda t, o: _msg("TaskService/GetLineage", {"name": t.task}),
        ),
        (
            "by id",
            "EventService/ListEvents",
            lambda t, o: _msg("EventService/ListEvents", {"parent": t.board}),
        ),
        (
            "by filter",
            "EventService/ListEvents",
            lambda t, o: _msg(
                "EventService/ListEvents", {"parent": o.board, "filter": {"task": t.task}}
            ),
        ),
        (
            "by id",
            "EventService/SubscribeEvents",
            lambda t, o: _msg(
                "EventService/SubscribeEvents",
                {"boards": [t.board], "afterSequences": {t.board: 0}},
            ),
        ),
        (
            "by filter",
            "EventService/SubscribeEvents",
            lambda t, o: _msg(
                "EventService/SubscribeEvents", {"boards": [o.board], "filter": {"task": t.task}}
            ),
        ),
        (
            "by id",
            "AgentService/RegisterAgent",
            lambda t, o: _msg("AgentService/RegisterAgent", {"parent": t.board, "agentId": "w1"}),
        ),
        (
            "by id",
            "AgentService/GetAgent",
            lambda t, o: _msg("AgentService/GetAgent", {"name": f"{t.board}/agents/w1"}),
        ),
        (
            "by id",
            "AgentService/ListAgents",
            lambda t, o: _msg("AgentService/ListAgents", {"parent": t.board}),
        ),
        (
            "by id",
            "AgentService/Heartbeat",
            lambda t, o: _msg(
                "AgentService/Heartbeat", {"name": f"{t.board}/agents/w1", "task": t.live}
            ),
        ),
        (
            "by id",
            "AgentService/BatchHeartbeat",
            lambda t, o: _msg(
                "AgentService/BatchHeartbeat",
                {
                    "requests": [
                        {"name": f"{o.board}/agents/w1"},
                        {"name": f"{t.board}/agents/w1", "task": t.live},
                    ]
                },
            ),
        ),
        (
            "by id",
            "AgentService/WatchAssignments",
            lambda t, o: _msg(
                "AgentService/WatchAssignments",
                {"name": f"{t.board}/agents/w1", "afterSequence": "0"},
            ),
        ),
        (
            "by id",
            "DataService/PutData",
            lambda t, o: _msg("DataService/PutData", {"name": f"{t.board}/data/k", "value": 1}),
        ),
        (
            "by id",
            "DataService/GetData",
            lambda t, o: _msg("DataService/GetData", {"name": f"{t.board}/data/k"}),
        ),
        (
            "by id",
            "DataService/DeleteData",
            lambda t, o: _msg("DataService/DeleteData", {"name": f"{t.board}/data/k"}),
        ),
        (
            "by id",
            "DataService/ListData",
            lambda t, o: _msg("DataService/ListData", {"parent": t.board}),
        ),
        (
            "by id",
            "ChiefService/RegisterChief",
            lambda t, o: _msg("ChiefService/RegisterChief", {"parent": t.board, "chiefId": "c1"}),
        ),
        (
            "by scope",
            "ChiefService/RegisterChief",
            lambda t, o: _msg(
                "ChiefService/RegisterChief",
                {"parent": o.board, "chiefId": "c9", "chief": {"boards": [o.board, t.board]}},
            ),
        ),
        (
            "by id",
            "ChiefService/GetChief",
            lambda t, o: _msg("ChiefService/GetChief", {"name": f"{t.board}/chiefs/c1"}),
        ),
        (
            "by id",
            "ChiefService/ListChiefs",
            lambda t, o: _msg("ChiefService/ListChiefs", {"parent": t.board}),
        ),
        (
            "by id",
            "ChiefService/ReportChiefState",
            lambda t, o: _msg(
                "ChiefService/ReportChiefState",
                {"name": f"{t.board}/chiefs/c1", "state": "CHIEF_STATE_THINKING"},
            ),
        ),
        (
            "by id",
            "ChiefService/RecordChiefCycle",
            lambda t, o: _msg(
                "ChiefService/RecordChiefCycle",
                {
                    "name": f"{t.board}/chiefs/c1",
                    "cycle": {
                        "trigger": "CYCLE_TRIGGER_EVENT",
                        "startTime": "2026-12-01T00:00:00Z",
                    },
                },
            ),
        ),
        (
            "by id",
            "ChiefService/ListChiefCycles",
            lambda t, o: _msg("ChiefService/ListChiefCycles", {"parent": f"{t.board}/chiefs/c1"}),
        ),
    ]


def test_every_rpc_has_a_cross_tenant_case() -> None:
    assert {method for _, method, _ in cases()} == set(METHODS)


def snapshot(world: World, names: Names) -> dict[str, Any]:
    """Everything of a tenant that a change would show."""
    with world.client("root") as root:
        board = root.get_board(names.board_id).board
        return {
            "head": board.head_sequence,
            "tasks": sorted((t.name, t.etag, t.status) for t in root.iter_tasks(names.board_id)),
            "agents": sorted((a.name, a.active_tasks) for a in root.iter_agents(names.board_id)),
            "data": sorted((e.name, str(e.value)) for e in root.iter_data(names.board_id)),
            "chiefs": sorted((c.name, c.state) for c in root.list_chiefs(names.board_id).chiefs),
            "cycles": len(list(root.iter_chief_cycles(names.board_id, "c1"))),
        }


@pytest.mark.parametrize(
    ("case", "method", "build"), cases(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_another_tenant_sees_nothing_and_changes_nothing(
    worlds: tuple[World, World, Names, Names], case: str, method: str, build: Build
) -> None:
    with_b, without_b, acme, globex = worlds
    before = snapshot(with_b, globex)
    request = build(globex, acme)
    seen = call(with_b, "acme-admin", METHODS[method], request)
    never = call(without_b, "acme-admin", METHODS[method], request)
    assert seen.code != grpc.StatusCode.OK or method == "BoardService/ListBoards", (case, seen)
    assert (seen.code, seen.details, seen.trailers) == (never.code, never.details, never.trailers)
    if seen.code == grpc.StatusCode.OK:  # a listing: globex's boards are not in it
        assert "globex" not in str(seen.response)
    assert snapshot(with_b, globex) == before


def test_listings_show_only_the_callers_tenants(worlds: tuple[World, World, Names, Names]) -> None:
    with_b, _, acme, globex = worlds
    with with_b.client("acme-reader") as a, with_b.client("root") as root:
        assert [b.name for b in a.iter_boards()] == [acme.board]
        assert {b.name for b in root.iter_boards()} >= {acme.board, globex.board}
        # A page token of globex's listing means nothing to acme.
        with pytest.raises(errors.InvalidArgument):
            a.list_tasks(acme.board_id, page_token=globex.page_token)


def test_request_ids_are_the_callers_own(worlds: tuple[World, World, Names, Names]) -> None:
    """globex used request id `shared-rid`; acme using it gets its own answer."""
    with_b, _, acme, _ = worlds
    with with_b.client("acme-producer") as a:
        posted = a.post_task(acme.board_id, "t", "mine", request_id="shared-rid").task
        again = a.post_task(acme.board_id, "t", "mine", request_id="shared-rid").task
    assert posted.name.startswith(f"{acme.board}/tasks/")
    assert again == posted


def test_lineage_stays_within_a_tenant(worlds: tuple[World, World, Names, Names]) -> None:
    with_b, _, acme, globex = worlds
    with with_b.client("root") as root, pytest.raises(errors.FailedPrecondition) as caught:
        root.hand_off_task(acme.task, globex.board_id, "t", "across")
    assert caught.value.reason == reasons.CROSS_SCOPE_LINEAGE


# --- roles ----------------------------------------------------------------------------

# Who may make each call that changes something; every role may read.
MUTATIONS: dict[str, set[str]] = {
    "BoardService/CreateBoard": {"admin"},
    "TaskService/PostTask": {"admin", "producer", "chief"},
    "TaskService/TransitionTask": {"admin", "chief", "worker"},
    "TaskService/PostResult": {"admin", "chief", "worker"},
    "TaskService/ArchiveTask": {"admin", "chief"},
    "TaskService/HandOffTask": {"admin", "chief"},
    "TaskService/BatchPostTasks": {"admin", "producer", "chief"},
    "TaskService/BatchTransitionTasks": {"admin", "chief", "worker"},
    "TaskService/BatchPostResults": {"admin", "chief", "worker"},
    "AgentService/RegisterAgent": {"admin", "worker"},
    "AgentService/Heartbeat": {"admin", "worker"},
    "AgentService/BatchHeartbeat": {"admin", "worker"},
    "DataService/PutData": {"admin", "producer", "chief", "worker"},
    "DataService/DeleteData": {"admin", "producer", "chief", "worker"},
    "ChiefService/RegisterChief": {"admin", "chief"},
    "ChiefService/ReportChiefState": {"admin", "chief"},
    "ChiefService/RecordChiefCycle": {"admin", "chief"},
}


def test_every_rpc_is_in_the_role_matrix() -> None:
    readers = {
        m for m in METHODS if m.split("/")[1].startswith(("Get", "List", "Subscribe", "Watch"))
    }
    assert set(MUTATIONS) | readers == set(METHODS)
    assert not set(MUTATIONS) & readers


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_its_calls(
    worlds: tuple[World, World, Names, Names], role: str
) -> None:
    _, without_b, acme, _ = worlds
    for case, method, build in cases():
        if case != "by id":
            continue
        request = build(acme, acme)
        outcome = call(without_b, f"acme-{role}", METHODS[method], request)
        allowed = role in MUTATIONS.get(method, set(ROLES))
        denied = outcome.code == grpc.StatusCode.PERMISSION_DENIED
        assert denied != allowed, f"{role} {method}: {outcome.code} {outcome.details}"
        assert outcome.code != grpc.StatusCode.UNAUTHENTICATED
        if denied:
            assert outcome.reason == reasons.ROLE_NOT_ALLOWED
            assert role in outcome.details or f"acme-{role}" in outcome.details


def test_no_token_and_bad_token(worlds: tuple[World, World, Names, Names]) -> None:
    world = worlds[1]
    method = METHODS["BoardService/ListBoards"]
    missing = call(world, None, method, board_pb2.ListBoardsRequest())
    assert (missing.code, missing.reason) == (
        grpc.StatusCode.UNAUTHENTICATED,
        reasons.MISSING_TOKEN,
    )
    world.tokens["forged"] = "qd_not-a-real-token"
    forged = call(world, "forged", method, board_pb2.ListBoardsRequest())
    assert (forged.code, forged.reason) == (grpc.StatusCode.UNAUTHENTICATED, reasons.INVALID_TOKEN)
    # Probes need no token.
    with grpc.insecure_channel(world.server.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_a_worker_touches_only_its_own_tasks(worlds: tuple[World, World, Names, Names]) -> None:
    world = worlds[1]
    with world.client("acme-chief") as chief, world.client("acme-worker-2") as w2_setup:
        w2_setup.register_agent("acme.claims", "w2", concurrency=10)
        theirs = chief.post_task("acme.claims", "t", "w2's").task.name
        chief.transition_task(theirs, "IN_PROGRESS", assignee="w2")
        mine = chief.post_task("acme.claims", "t", "w1's").task.name
        chief.transition_task(mine, "IN_PROGRESS", assignee="w1")
    with world.client("acme-worker") as w1:
        with pytest.raises(errors.FailedPrecondition) as caught:
            w1.post_result(theirs, "stolen", agent="w1")
        assert caught.value.reason == reasons.NOT_ASSIGNEE
        with pytest.raises(errors.PermissionDenied) as denied:
            w1.post_result(theirs, "stolen", agent="w2")
        assert denied.value.reason == reasons.NOT_OWN_WORK
        with pytest.raises(errors.PermissionDenied):
            w1.heartbeat("acme.claims", "w2", task=theirs)
        with pytest.raises(errors.FailedPrecondition):
            w1.heartbeat("acme.claims", "w1", task=theirs)
        beats = w1.heartbeats(
            [
                quadro.Beat("acme.claims", "w2", task=theirs),
                quadro.Beat("acme.claims", "w1", task=theirs),
                quadro.Beat("acme.claims", "w1", task=mine),
            ]
        )
        assert [type(b).__name__ for b in beats] == [
            "PermissionDenied", "FailedPrecondition", "HeartbeatResponse",
        ]  # fmt: skip
        with pytest.raises(errors.FailedPrecondition):
            w1.transition_task(theirs, "HUMAN_REVIEW")
        with pytest.raises(errors.PermissionDenied):  # nor give its work away
            w1.transition_task(mine, "STALE", assignee="w2")
        with pytest.raises(errors.PermissionDenied):
            w1.register_agent("acme.claims", "w2")
        # Its own work goes through, and the log says who did it.
        w1.heartbeat("acme.claims", "w1", task=mine)
        done = w1.post_result(mine, "done")  # its only agent is implied
        assert done.event.agent == "w1"
        assert done.event.principal == "acme-worker"
    with world.client("root") as root:
        assert root.get_task(theirs).task.status == "IN_PROGRESS"
        history = root.task_history(mine)
    # Posted, assigned, two heartbeats (one alone, one in a batch), done.
    assert [e.principal for e in history] == [
        "acme-chief",
        "acme-chief",
        "acme-worker",
        "acme-worker",
        "acme-worker",
    ]


# --- configuration, loopback, TLS -------------------------------------------------------


def serve(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quadro", "serve", "--port", "0", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_a_bad_auth_config_stops_the_server(tmp_path: Path) -> None:
    for text, expected in (
        ("principals: [{name: x}]", "token_sha256"),
        (
            "principals: [{name: x, token_sha256: " + "a" * 64 + ", roles: [boss], scopes: [a]}]",
            "roles",
        ),
        ("[not, a, mapping", "not valid YAML"),
    ):
        path = tmp_path / "auth.yaml"
        path.write_text(text)
        result = serve("--store", str(tmp_path / "q.db"), "--auth-config", str(path))
        assert result.returncode == 2
        assert expected in result.stderr


def test_auth_lets_the_server_bind_beyond_loopback(
    tmp_path: Path, config: tuple[Path, dict[str, str]]
) -> None:
    refused = serve("--store", str(tmp_path / "q.db"), "--host", "0.0.0.0")
    assert refused.returncode == 2
    assert "no authentication" in refused.stderr
    server = ServerProcess(
        tmp_path / "q.db", "--host", "0.0.0.0", "--auth-config", str(config[0]), log_dir=tmp_path
    )
    try:
        server.start()
        with quadro.Client(server.address, token=config[1]["root"]) as client:
            assert list(client.iter_boards()) == []
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[CertificateAuthority, Any, Any, Any]:
    folder = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(folder)
    rogue = CertificateAuthority(folder, "Rogue CA")
    return (
        ca,
        ca.issue("server", server=True),
        ca.issue("client", server=False),
        rogue.issue("intruder", server=False),
    )


def test_tls(
    tmp_path: Path,
    pki: tuple[CertificateAuthority, Any, Any, Any],
    config: tuple[Path, dict[str, str]],
) -> None:
    ca, server_pem, _, _ = pki
    trusted = quadro.tls.channel_credentials(ca.cert)
    server = ServerProcess(
        tmp_path / "q.db", "--auth-config", str(config[0]), "--tls-cert", str(server_pem.cert),
        "--tls-key", str(server_pem.key), "--ombudsman-interval", "0.1",
        "--ombudsman-stale-after", "IN_PROGRESS=0.3", log_dir=tmp_path, credentials=trusted,
    )  # fmt: skip
    try:
        server.start()
        with quadro.Client(server.address, token=config[1]["root"], credentials=trusted) as client:
            client.create_board("acme.tls")
            client.register_agent("acme.tls", "w1")
            task = client.post_task("acme.tls", "t", "over TLS").task.name
            client.transition_task(task, "IN_PROGRESS", assignee="w1")
            # The in-process Ombudsman reaches its server too (it goes STALE).
            for _ in range(100):
                if client.get_task(task).task.status == "STALE":
                    break
                time.sleep(0.1)
            assert client.get_task(task).task.status == "STALE"
        with (
            quadro.Client(
                server.address, token=config[1]["root"], retry=quadro.RetryPolicy(max_attempts=1)
            ) as plain,
            pytest.raises(errors.Unavailable),
        ):
            plain.list_boards()
        # The command line takes the same settings.
        listed = subprocess.run(
            [sys.executable, "-m", "quadro", "boards", "ls", "--server", server.address, "--tls-ca", str(ca.cert)],
            capture_output=True, text=True, timeout=30, check=False,
            env={"QUADRO_TOKEN": config[1]["acme-reader"], "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        assert "acme.tls" in listed.stdout
    finally:
        server.stop()


def test_mutual_tls(tmp_path: Path, pki: tuple[CertificateAuthority, Any, Any, Any]) -> None:
    ca, server_pem, client_pem, intruder = pki
    with_cert = quadro.tls.channel_credentials(ca.cert, client_pem.cert, client_pem.key)
    server = ServerProcess(
        tmp_path / "q.db", "--tls-cert", str(server_pem.cert), "--tls-key", str(server_pem.key),
        "--tls-client-ca", str(ca.cert), log_dir=tmp_path, credentials=with_cert,
    )  # fmt: skip
    try:
        server.start()
        with quadro.Client(server.address, credentials=with_cert) as client:
            client.create_board("mtls")
            assert client.get_board("mtls").board.name == "boards/mtls"
        once = quadro.RetryPolicy(max_attempts=1)
        for credentials in (
            quadro.tls.channel_credentials(ca.cert),  # no client certificate
            quadro.tls.channel_credentials(ca.cert, intruder.cert, intruder.key),  # wrong CA
        ):
            refused = quadro.Client(server.address, credentials=credentials, retry=once)
            with pytest.raises(errors.Unavailable):
                refused.get_board("mtls")
            refused.close()
    finally:
        server.stop()


async def test_the_runtime_works_with_tokens_of_its_own_roles(
    worlds: tuple[World, World, Names, Names],
) -> None:
    """A Chief with a chief token and Workers with worker tokens finish mixed work on a
    secured server: every role the runtime needs is the one documented for it."""
    world = worlds[1]
    address, tokens = world.server.address, world.tokens

    def connect(principal: str) -> quadro.AsyncClient:
        return quadro.AsyncClient(address, token=tokens[principal], timeout=20)

    async with (
        connect("acme-admin") as admin,
        connect("acme-producer") as producer,
        connect("acme-chief") as chief_client,
        connect("acme-worker") as w1_client,
        connect("acme-worker-2") as w2_client,
    ):
        await admin.create_board("acme.runtime", task_types={"quick_*": "fast"})

        async def work(context: WorkContext) -> str:
            return f"done {context.task.label}"

        async def review(context: WorkContext) -> Approve:
            return Approve("fine")

        chief = ChiefAgent(chief_client, "dispatcher", ["acme.runtime"])
        doer = Worker(w1_client, "acme.runtime", "w1", work, concurrency=4, heartbeat_interval=0.2)
        reviewer = Worker(
            w2_client, "acme.runtime", "w2", work, review_handler=review,
            review_capabilities=["assess"], capabilities=["none"], heartbeat_interval=0.2,
        )  # fmt: skip
        async with Background(chief, doer, reviewer):
            names = [
                (await producer.post_task("acme.runtime", kind, f"{kind} {i}")).task.name
                for i in range(4)
                for kind in ("quick_check", "assess")
            ]

            async def complete() -> bool:
                tasks = [(await admin.get_task(n)).task for n in names]
                return all(t.status == "COMPLETE" for t in tasks)

            await until(complete, "every task to complete")
        principals = {e.principal async for e in admin.iter_events("acme.runtime", page_size=1000)}
    assert principals == {"acme-producer", "acme-chief", "acme-worker", "acme-worker-2"}
    assert doer.stats.completed == 8, (doer.stats, reviewer.stats)
    assert reviewer.stats.reviewed == 4
