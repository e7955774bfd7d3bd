"""The blocking client. GENERATED from _async_client.py by
python_client/generate_sync_client.py: do not edit; change the async client and
regenerate."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import grpc
from google.protobuf.message import Message

from quadro import _requests, _sync_io, errors, names
from quadro._assignment import Assignment
from quadro._batch import Beat, Move, NewTask, Result
from quadro.retry import DEFAULT_TARGET, RetryPolicy
from quadro.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    board_pb2,
    board_pb2_grpc,
    chief_pb2,
    chief_pb2_grpc,
    data_pb2,
    data_pb2_grpc,
    event_pb2,
    event_pb2_grpc,
    task_pb2,
    task_pb2_grpc,
)

R = TypeVar("R")
T = TypeVar("T")

# ListTasks orders, by the names the client takes.
_TASK_ORDERS = {"posted": task_pb2.TASK_ORDER_UNSPECIFIED, "dispatch": task_pb2.TASK_ORDER_DISPATCH}


class Client:
    """A connection to a Quadro server.

    Every method mirrors one RPC and returns its response message (`quadro.v1.*_pb2`);
    `iter_*` methods walk every page of a listing. Boards are named by id (`claims`) or
    name (`boards/claims`); tasks by their full name (`boards/claims/tasks/k3x9a`), as the
    server returns it; agents and data entries by board and id. Failed calls raise
    `quadro.errors.QuadroError` subclasses. Use it as a context manager, or call
    `close()`.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        credentials: grpc.ChannelCredentials | None = None,
        channel_options: Sequence[tuple[str, Any]] = (),
        token: str | None = None,
    ) -> None:
        """`target` is one address, or several server replicas with client-side load
        balancing, e.g. `ipv4:10.0.0.1:50051,10.0.0.2:50051` with
        `channel_options=[("grpc.lb_policy_name", "round_robin")]`: a call that fails
        because a replica died is retried (same request id) on another. `token` is the
        API token of a server with authentication; `credentials` makes the channel TLS
        (see `quadro.tls.channel_credentials`)."""
        self.target = target
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._metadata = tuple(metadata)
        if token:
            self._metadata += (("authorization", f"Bearer {token}"),)
        options = [*_requests.CHANNEL_OPTIONS, *channel_options]
        if credentials is None:
            self._channel = _sync_io.insecure_channel(target, options)
        else:
            self._channel = _sync_io.secure_channel(target, credentials, options)
        self._boards = board_pb2_grpc.BoardServiceStub(self._channel)
        self._tasks = task_pb2_grpc.TaskServiceStub(self._channel)
        self._events = event_pb2_grpc.EventServiceStub(self._channel)
        self._agents = agent_pb2_grpc.AgentServiceStub(self._channel)
        self._data = data_pb2_grpc.DataServiceStub(self._channel)
        self._chiefs = chief_pb2_grpc.ChiefServiceStub(self._channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        _sync_io.close(self._channel)

    def _call(self, rpc: _sync_io.Rpc[R], request: Message) -> R:
        """One RPC with retries on UNAVAILABLE, exponential backoff and jitter."""
        delay = self.retry.initial_backoff
        attempt = 0
        while True:
            attempt += 1
            try:
                return rpc(request, timeout=self.timeout, metadata=self._metadata)
            except grpc.RpcError as exc:
                call: Any = exc
                retryable = call.code() == grpc.StatusCode.UNAVAILABLE
                if not retryable or attempt >= self.retry.max_attempts:
                    raise errors.from_rpc_error(exc) from None
            _sync_io.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * self.retry.multiplier, self.retry.max_backoff)

    # --- boards ---------------------------------------------------------------------

    def create_board(
        self,
        board_id: str,
        *,
        display_name: str = "",
        profiles: Mapping[str, Iterable[tuple[str, str]]] | None = None,
        task_types: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        default_profile: str = "",
        request_id: str | None = None,
    ) -> board_pb2.CreateBoardResponse:
        """Create a board. `profiles` maps custom profile names to (from, to) pairs;
        `task_types` maps task types or globs to profile names (first glob match wins;
        exact names beat globs)."""
        request = board_pb2.CreateBoardRequest(
            board_id=board_id,
            board=_requests.board_spec(display_name, profiles, task_types, default_profile),
            request_id=_requests.request_id(request_id),
        )
        return self._call(self._boards.CreateBoard, request)

    def get_board(self, board: str) -> board_pb2.GetBoardResponse:
        request = board_pb2.GetBoardRequest(name=names.board(board))
        return self._call(self._boards.GetBoard, request)

    def list_boards(
        self, *, page_size: int = 0, page_token: str = ""
    ) -> board_pb2.ListBoardsResponse:
        request = board_pb2.ListBoardsRequest(page_size=page_size, page_token=page_token)
        return self._call(self._boards.ListBoards, request)

    def iter_boards(self, *, page_size: int = 0) -> Iterator[board_pb2.Board]:
        token = ""
        while True:
            page = self.list_boards(page_size=page_size, page_token=token)
            for board in page.boards:
                yield board
            token = page.next_page_token
            if not token:
                return

    # --- tasks ----------------------------------------------------------------------

    def post_task(
        self,
        board: str,
        task_type: str,
        label: str,
        *,
        task_id: str = "",
        priority: int | None = None,
        notes: Iterable[str] = (),
        labels: Mapping[str, str] | None = None,
        parent_task: str = "",
        request_id: str | None = None,
    ) -> task_pb2.PostTaskResponse:
        """Post a task (status UNASSIGNED). Without `task_id`, the server picks a short
        one."""
        new = NewTask(
            task_type,
            label,
            task_id=task_id,
            priority=priority,
            notes=notes,
            labels=labels,
            parent_task=parent_task,
            request_id=request_id,
        )
        request = new.request(board)
        return self._call(self._tasks.PostTask, request)

    def get_task(self, task: str) -> task_pb2.GetTaskResponse:
        return self._call(self._tasks.GetTask, task_pb2.GetTaskRequest(name=task))

    def list_tasks(
        self,
        board: str | Sequence[str],
        *,
        statuses: Iterable[str] = (),
        task_types: Iterable[str] = (),
        assigned_to: str = "",
        order: str = "posted",
        page_size: int = 0,
        page_token: str = "",
    ) -> task_pb2.ListTasksResponse:
        """The tasks of a board, or of several (a list of boards: board by board), in
        `order`: "posted", or "dispatch" (priority, then posted; one board only)."""
        if order not in _TASK_ORDERS:
            raise ValueError(f"order must be one of {sorted(_TASK_ORDERS)}, not {order!r}")
        if isinstance(board, str):
            parent, boards = names.board(board), []
        else:
            parent, boards = "", [names.board(b) for b in board]
        request = task_pb2.ListTasksRequest(
            parent=parent,
            boards=boards,
            statuses=list(statuses),
            task_types=list(task_types),
            assigned_to=assigned_to,
            order=_TASK_ORDERS[order],
            page_size=page_size,
            page_token=page_token,
        )
        return self._call(self._tasks.ListTasks, request)

    def iter_tasks(
        self,
        board: str | Sequence[str],
        *,
        statuses: Iterable[str] = (),
        task_types: Iterable[str] = (),
        assigned_to: str = "",
        order: str = "posted",
        page_size: int = 0,
    ) -> Iterator[task_pb2.Task]:
        statuses, task_types = list(statuses), list(task_types)
        token = ""
        while True:
            page = self.list_tasks(
                board,
                statuses=statuses,
                task_types=task_types,
                assigned_to=assigned_to,
                order=order,
                page_size=page_size,
                page_token=token,
            )
            for task in page.tasks:
                yield task
            token = page.next_page_token
            if not token:
                return

    def transition_task(
        self,
        task: str,
        to_status: str,
        *,
        assignee: str = "",
        output: str | None = None,
        note: str = "",
        context_snapshot_hash: str = "",
        expected_status: str = "",
        etag: str = "",
        attempt: int = 0,
        if_quiet_for: float | None = None,
        request_id: str | None = None,
    ) -> task_pb2.TransitionTaskResponse:
        """Move a task. `expected_status`/`etag` make it a compare-and-set (raises
        `CompareAndSetFailed` when someone else moved it first); `attempt` fences off
        superseded workers; `if_quiet_for` (seconds) moves it only if nothing was heard
        of it for that long, by the server's clock (reason TASK_ALIVE otherwise)."""
        move = Move(
            task,
            to_status,
            assignee=assignee,
            output=output,
            note=note,
            context_snapshot_hash=context_snapshot_hash,
            expected_status=expected_status,
            etag=etag,
            attempt=attempt,
            if_quiet_for=if_quiet_for,
            request_id=request_id,
        )
        request = move.request()
        return self._call(self._tasks.TransitionTask, request)

    def post_result(
        self,
        task: str,
        output: str,
        *,
        agent: str = "",
        attempt: int = 0,
        note: str = "",
        request_id: str | None = None,
    ) -> task_pb2.PostResultResponse:
        """Record a result: the task moves to PENDING_REVIEW or COMPLETE, as its lifecycle
        says."""
        request = Result(task, output, agent, attempt, note, request_id).request()
        return self._call(self._tasks.PostResult, request)

    def archive_task(
        self, task: str, *, etag: str = "", request_id: str | None = None
    ) -> task_pb2.ArchiveTaskResponse:
        request = task_pb2.ArchiveTaskRequest(
            name=task, etag=etag, request_id=_requests.request_id(request_id)
        )
        return self._call(self._tasks.ArchiveTask, request)

    def post_tasks(
        self, board: str, tasks: Iterable[NewTask], *, event_only: bool = False
    ) -> list[task_pb2.PostTaskResponse | errors.QuadroError]:
        """Post up to 500 tasks in one call and one transaction. Each item is answered
        on its own: the response `post_task` would return, or the error it would raise
        (returned, not raised); the call itself fails only if it cannot be made. With
        `event_only`, an answer holds the event written and no task (cheaper for both
        sides, when knowing the item was applied is enough)."""
        request = task_pb2.BatchPostTasksRequest(
            requests=[t.request(board) for t in tasks], view=_view(event_only)
        )
        return _items(self._call(self._tasks.BatchPostTasks, request))

    def transition_tasks(
        self, moves: Iterable[Move], *, event_only: bool = False
    ) -> list[task_pb2.TransitionTaskResponse | errors.QuadroError]:
        """Apply up to 500 moves in one call and one transaction, in order, each answered
        on its own (see `post_tasks`)."""
        request = task_pb2.BatchTransitionTasksRequest(
            requests=[m.request() for m in moves], view=_view(event_only)
        )
        return _items(self._call(self._tasks.BatchTransitionTasks, request))

    def post_results(
        self, results: Iterable[Result], *, event_only: bool = False
    ) -> list[task_pb2.PostResultResponse | errors.QuadroError]:
        """Record up to 500 results in one call and one transaction, in order, each
        answered on its own (see `post_tasks`)."""
        request = task_pb2.BatchPostResultsRequest(
            requests=[r.request() for r in results], view=_view(event_only)
        )
        return _items(self._call(self._tasks.BatchPostResults, request))

    def hand_off_task(
        self,
        task: str,
        board: str,
        task_type: str,
        label: str,
        *,
        successor_id: str = "",
        priority: int | None = None,
        notes: Iterable[str] = (),
        labels: Mapping[str, str] | None = None,
        to_status: str = "",
        expected_status: str = "",
        request_id: str | None = None,
    ) -> task_pb2.HandOffTaskResponse:
        """Post the successor of a finished `task` on `board`, exactly once: another
        hand-off of the same task raises FailedPrecondition (reason ALREADY_HANDED_OFF,
        `metadata["successor_task"]` names the successor). With `to_status`, the task is
        first moved to that terminal status (if in `expected_status`), in the same step."""
        request = task_pb2.HandOffTaskRequest(
            name=task,
            board=names.board(board),
            successor=_requests.new_task(task_type, label, priority, notes, labels),
            successor_id=successor_id,
            to_status=to_status,
            expected_status=expected_status,
            request_id=_requests.request_id(request_id),
        )
        return self._call(self._tasks.HandOffTask, request)

    def get_lineage(self, task: str) -> task_pb2.GetLineageResponse:
        """The task's ancestors up to its origin and all its descendants, across boards."""
        return self._call(self._tasks.GetLineage, task_pb2.GetLineageRequest(name=task))

    # --- events ---------------------------------------------------------------------

    def list_events(
        self,
        board: str,
        *,
        after_sequence: int = 0,
        task: str = "",
        agent: str = "",
        event_types: Iterable[_requests.EventTypeLike] = (),
        task_types: Iterable[str] = (),
        statuses: Iterable[str] = (),
        page_size: int = 0,
        page_token: str = "",
    ) -> event_pb2.ListEventsResponse:
        request = event_pb2.ListEventsRequest(
            parent=names.board(board),
            after_sequence=after_sequence,
            filter=_requests.event_filter(task, agent, event_types, task_types, statuses),
            page_size=page_size,
            page_token=page_token,
        )
        return self._call(self._events.ListEvents, request)

    def iter_events(
        self,
        board: str,
        *,
        after_sequence: int = 0,
        task: str = "",
        agent: str = "",
        event_types: Iterable[_requests.EventTypeLike] = (),
        task_types: Iterable[str] = (),
        statuses: Iterable[str] = (),
        page_size: int = 0,
    ) -> Iterator[event_pb2.Event]:
        """Every matching event committed so far, oldest first."""
        event_types, task_types = list(event_types), list(task_types)
        statuses = list(statuses)
        token = ""
        while True:
            page = self.list_events(
                board,
                after_sequence=after_sequence,
                task=task,
                agent=agent,
                event_types=event_types,
                task_types=task_types,
                statuses=statuses,
                page_size=page_size,
                page_token=token,
            )
            for event in page.events:
                yield event
            token = page.next_page_token
            if not token:
                return

    def task_history(self, task: str) -> list[event_pb2.Event]:
        """Every event of a task, oldest first."""
        return [e for e in self.iter_events(names.board_id(task), task=task)]

    def agent_activity(self, board: str, agent_id: str) -> list[event_pb2.Event]:
        """Every event involving an agent, oldest first."""
        return [e for e in self.iter_events(board, agent=agent_id)]

    def subscribe(
        self,
        boards: str | Iterable[str],
        *,
        after_sequence: int | None = None,
        after_sequences: Mapping[str, int] | None = None,
        task: str = "",
        agent: str = "",
        event_types: Iterable[_requests.EventTypeLike] = (),
        task_types: Iterable[str] = (),
        statuses: Iterable[str] = (),
        include_heartbeats: bool = False,
        progress_interval: int = 0,
    ) -> Subscription:
        """Follow one or more boards: iterate the result to get their events, replayed
        from `after_sequence` (every board) or `after_sequences` (per board), then live.
        Boards with neither start at their head. The subscription resumes on its own
        after a dropped connection or a server restart, from the last positions it
        received, and yields every matching event exactly once."""
        followed = [names.board(b) for b in ([boards] if isinstance(boards, str) else boards)]
        start = {names.board(b): s for b, s in (after_sequences or {}).items()}
        if after_sequence is not None:
            start = dict.fromkeys(followed, after_sequence) | start
        request = event_pb2.SubscribeEventsRequest(
            boards=followed,
            after_sequences=start,
            filter=_requests.event_filter(task, agent, event_types, task_types, statuses),
            include_heartbeats=include_heartbeats,
            progress_interval_seconds=progress_interval,
        )
        return Subscription(self, request)

    def watch_assignments(
        self,
        board: str,
        agent_id: str,
        *,
        after_sequence: int | None = None,
        progress_interval: int = 0,
    ) -> Assignments:
        """Follow an agent's assignments: iterate the result to get each task assigned
        to it after `after_sequence` (the board's head when None), with the task itself,
        then live; it resumes on its own like `subscribe`. How a worker takes its work."""
        request = agent_pb2.WatchAssignmentsRequest(
            name=names.agent(board, agent_id), progress_interval_seconds=progress_interval
        )
        if after_sequence is not None:
            request.after_sequence = after_sequence
        return Assignments(self, request)

    # --- agents ---------------------------------------------------------------------

    def register_agent(
        self,
        board: str,
        agent_id: str,
        *,
        display_name: str = "",
        capabilities: Iterable[str] = (),
        review_capabilities: Iterable[str] = (),
        version: str = "",
        concurrency: int = 0,
        request_id: str | None = None,
    ) -> agent_pb2.RegisterAgentResponse:
        """Register an agent's card, or update it. `capabilities` are the task types (or
        globs) it works on, `review_capabilities` those whose work it reviews."""
        request = agent_pb2.RegisterAgentRequest(
            parent=names.board(board),
            agent_id=agent_id,
            agent=agent_pb2.Agent(
                display_name=display_name,
                capabilities=list(capabilities),
                review_capabilities=list(review_capabilities),
                version=version,
                concurrency=concurrency,
            ),
            request_id=_requests.request_id(request_id),
        )
        return self._call(self._agents.RegisterAgent, request)

    def get_agent(self, board: str, agent_id: str) -> agent_pb2.GetAgentResponse:
        request = agent_pb2.GetAgentRequest(name=names.agent(board, agent_id))
        return self._call(self._agents.GetAgent, request)

    def list_agents(
        self, board: str, *, page_size: int = 0, page_token: str = ""
    ) -> agent_pb2.ListAgentsResponse:
        request = agent_pb2.ListAgentsRequest(
            parent=names.board(board), page_size=page_size, page_token=page_token
        )
        return self._call(self._agents.ListAgents, request)

    def iter_agents(self, board: str, *, page_size: int = 0) -> Iterator[agent_pb2.Agent]:
        token = ""
        while True:
            page = self.list_agents(board, page_size=page_size, page_token=token)
            for agent in page.agents:
                yield agent
            token = page.next_page_token
            if not token:
                return

    def heartbeat(
        self,
        board: str,
        agent_id: str,
        *,
        task: str = "",
        attempt: int = 0,
        request_id: str | None = None,
    ) -> agent_pb2.HeartbeatResponse:
        """Say the agent is alive and, with `task`, still working on it."""
        request = Beat(board, agent_id, task, attempt, request_id).request()
        return self._call(self._agents.Heartbeat, request)

    def heartbeats(
        self, beats: Iterable[Beat]
    ) -> list[agent_pb2.HeartbeatResponse | errors.QuadroError]:
        """Up to 500 heartbeats in one call and one transaction, in order, each answered
        on its own: a task the agent no longer holds is its item's error."""
        request = agent_pb2.BatchHeartbeatRequest(requests=[b.request() for b in beats])
        return _items(self._call(self._agents.BatchHeartbeat, request))

    # --- chiefs ---------------------------------------------------------------------

    def register_chief(
        self,
        board: str,
        chief_id: str,
        *,
        task_types: Iterable[str] = (),
        boards: Iterable[str] = (),
        cadence: str = "",
        display_name: str = "",
        version: str = "",
        request_id: str | None = None,
    ) -> chief_pb2.RegisterChiefResponse:
        """Register a Chief on a board with its scope (task types, every board of it)
        and cadence, or update the registration."""
        request = chief_pb2.RegisterChiefRequest(
            parent=names.board(board),
            chief_id=chief_id,
            chief=chief_pb2.Chief(
                display_name=display_name,
                task_types=list(task_types),
                boards=[names.board(b) for b in boards],
                cadence=cadence,
                version=version,
            ),
            request_id=_requests.request_id(request_id),
        )
        return self._call(self._chiefs.RegisterChief, request)

    def get_chief(self, board: str, chief_id: str) -> chief_pb2.GetChiefResponse:
        request = chief_pb2.GetChiefRequest(name=names.chief(board, chief_id))
        return self._call(self._chiefs.GetChief, request)

    def list_chiefs(
        self, board: str, *, page_size: int = 0, page_token: str = ""
    ) -> chief_pb2.ListChiefsResponse:
        request = chief_pb2.ListChiefsRequest(
            parent=names.board(board), page_size=page_size, page_token=page_token
        )
        return self._call(self._chiefs.ListChiefs, request)

    def iter_chiefs(self, board: str, *, page_size: int = 0) -> Iterator[chief_pb2.Chief]:
        token = ""
        while True:
            page = self.list_chiefs(board, page_size=page_size, page_token=token)
            for chief in page.chiefs:
                yield chief
            token = page.next_page_token
            if not token:
                return

    def report_chief_state(
        self, board: str, chief_id: str, state: int, *, request_id: str | None = None
    ) -> chief_pb2.ReportChiefStateResponse:
        """`state` is a `chief_pb2.ChiefState` (CHIEF_STATE_THINKING, ...)."""
        request = chief_pb2.ReportChiefStateRequest(
            name=names.chief(board, chief_id),
            state=state,  # type: ignore[arg-type]
            request_id=_requests.request_id(request_id),
        )
        return self._call(self._chiefs.ReportChiefState, request)

    def record_chief_cycle(
        self,
        board: str,
        chief_id: str,
        cycle: chief_pb2.ChiefCycle,
        *,
        request_id: str | None = None,
    ) -> chief_pb2.RecordChiefCycleResponse:
        request = chief_pb2.RecordChiefCycleRequest(
            name=names.chief(board, chief_id),
            cycle=cycle,
            request_id=_requests.request_id(request_id),
        )
        return self._call(self._chiefs.RecordChiefCycle, request)

    def list_chief_cycles(
        self, board: str, chief_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> chief_pb2.ListChiefCyclesResponse:
        request = chief_pb2.ListChiefCyclesRequest(
            parent=names.chief(board, chief_id), page_size=page_size, page_token=page_token
        )
        return self._call(self._chiefs.ListChiefCycles, request)

    def iter_chief_cycles(
        self, board: str, chief_id: str, *, page_size: int = 0
    ) -> Iterator[chief_pb2.ChiefCycle]:
        """Every recorded cycle of a Chief on a board, oldest first."""
        token = ""
        while True:
            page = self.list_chief_cycles(board, chief_id, page_size=page_size, page_token=token)
            for cycle in page.cycles:
                yield cycle
            token = page.next_page_token
            if not token:
                return

    # --- data -----------------------------------------------------------------------

    def put_data(
        self, board: str, key: str, value: Any, *, request_id: str | None = None
    ) -> data_pb2.PutDataResponse:
        """Store any JSON-able value under `key`."""
        request = data_pb2.PutDataRequest(
            name=names.data(board, key),
            value=_requests.to_value(value),
            request_id=_requests.request_id(request_id),
        )
        return self._call(self._data.PutData, request)

    def get_data(self, board: str, key: str) -> data_pb2.GetDataResponse:
        """The entry; `quadro.from_value(response.entry.value)` gives the Python value."""
        request = data_pb2.GetDataRequest(name=names.data(board, key))
        return self._call(self._data.GetData, request)

    def delete_data(
        self, board: str, key: str, *, request_id: str | None = None
    ) -> data_pb2.DeleteDataResponse:
        request = data_pb2.DeleteDataRequest(
            name=names.data(board, key), request_id=_requests.request_id(request_id)
        )
        return self._call(self._data.DeleteData, request)

    def list_data(
        self, board: str, *, key_prefix: str = "", page_size: int = 0, page_token: str = ""
    ) -> data_pb2.ListDataResponse:
        request = data_pb2.ListDataRequest(
            parent=names.board(board),
            key_prefix=key_prefix,
            page_size=page_size,
            page_token=page_token,
        )
        return self._call(self._data.ListData, request)

    def iter_data(
        self, board: str, *, key_prefix: str = "", page_size: int = 0
    ) -> Iterator[data_pb2.DataEntry]:
        token = ""
        while True:
            page = self.list_data(
                board, key_prefix=key_prefix, page_size=page_size, page_token=token
            )
            for entry in page.entries:
                yield entry
            token = page.next_page_token
            if not token:
                return


def _view(event_only: bool) -> task_pb2.BatchView.ValueType:
    return task_pb2.BATCH_VIEW_EVENT if event_only else task_pb2.BATCH_VIEW_FULL


def _items(response: Any) -> list[Any]:
    """A batch response's answers: each item's response, or its error as an exception."""
    return [
        r.response if r.HasField("response") else errors.from_item_error(r.error)
        for r in response.results
    ]


class _Resumable(Generic[T]):
    """A server stream of board positions that resumes on its own: after a dropped
    connection or a server restart it reopens from the last positions it received, and
    yields every item exactly once. `close()` (or leaving a `with` block) ends it."""

    def __init__(self, client: Client, positions: dict[str, int]) -> None:
        self._client = client
        self.positions = positions
        self.reconnects = 0
        self._call: Any = None
        self._closed = False

    def _open(self) -> Any:
        """Start the call, from `positions`."""
        raise NotImplementedError

    def _items(self, message: Any) -> Iterable[T]:
        """What one message brings, once each."""
        raise NotImplementedError

    def _fresh(self, event: event_pb2.Event) -> bool:
        """Never twice: a resumed stream starts after these positions."""
        if event.sequence <= self.positions.get(event.board, -1):
            return False
        self.positions[event.board] = event.sequence
        return True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[T]:
        return self._stream()

    def _stream(self) -> Iterator[T]:
        retry = self._client.retry
        delay = retry.initial_backoff
        while not self._closed:
            self._call = self._open()
            try:
                for message in self._call:
                    delay = retry.initial_backoff
                    for item in self._items(message):
                        yield item
                    for board, position in message.positions.items():
                        if position > self.positions.get(board, -1):
                            self.positions[board] = position
            except _sync_io.StreamCancelled:
                if self._closed and _sync_io.cancelled_locally():
                    return
                raise
            except grpc.RpcError as exc:
                call: Any = exc
                if self._closed:
                    return
                if call.code() != grpc.StatusCode.UNAVAILABLE:
                    raise errors.from_rpc_error(exc) from None
            # The stream ended (server restart, shutdown, lost connection): resume.
            self.reconnects += 1
            _sync_io.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * retry.multiplier, retry.max_backoff)

    def close(self) -> None:
        self._closed = True
        if self._call is not None:
            self._call.cancel()


