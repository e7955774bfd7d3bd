"""From request messages to commands and queries, validating every field on the way.

Each function raises InvalidArgument listing every bad field, or returns a well-formed
command; the engine then checks what depends on the board's state.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from google.protobuf import json_format

from quadro import limits, reasons
from quadro.v1 import agent_pb2, board_pb2, data_pb2, event_pb2, task_pb2
from quadro_server.api import convert
from quadro_server.api.validation import Violations, check_labels
from quadro_server.core import commands, globs, names
from quadro_server.core.engine import notes_size
from quadro_server.core.event_filter import EventFilter
from quadro_server.core.lifecycle import BoardLifecycles, check_custom_profile
from quadro_server.core.records import BoardRecord
from quadro_server.core.taxonomy import EventType
from quadro_server.storage.base import EventQuery, TaskQuery
from quadro_server.streaming.subscription import SubscriptionSpec

# --- boards ---------------------------------------------------------------------------


def create_board(request: board_pb2.CreateBoardRequest, principal: str) -> commands.CreateBoard:
    v = Violations()
    v.add("board_id", names.check_board_id(request.board_id))
    board = request.board
    v.text("board.display_name", board.display_name, limits.DISPLAY_NAME_MAX)
    if len(board.profiles) > limits.PROFILES_MAX:
        v.add(
            "board.profiles", f"{len(board.profiles)} profiles; the limit is {limits.PROFILES_MAX}"
        )
    profiles: dict[str, tuple[tuple[str, str], ...]] = {}
    for name, profile in board.profiles.items():
        pairs = tuple((t.from_status, t.to_status) for t in profile.transitions)
        # Sorted and de-duplicated: the declared set, not the order it was typed in.
        profiles[name] = tuple(sorted(set(pairs)))
        for sub, problem in check_custom_profile(name, pairs):
            v.add(f"board.profiles[{name!r}]" + (f".{sub}" if sub else ""), problem)
    rules = tuple((r.pattern, r.profile) for r in board.task_types)
    if board.default_profile:
        v.add("board.default_profile", names.check_profile_name(board.default_profile))
    lifecycles = BoardLifecycles(profiles, rules, board.default_profile)
    for field, problem in lifecycles.check_rules():
        v.add(f"board.{field}", problem)
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    return commands.CreateBoard(
        board_id=request.board_id,
        display_name=board.display_name,
        profiles=tuple(sorted(profiles.items())),
        task_type_rules=rules,
        default_profile=board.default_profile,
        request_id=request_id,
        principal=principal,
    )


def board_name(request: board_pb2.GetBoardRequest) -> str:
    v = Violations()
    board_id = v.board("name", request.name)
    v.raise_if_any()
    return board_id


# --- tasks ----------------------------------------------------------------------------


def post_task(request: task_pb2.PostTaskRequest, principal: str) -> commands.PostTask:
    v = Violations()
    board_id = v.board("parent", request.parent)
    v.optional("task_id", request.task_id, names.check_task_id)
    task = request.task
    priority, notes, labels = _task_content(v, "task", task)
    if task.parent_task:
        v.child("task.parent_task", task.parent_task, "tasks")
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    return commands.PostTask(
        board_id=board_id,
        task_id=request.task_id,
        task_type=task.task_type,
        label=task.label,
        priority=priority,
        notes=notes,
        labels=labels,
        parent_task=task.parent_task,
        request_id=request_id,
        principal=principal,
    )


def task_name(field: str, value: str) -> names.ChildName:
    v = Violations()
    ref = v.child(field, value, "tasks")
    v.raise_if_any()
    return ref


def list_tasks(request: task_pb2.ListTasksRequest) -> tuple[TaskQuery, tuple[str, ...]]:
    """The query (for the first board) and every board listed, in order."""
    v = Violations()
    if request.boards:
        if request.parent:
            v.add("parent", "give parent or boards, not both")
        boards = _boards(v, "boards", request.boards)
        board_id = boards[0] if boards else ""
    else:
        board_id = v.board("parent", request.parent)
        boards = (board_id,)
    limit = v.page_size(request.page_size)
    statuses = v.statuses("statuses", request.statuses)
    task_types = v.patterns("task_types", request.task_types)
    v.optional("assigned_to", request.assigned_to, names.check_agent_id)
    if request.order not in task_pb2.TaskOrder.values():
        v.add("order", f"unknown order {request.order}")
    dispatch = request.order == task_pb2.TASK_ORDER_DISPATCH
    if dispatch and request.boards:
        v.add("order", "dispatch order lists one board: give parent, not boards")
    v.raise_if_any()
    query = TaskQuery(
        board_id=board_id,
        limit=limit,
        statuses=statuses,
        task_types=task_types,
        assigned_to=request.assigned_to,
        dispatch_order=dispatch,
    )
    return query, boards


def hand_off_task(request: task_pb2.HandOffTaskRequest, principal: str) -> commands.HandOffTask:
    v = Violations()
    ref = v.child("name", request.name, "tasks")
    successor_board = v.board("board", request.board)
    v.optional("successor_id", request.successor_id, names.check_task_id)
    successor = request.successor
    priority, notes, labels = _task_content(v, "successor", successor)
    v.optional("to_status", request.to_status, names.check_status)
    v.optional("expected_status", request.expected_status, names.check_status)
    if request.expected_status and not request.to_status:
        v.add("expected_status", "only with to_status")
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    return commands.HandOffTask(
        board_id=ref.board_id,
        task_id=ref.child_id,
        successor_board_id=successor_board,
        task_type=successor.task_type,
        label=successor.label,
        successor_id=request.successor_id,
        priority=priority,
        notes=notes,
        labels=labels,
        to_status=request.to_status,
        expected_status=request.expected_status,
        request_id=request_id,
        principal=principal,
    )


def _task_content(
    v: Violations, field: str, task: task_pb2.Task
) -> tuple[int, tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Check what a new task is (type, label, priority, notes, labels); return the last
    three as a command takes them."""
    v.add(f"{field}.task_type", names.check_task_type(task.task_type))
    v.text(f"{field}.label", task.label, limits.LABEL_MAX, required=True)
    priority = limits.DEFAULT_PRIORITY
    if task.HasField("priority"):
        priority = v.int_range(
            f"{field}.priority", task.priority, limits.PRIORITY_MIN, limits.PRIORITY_MAX
        )
    notes = tuple(task.notes)
    v.count(f"{field}.notes", notes, limits.NOTES_PER_TASK_MAX)
    for i, note in enumerate(notes):
        v.text(f"{field}.notes[{i}]", note, limits.NOTE_MAX, required=True)
    if notes_size(notes) > limits.NOTES_MAX_BYTES:
        v.add(
            f"{field}.notes",
            f"notes total {notes_size(notes)} bytes; the limit is {limits.NOTES_MAX_BYTES}",
        )
    return priority, notes, check_labels(v, f"{field}.labels", dict(task.labels))


