"""Bad input, sent raw over the wire: every case gets a clear error with the right code
and the offending field named, and nothing is persisted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

import quadro
from quadro.v1 import agent_pb2, board_pb2, data_pb2, event_pb2, task_pb2
from support.server import ServerProcess

BOARD = "bad-input"


@dataclass
class Rejection:
    code: grpc.StatusCode
    reason: str
    fields: list[str]
    message: str


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with quadro.Client(server.address) as client:
        client.create_board(BOARD, profiles={"c": [("UNASSIGNED", "done")]})
        client.register_agent(BOARD, "w")
        client.post_task(BOARD, "t", "existing", task_id="t1")
    with grpc.insecure_channel(server.address) as opened:
        yield opened


def call_raw(channel: grpc.Channel, method: str, payload: bytes) -> Rejection:
    """Send raw bytes to `method` and return how it was rejected."""
    rpc = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as caught:
        rpc(payload, timeout=10)
    error: grpc.Call = caught.value  # type: ignore[assignment]
    raw = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    reason, fields = "", []
    if raw:
        for detail in status_pb2.Status.FromString(raw).details:
            info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
            if detail.Unpack(info):
                assert info.domain == "quadro"
                reason = info.reason
            elif detail.Unpack(bad):
                fields = [v.field for v in bad.field_violations]
    return Rejection(error.code(), reason, fields, error.details() or "")


def call(channel: grpc.Channel, method: str, request: Message) -> Rejection:
    return call_raw(channel, method, request.SerializeToString())


Snapshot = Callable[[], tuple[int, int, int]]


@pytest.fixture
def snapshot(server: ServerProcess) -> Snapshot:
    """(event head, live tasks, agents) of the board: must not move on a rejection."""

    def take() -> tuple[int, int, int]:
        with quadro.Client(server.address) as client:
            return (
                client.get_board(BOARD).board.head_sequence,
                len(list(client.iter_tasks(BOARD))),
                len(list(client.iter_agents(BOARD))),
            )

    return take


T = "/quadro.v1.TaskService/"
LONG = "x" * 2000
CASES: list[tuple[str, str, Message, grpc.StatusCode, list[str]]] = [
    ("empty task type and label", T + "PostTask",
     task_pb2.PostTaskRequest(parent=f"boards/{BOARD}", task=task_pb2.Task()),
     grpc.StatusCode.INVALID_ARGUMENT, ["task.task_type", "task.label"]),
    ("oversized label", T + "PostTask",
     task_pb2.PostTaskRequest(parent=f"boards/{BOARD}", task=task_pb2.Task(task_type="t", label=LONG)),
     grpc.StatusCode.INVALID_ARGUMENT, ["task.label"]),
    ("control character in task id", T + "PostTask",
     task_pb2.PostTaskRequest(parent=f"boards/{BOARD}", task_id="ab\x01c",
                              task=task_pb2.Task(task_type="t", label="l")),
     grpc.StatusCode.INVALID_ARGUMENT, ["task_id"]),
    ("control character in label", T + "PostTask",
     task_pb2.PostTaskRequest(parent=f"boards/{BOARD}", task=task_pb2.Task(task_type="t", label="a\x00b")),
     grpc.StatusCode.INVALID_ARGUMENT, ["task.label"]),
    ("priority out of range", T + "PostTask",
     task_pb2.PostTaskRequest(parent=f"boards/{BOARD}",
                              task=task_pb2.Task(task_type="t", label="l", priority=10**6)),
     grpc.StatusCode.INVALID_ARGUMENT, ["task.priority"]),
    ("bad label key", T + "PostTask",
     task_pb2.PostTaskRequest(parent=f"boards/{BOARD}",
                              task=task_pb2.Task(task_type="t", label="l", labels={"Bad Key": "v"})),
     grpc.StatusCode.INVALID_ARGUMENT, ["task.labels['Bad Key']"]),
    ("unknown board", T + "PostTask",
     task_pb2.PostTaskRequest(parent="boards/nowhere", task=task_pb2.Task(task_type="t", label="l")),
     grpc.StatusCode.NOT_FOUND, []),
    ("malformed parent", T + "PostTask",
     task_pb2.PostTaskRequest(parent="projects/x", task=task_pb2.Task(task_type="t", label="l")),
     grpc.StatusCode.INVALID_ARGUMENT, ["parent"]),
    ("status not in the lifecycle", T + "TransitionTask",
     task_pb2.TransitionTaskRequest(name=f"boards/{BOARD}/tasks/t1", to_status="SHIPPED"),
     grpc.StatusCode.INVALID_ARGUMENT, ["to_status"]),
    ("malformed status", T + "TransitionTask",
     task_pb2.TransitionTaskRequest(name=f"boards/{BOARD}/tasks/t1", to_status="in progress"),
     grpc.StatusCode.INVALID_ARGUMENT, ["to_status"]),
    ("empty status", T + "TransitionTask",
     task_pb2.TransitionTaskRequest(name=f"boards/{BOARD}/tasks/t1"),
     grpc.StatusCode.INVALID_ARGUMENT, ["to_status"]),
    ("negative quiet period", T + "TransitionTask",
     task_pb2.TransitionTaskRequest(name=f"boards/{BOARD}/tasks/t1", to_status="STALE",
                                    if_quiet_for=duration_pb2.Duration(seconds=-1)),
     grpc.StatusCode.INVALID_ARGUMENT, ["if_quiet_for"]),
    ("quiet period beyond 30 days", T + "TransitionTask",
     task_pb2.TransitionTaskRequest(name=f"boards/{BOARD}/tasks/t1", to_status="STALE",
                                    if_quiet_for=duration_pb2.Duration(seconds=31 * 86400)),
     grpc.StatusCode.INVALID_ARGUMENT, ["if_quiet_for"]),
    ("NUL in an output", T + "TransitionTask",
     task_pb2.TransitionTaskRequest(name=f"boards/{BOARD}/tasks/t1", to_status="IN_PROGRESS",
                                    assignee="w", output="a\x00b"),
     grpc.StatusCode.INVALID_ARGUMENT, ["output"]),
    ("oversized output", T + "TransitionTask",
     task_pb2.TransitionTaskRequest(name=f"boards/{BOARD}/tasks/t1", to_status="IN_PROGRESS",
                                    assignee="w", output="y" * 300_000),
     grpc.StatusCode.INVALID_ARGUMENT, ["output"]),
    ("oversized note", T + "TransitionTask",
     task_pb2.TransitionTaskRequest(name=f"boards/{BOARD}/tasks/t1", to_status="IN_PROGRESS",
                                    assignee="w", note="n" * 9000),
     grpc.StatusCode.INVALID_ARGUMENT, ["note"]),
    ("negative attempt", T + "TransitionTask",
     task_pb2.TransitionTaskRequest(name=f"boards/{BOARD}/tasks/t1", to_status="IN_PROGRESS",
                                    assignee="w", attempt=-1),
     grpc.StatusCode.INVALID_ARGUMENT, ["attempt"]),
    ("unknown task", T + "TransitionTask",
     task_pb2.TransitionTaskRequest(name=f"boards/{BOARD}/tasks/nope", to_status="IN_PROGRESS",
                                    assignee="w"),
     grpc.StatusCode.NOT_FOUND, []),
    ("bad request id", T + "TransitionTask",
     task_pb2.TransitionTaskRequest(name=f"boards/{BOARD}/tasks/t1", to_status="IN_PROGRESS",
                                    assignee="w", request_id="has space"),
     grpc.StatusCode.INVALID_ARGUMENT, ["request_id"]),
    ("invalid glob", T + "ListTasks",
     task_pb2.ListTasksRequest(parent=f"boards/{BOARD}", task_types=["intake_["]),
     grpc.StatusCode.INVALID_ARGUMENT, ["task_types[0]"]),
    ("negative page size", T + "ListTasks",
     task_pb2.ListTasksRequest(parent=f"boards/{BOARD}", page_size=-5),
     grpc.StatusCode.INVALID_ARGUMENT, ["page_size"]),
    ("page size above the maximum", T + "ListTasks",
     task_pb2.ListTasksRequest(parent=f"boards/{BOARD}", page_size=5000),
     grpc.StatusCode.INVALID_ARGUMENT, ["page_size"]),
    ("unknown task order", T + "ListTasks",
     task_pb2.ListTasksRequest(parent=f"boards/{BOARD}", order=7),  # type: ignore[arg-type]
     grpc.StatusCode.INVALID_ARGUMENT, ["order"]),
    ("dispatch order over several boards", T + "ListTasks",
     task_pb2.ListTasksRequest(boards=[f"boards/{BOARD}"], order=task_pb2.TASK_ORDER_DISPATCH),
     grpc.StatusCode.INVALID_ARGUMENT, ["order"]),
    ("unknown enum value", "/quadro.v1.EventService/ListEvents",
     event_pb2.ListEventsRequest(parent=f"boards/{BOARD}",
                                 filter=event_pb2.EventFilter(event_types=[77])),  # type: ignore[list-item]
     grpc.StatusCode.INVALID_ARGUMENT, ["filter.event_types[0]"]),
    ("task filter on another board", "/quadro.v1.EventService/ListEvents",
     event_pb2.ListEventsRequest(parent=f"boards/{BOARD}",
                                 filter=event_pb2.EventFilter(task="boards/other/tasks/t1")),
     grpc.StatusCode.INVALID_ARGUMENT, ["filter.task"]),
    ("invalid board id", "/quadro.v1.BoardService/CreateBoard",
     board_pb2.CreateBoardRequest(board_id="-bad-"),
     grpc.StatusCode.INVALID_ARGUMENT, ["board_id"]),
    ("profile without UNASSIGNED and bad rule", "/quadro.v1.BoardService/CreateBoard",
     board_pb2.CreateBoardRequest(
         board_id="never-created",
         board=board_pb2.Board(
             profiles={"p": board_pb2.LifecycleProfile(
                 transitions=[board_pb2.Transition(from_status="a", to_status="b")])},
             task_types=[board_pb2.TaskTypeRule(pattern="x*", profile="missing")])),
     grpc.StatusCode.INVALID_ARGUMENT, ["board.profiles['p'].transitions", "board.task_types[0].profile"]),
    ("capability glob", "/quadro.v1.AgentService/RegisterAgent",
     agent_pb2.RegisterAgentRequest(parent=f"boards/{BOARD}", agent_id="x",
                                    agent=agent_pb2.Agent(capabilities=["[z-a]"])),
     grpc.StatusCode.INVALID_ARGUMENT, ["agent.capabilities[0]"]),
    ("review glob", "/quadro.v1.AgentService/RegisterAgent",
     agent_pb2.RegisterAgentRequest(parent=f"boards/{BOARD}", agent_id="x",
                                    agent=agent_pb2.Agent(review_capabilities=["ok", "[z-a]"])),
     grpc.StatusCode.INVALID_ARGUMENT, ["agent.review_capabilities[1]"]),
    ("concurrency out of range", "/quadro.v1.AgentService/RegisterAgent",
     agent_pb2.RegisterAgentRequest(parent=f"boards/{BOARD}", agent_id="x",
                                    agent=agent_pb2.Agent(concurrency=-3)),
     grpc.StatusCode.INVALID_ARGUMENT, ["agent.concurrency"]),
    ("missing data value", "/quadro.v1.DataService/PutData",
     data_pb2.PutDataRequest(name=f"boards/{BOARD}/data/k"),
     grpc.StatusCode.INVALID_ARGUMENT, ["value"]),
    ("data key with a slash", "/quadro.v1.DataService/PutData",
     data_pb2.PutDataRequest(name=f"boards/{BOARD}/data/a/b"),
     grpc.StatusCode.INVALID_ARGUMENT, ["name", "value"]),
    # Valid items, an unknown answer view: refused before any item is applied.
    ("unknown batch view of posts", T + "BatchPostTasks",
     task_pb2.BatchPostTasksRequest(
         requests=[task_pb2.PostTaskRequest(parent=f"boards/{BOARD}",
                                            task=task_pb2.Task(task_type="t", label="l"))],
         view=9),  # type: ignore[arg-type]
     grpc.StatusCode.INVALID_ARGUMENT, ["view"]),
    ("unknown batch view of moves", T + "BatchTransitionTasks",
     task_pb2.BatchTransitionTasksRequest(
         requests=[task_pb2.TransitionTaskRequest(name=f"boards/{BOARD}/tasks/t1",
                                                  to_status="done")],
         view=-1),  # type: ignore[arg-type]
     grpc.StatusCode.INVALID_ARGUMENT, ["view"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "request_message", "code", "fields"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rejected_and_nothing_persisted(
    channel: grpc.Channel, snapshot: Snapshot, method: str, request_message: Message,
    code: grpc.StatusCode, fields: list[str],
) -> None:  # fmt: skip
    before = snapshot()
    rejection = call(channel, method, request_message)
    assert rejection.code == code, rejection.message
    assert rejection.reason, "every error carries an ErrorInfo reason"
    assert rejection.fields == fields
    for field in fields:
        assert field in rejection.message
    assert snapshot() == before


@pytest.mark.parametrize(
    ("what", "payload", "reason"),
    [
        # Field 1 (a string in each request) holding invalid UTF-8.
        ("invalid UTF-8 in a string", b"\x0a\x04\xff\xfe\xfd\xfc", "UNDECODABLE_REQUEST"),
        ("truncated message", b"\x0a\x10boards/", "UNDECODABLE_REQUEST"),
        # Field 1 sent as a varint although it is a string: protobuf keeps it as an unknown
        # field, so the request decodes with field 1 empty, and validation names it.
        ("wrong wire type", b"\x08\x96\x01", "INVALID_FIELD"),
    ],
)
def test_undecodable_requests(
    channel: grpc.Channel, snapshot: Snapshot, what: str, payload: bytes, reason: str
) -> None:
    before = snapshot()
    for method in (T + "TransitionTask", T + "PostTask", "/quadro.v1.DataService/PutData"):
        rejection = call_raw(channel, method, payload)
        assert rejection.code == grpc.StatusCode.INVALID_ARGUMENT, (what, rejection.message)
        assert rejection.reason == reason
    assert snapshot() == before


def test_oversized_message_is_refused(channel: grpc.Channel, snapshot: Snapshot) -> None:
    huge = task_pb2.PostTaskRequest(
        parent=f"boards/{BOARD}",
        task=task_pb2.Task(task_type="t", label="l", notes=["n" * 8000] * 600),
    )
    assert huge.ByteSize() > quadro.limits.MESSAGE_MAX_BYTES
    before = snapshot()
    rejection = call(channel, T + "PostTask", huge)
    assert rejection.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert snapshot() == before


def test_errors_about_huge_input_still_arrive_whole(channel: grpc.Channel) -> None:
    request = task_pb2.PostTaskRequest(
        parent=f"boards/{BOARD}",
        task=task_pb2.Task(task_type="t", label="l", labels={"k" * 20_000: "v"}),
    )
    rejection = call(channel, T + "PostTask", request)
    assert rejection.code == grpc.StatusCode.INVALID_ARGUMENT
    assert rejection.reason == "INVALID_FIELD"
    assert rejection.fields
    assert len(rejection.fields[0]) <= 128
    many = task_pb2.ListTasksRequest(parent=f"boards/{BOARD}", statuses=["x" * 80 + "!"] * 64)
    rejection = call(channel, T + "ListTasks", many)
    assert rejection.code == grpc.StatusCode.INVALID_ARGUMENT
    assert len(rejection.fields) == 9, "eight violations and a count of the rest"