class Subscription(_Resumable[event_pb2.Event]):
    """A live view of one or more boards' events, from the client's `subscribe`.

    Iterate it for events. `positions` holds, per board name, the sequence up to which
    every matching event was delivered: persist it to resume in a later process with
    `after_sequences=positions`. `close()` (or leaving a `with` block) ends it.
    """

    def __init__(self, client: Client, request: event_pb2.SubscribeEventsRequest) -> None:
        super().__init__(client, dict(request.after_sequences))
        self._request = request

    def _open(self) -> Any:
        request = event_pb2.SubscribeEventsRequest()
        request.CopyFrom(self._request)
        request.after_sequences.clear()
        request.after_sequences.update(self.positions)
        return self._client._events.SubscribeEvents(request, metadata=self._client._metadata)

    def _items(self, message: event_pb2.SubscribeEventsResponse) -> Iterable[event_pb2.Event]:
        return [event for event in message.events if self._fresh(event)]


class Assignments(_Resumable[Assignment]):
    """An agent's assignments, from the client's `watch_assignments`: iterate it for
    `quadro.Assignment`s (the event and its task). `positions` holds the board's
    sequence up to which every assignment was delivered."""

    def __init__(self, client: Client, request: agent_pb2.WatchAssignmentsRequest) -> None:
        board = names.board(request.name.rsplit("/agents/", 1)[0])
        start = {board: request.after_sequence} if request.HasField("after_sequence") else {}
        super().__init__(client, start)
        self._request = request
        self._board = board

    def _open(self) -> Any:
        request = agent_pb2.WatchAssignmentsRequest()
        request.CopyFrom(self._request)
        if self._board in self.positions:
            request.after_sequence = self.positions[self._board]
        return self._client._agents.WatchAssignments(request, metadata=self._client._metadata)

    def _items(self, message: agent_pb2.WatchAssignmentsResponse) -> Iterable[Assignment]:
        tasks = {task.name: task for task in message.tasks}
        return [
            Assignment(event, tasks[event.task])
            for event in message.events
            if event.task in tasks and self._fresh(event)
        ]