def transition_task(
    request: task_pb2.TransitionTaskRequest, principal: str
) -> commands.TransitionTask:
    v = Violations()
    ref = v.child("name", request.name, "tasks")
    v.add("to_status", names.check_status(request.to_status))
    v.optional("assignee", request.assignee, names.check_agent_id)
    output = v.output("output", request.output) if request.HasField("output") else None
    v.text("note", request.note, limits.NOTE_MAX)
    v.text("context_snapshot_hash", request.context_snapshot_hash, limits.CONTEXT_HASH_MAX)
    v.optional("expected_status", request.expected_status, names.check_status)
    v.text("etag", request.etag, limits.ETAG_MAX)
    v.int_range("attempt", request.attempt, 0, 2**62)
    quiet_for = (
        v.duration_us("if_quiet_for", request.if_quiet_for, limits.QUIET_FOR_MAX_SECONDS)
        if request.HasField("if_quiet_for")
        else None
    )
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    return commands.TransitionTask(
        board_id=ref.board_id,
        task_id=ref.child_id,
        to_status=request.to_status,
        assignee=request.assignee,
        output=output,
        note=request.note,
        context_snapshot_hash=request.context_snapshot_hash,
        expected_status=request.expected_status,
        expected_etag=request.etag,
        attempt=request.attempt,
        if_quiet_for_us=quiet_for,
        request_id=request_id,
        principal=principal,
    )


def post_result(request: task_pb2.PostResultRequest, principal: str) -> commands.PostResult:
    v = Violations()
    ref = v.child("name", request.name, "tasks")
    v.output("output", request.output)
    v.optional("agent", request.agent, names.check_agent_id)
    v.int_range("attempt", request.attempt, 0, 2**62)
    v.text("note", request.note, limits.NOTE_MAX)
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    return commands.PostResult(
        board_id=ref.board_id,
        task_id=ref.child_id,
        output=request.output,
        agent=request.agent,
        attempt=request.attempt,
        note=request.note,
        request_id=request_id,
        principal=principal,
    )


