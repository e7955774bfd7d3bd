"""What batch calls take: a new task (`NewTask`), a move (`Move`), a result (`Result`)
or a heartbeat (`Beat`) per item, each with the fields of its single call and its own
request id. Shared by both clients, which also build their single calls from these, so
the two never disagree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from quadro import _requests, names
from quadro.v1 import agent_pb2, task_pb2


@dataclass(frozen=True)
class NewTask:
    """A task to post: as `post_task` takes it."""

    task_type: str
    label: str
    task_id: str = ""
    priority: int | None = None
    notes: Iterable[str] = ()
    labels: Mapping[str, str] | None = None
    parent_task: str = ""
    request_id: str | None = None

    def request(self, board: str) -> task_pb2.PostTaskRequest:
        task = _requests.new_task(
            self.task_type, self.label, self.priority, self.notes, self.labels
        )
        task.parent_task = self.parent_task
        return task_pb2.PostTaskRequest(
            parent=names.board(board),
            task_id=self.task_id,
            task=task,
            request_id=_requests.request_id(self.request_id),
        )


@dataclass(frozen=True)
class Move:
    """A transition: as `transition_task` takes it."""

    task: str
    to_status: str
    assignee: str = ""
    output: str | None = None
    note: str = ""
    context_snapshot_hash: str = ""
    expected_status: str = ""
    etag: str = ""
    attempt: int = 0
    if_quiet_for: float | None = None
    request_id: str | None = field(default=None)

    def request(self) -> task_pb2.TransitionTaskRequest:
        request = task_pb2.TransitionTaskRequest(
            name=self.task,
            to_status=self.to_status,
            assignee=self.assignee,
            note=self.note,
            context_snapshot_hash=self.context_snapshot_hash,
            expected_status=self.expected_status,
            etag=self.etag,
            attempt=self.attempt,
            request_id=_requests.request_id(self.request_id),
        )
        if self.output is not None:
            request.output = self.output
        if self.if_quiet_for is not None:
            request.if_quiet_for.FromMicroseconds(round(self.if_quiet_for * 1e6))
        return request


@dataclass(frozen=True)
class Result:
    """A worker's result: as `post_result` takes it."""

    task: str
    output: str
    agent: str = ""
    attempt: int = 0
    note: str = ""
    request_id: str | None = None

    def request(self) -> task_pb2.PostResultRequest:
        return task_pb2.PostResultRequest(
            name=self.task,
            output=self.output,
            agent=self.agent,
            attempt=self.attempt,
            note=self.note,
            request_id=_requests.request_id(self.request_id),
        )


@dataclass(frozen=True)
class Beat:
    """A heartbeat: as `heartbeat` takes it (the agent alone, or with a task it works
    on, fenced by the attempt)."""

    board: str
    agent_id: str
    task: str = ""
    attempt: int = 0
    request_id: str | None = None

    def request(self) -> agent_pb2.HeartbeatRequest:
        return agent_pb2.HeartbeatRequest(
            name=names.agent(self.board, self.agent_id),
            task=self.task,
            attempt=self.attempt,
            request_id=_requests.request_id(self.request_id),
        )


__all__ = ["Beat", "Move", "NewTask", "Result"]