def archive_task(request: task_pb2.ArchiveTaskRequest, principal: str) -> commands.ArchiveTask:
    v = Violations()
    ref = v.child("name", request.name, "tasks")
    v.text("etag", request.etag, limits.ETAG_MAX)
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    return commands.ArchiveTask(
        board_id=ref.board_id,
        task_id=ref.child_id,
        expected_etag=request.etag,
        request_id=request_id,
        principal=principal,
    )


# --- events ---------------------------------------------------------------------------


def list_events(request: event_pb2.ListEventsRequest, after: int) -> EventQuery:
    v = Violations()
    board_id = v.board("parent", request.parent)
    limit = v.page_size(request.page_size)
    if request.after_sequence < 0:
        v.add("after_sequence", "must not be negative")
    event_filter = _event_filter(v, request.filter, (board_id,))
    v.raise_if_any()
    return EventQuery(
        board_id=board_id,
        limit=limit,
        after_sequence=max(request.after_sequence, after),
        filter=event_filter,
    )


def subscribe(request: event_pb2.SubscribeEventsRequest) -> SubscriptionSpec:
    v = Violations()
    boards = _boards(v, "boards", request.boards)
    after: dict[str, int | None] = dict.fromkeys(boards)
    for name, sequence in request.after_sequences.items():
        field = f"after_sequences[{name!r}]"
        try:
            board_id = names.parse_board_name(name)
        except names.InvalidName as exc:
            v.add(field, str(exc))
            continue
        if board_id not in after:
            v.add(field, "not one of the boards followed")
        elif sequence < 0:
            v.add(field, "must not be negative")
        else:
            after[board_id] = sequence
    event_filter = _event_filter(v, request.filter, boards)
    if not request.include_heartbeats:
        event_filter = event_filter.without_heartbeats()
    interval = _progress_interval(v, request.progress_interval_seconds)
    v.raise_if_any()
    return SubscriptionSpec(boards, after, event_filter, interval)


def watch_assignments(request: agent_pb2.WatchAssignmentsRequest) -> SubscriptionSpec:
    """The subscription an assignment stream is: the agent's `task_assigned` events."""
    v = Violations()
    ref = v.child("name", request.name, "agents")
    after: int | None = None
    if request.HasField("after_sequence"):
        after = request.after_sequence
        if after < 0:
            v.add("after_sequence", "must not be negative")
    interval = _progress_interval(v, request.progress_interval_seconds)
    v.raise_if_any()
    assigned = EventFilter(agent=ref.child_id, types=(EventType.TASK_ASSIGNED.value,))
    return SubscriptionSpec((ref.board_id,), {ref.board_id: after}, assigned, interval)


def _boards(v: Violations, field: str, given: Sequence[str]) -> tuple[str, ...]:
    """Board ids of a request that names several boards: 1 to 16, no repeats."""
    if not 1 <= len(given) <= limits.SUBSCRIPTION_BOARDS_MAX:
        v.add(field, f"name 1 to {limits.SUBSCRIPTION_BOARDS_MAX} boards")
    boards = tuple(v.board(f"{field}[{i}]", name) for i, name in enumerate(given))
    if len(set(boards)) != len(boards):
        v.add(field, "a board is listed twice")
    return boards


def _progress_interval(v: Violations, seconds: int) -> float:
    interval = seconds or limits.PROGRESS_INTERVAL_DEFAULT_SECONDS
    v.int_range("progress_interval_seconds", interval, 1, limits.PROGRESS_INTERVAL_MAX_SECONDS)
    return float(interval)


def _event_filter(v: Violations, f: event_pb2.EventFilter, boards: tuple[str, ...]) -> EventFilter:
    task_id = ""
    if f.task:
        if "/" in f.task:
            ref = v.child("filter.task", f.task, "tasks")
            if ref.board_id and ref.board_id not in boards:
                v.add("filter.task", f"task {f.task!r} is not on a board of this request")
            task_id = ref.child_id
        elif len(boards) == 1:
            task_id = v.task_ref("filter.task", f.task, boards[0])
        else:
            v.add("filter.task", "with several boards, name the task in full")
    v.optional("filter.agent", f.agent, names.check_agent_id)
    types: list[str] = []
    v.count("filter.event_types", list(f.event_types), limits.EVENT_TYPES_FILTER_MAX)
    for i, value in enumerate(f.event_types):
        name = convert.EVENT_TYPE_FROM_PROTO.get(value)
        if name is None:
            v.add(f"filter.event_types[{i}]", f"{value} is not an event type")
        else:
            types.append(name)
    statuses = v.statuses("filter.statuses", f.statuses)
    task_types = v.patterns("filter.task_types", f.task_types)
    return EventFilter(task_id, f.agent, tuple(types), task_types, statuses)


# --- agents ---------------------------------------------------------------------------


def register_agent(
    request: agent_pb2.RegisterAgentRequest, principal: str
) -> commands.RegisterAgent:
    v = Violations()
    board_id = v.board("parent", request.parent)
    v.add("agent_id", names.check_agent_id(request.agent_id))
    agent = request.agent
    v.text("agent.display_name", agent.display_name, limits.DISPLAY_NAME_MAX)
    capabilities = v.patterns("agent.capabilities", agent.capabilities)
    review_capabilities = v.patterns("agent.review_capabilities", agent.review_capabilities)
    v.text("agent.version", agent.version, limits.VERSION_MAX)
    concurrency = agent.concurrency or 1
    v.int_range("agent.concurrency", concurrency, 1, limits.CONCURRENCY_MAX)
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    return commands.RegisterAgent(
        board_id=board_id,
        agent_id=request.agent_id,
        display_name=agent.display_name,
        capabilities=capabilities,
        review_capabilities=review_capabilities,
        version=agent.version,
        concurrency=concurrency,
        request_id=request_id,
        principal=principal,
    )


def agent_name(request: agent_pb2.GetAgentRequest) -> names.ChildName:
    v = Violations()
    ref = v.child("name", request.name, "agents")
    v.raise_if_any()
    return ref


def heartbeat(request: agent_pb2.HeartbeatRequest, principal: str) -> commands.Heartbeat:
    v = Violations()
    ref = v.child("name", request.name, "agents")
    task_id = v.task_ref("task", request.task, ref.board_id) if request.task else ""
    v.int_range("attempt", request.attempt, 0, 2**62)
    if request.attempt and not request.task:
        v.add("attempt", "an attempt only makes sense with a task")
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    return commands.Heartbeat(
        board_id=ref.board_id,
        agent_id=ref.child_id,
        task_id=task_id,
        attempt=request.attempt,
        request_id=request_id,
        principal=principal,
    )


# --- data -----------------------------------------------------------------------------


def put_data(request: data_pb2.PutDataRequest, principal: str) -> commands.PutData:
    v = Violations()
    ref = v.child("name", request.name, "data")
    value_json = ""
    if not request.HasField("value") or request.value.WhichOneof("kind") is None:
        v.add("value", "a value is required (any JSON value; use null_value for null)")
    else:
        try:
            # allow_nan=False: JSON has no NaN or Infinity, and a stored value must be JSON.
            value_json = json.dumps(
                json_format.MessageToDict(request.value),
                separators=(",", ":"),
                ensure_ascii=False,
                allow_nan=False,
            )
        except ValueError:
            v.add("value", "NaN and Infinity are not JSON numbers")
        else:
            v.add("value", names.check_utf8_size(value_json, "value", limits.DATA_VALUE_MAX_BYTES))
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    return commands.PutData(
        board_id=ref.board_id,
        key=ref.child_id,
        value_json=value_json,
        request_id=request_id,
        principal=principal,
    )


def data_name(field: str, value: str) -> names.ChildName:
    v = Violations()
    ref = v.child(field, value, "data")
    v.raise_if_any()
    return ref


def delete_data(request: data_pb2.DeleteDataRequest, principal: str) -> commands.DeleteData:
    v = Violations()
    ref = v.child("name", request.name, "data")
    request_id = v.request_id(request.request_id)
    v.raise_if_any()
    return commands.DeleteData(
        board_id=ref.board_id, key=ref.child_id, request_id=request_id, principal=principal
    )


def list_data(request: data_pb2.ListDataRequest) -> tuple[str, str, int]:
    """(board_id, key_prefix, page size)."""
    v = Violations()
    board_id = v.board("parent", request.parent)
    limit = v.page_size(request.page_size)
    prefix = request.key_prefix
    if prefix.startswith("_"):
        v.add("key_prefix", "internal keys (starting with '_') are never listed")
    elif prefix and (globs.is_glob(prefix) or names.check_data_key(prefix)):
        v.add("key_prefix", names.check_data_key(prefix) or "a key prefix cannot contain globs")
    v.raise_if_any()
    return board_id, prefix, limit


def check_known_statuses(board: BoardRecord, field: str, statuses: tuple[str, ...]) -> None:
    """A status filter may only name statuses the board's lifecycles know: a typo would
    otherwise silently match nothing."""
    known = board.lifecycles().known_statuses
    v = Violations()
    v.reason = reasons.UNKNOWN_STATUS
    for i, status in enumerate(statuses):
        if status not in known:
            v.add(f"{field}[{i}]", f"no lifecycle of this board has a status {status!r}")
    v.raise_if_any()
