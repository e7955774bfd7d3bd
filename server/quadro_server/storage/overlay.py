"""A batch's view of the board for stores across a network (PostgreSQL, MySQL, ...).

Talking to such a store costs a round trip per statement, so a batch does not read row
by row: the store loads, in a few bulk queries, every row the batch's commands name,
runs the engine against this in-memory view, and writes everything the engine changed
in a few bulk statements. When the engine asks for a row that was not loaded (a task's
current assignee, a generated task id), the view raises NeedRows; the store loads them
and runs that command again. This is safe because the engine reads everything before
its first write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from quadro_server.core import ids
from quadro_server.core.chiefs import chief_key
from quadro_server.core.commands import (
    AcquireLease,
    ArchiveTask,
    Command,
    CreateBoard,
    DeleteData,
    HandOffTask,
    Heartbeat,
    PostResult,
    PostTask,
    PutData,
    RecordChiefCycle,
    RegisterAgent,
    RegisterChief,
    ReportChiefState,
    TransitionTask,
)
from quadro_server.core.lifecycle import IN_PROGRESS
from quadro_server.core.names import InvalidName, parse_child_name
from quadro_server.core.records import (
    AgentRecord,
    BoardRecord,
    DataRecord,
    EventRecord,
    LeaseRecord,
    TaskRecord,
)
from quadro_server.core.results import StoredRequest

BoardKey = str
ChildKey = tuple[str, str]


@dataclass
class Keys:
    """Rows to load, by kind."""

    boards: set[BoardKey] = field(default_factory=set)
    tasks: set[ChildKey] = field(default_factory=set)
    agents: set[ChildKey] = field(default_factory=set)
    # Tasks whose holders (the agents they are assigned to) to load with them: those a
    # command may take out of IN_PROGRESS without naming the agent holding them.
    holders: set[ChildKey] = field(default_factory=set)
    data: set[ChildKey] = field(default_factory=set)
    requests: set[str] = field(default_factory=set)
    leases: set[str] = field(default_factory=set)
    # The tasks named by the ids a batch generates for new tasks, to be found free.
    generated: set[ChildKey] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(
            self.boards
            or self.tasks
            or self.agents
            or self.holders
            or self.data
            or self.requests
            or self.leases
        )


class NeedRows(Exception):
    """The engine asked for rows the batch has not loaded."""

    def __init__(self, keys: Keys) -> None:
        super().__init__("rows not loaded")
        self.keys = keys


@dataclass
class Loaded:
    """Rows as they are in the store (None: known not to exist)."""

    boards: dict[BoardKey, BoardRecord | None] = field(default_factory=dict)
    # Per board: (head sequence, time of that event).
    heads: dict[BoardKey, tuple[int, int]] = field(default_factory=dict)
    tasks: dict[ChildKey, TaskRecord | None] = field(default_factory=dict)
    agents: dict[ChildKey, AgentRecord | None] = field(default_factory=dict)
    data: dict[ChildKey, DataRecord | None] = field(default_factory=dict)
    requests: dict[str, StoredRequest | None] = field(default_factory=dict)
    leases: dict[str, LeaseRecord | None] = field(default_factory=dict)


def needs_generated_id(command: Command) -> bool:
    """Whether a command posts a task whose id the engine generates."""
    if isinstance(command, PostTask):
        return not command.task_id
    return isinstance(command, HandOffTask) and not command.successor_id


def keys_of(commands: list[Command], candidates: list[str]) -> Keys:
    """The rows a batch will certainly read, named by its commands, and in `generated`
    the tasks named by the ids it will try first for new tasks."""
    keys = Keys()
    id_less = iter(candidates)
    for command in commands:
        if command.request_id:
            keys.requests.add(command.request_key)
        if command.lease is not None:
            keys.leases.add(command.lease.name)
        match command:
            case CreateBoard():
                keys.boards.add(command.board_id)
            case PostTask():
                keys.boards.add(command.board_id)
                if command.task_id:
                    keys.tasks.add((command.board_id, command.task_id))
                else:
                    keys.generated.add((command.board_id, next(id_less)))
                if command.parent_task:
                    try:
                        parent = parse_child_name(command.parent_task, "tasks")
                        keys.tasks.add((parent.board_id, parent.child_id))
                    except InvalidName:
                        pass
            case HandOffTask():
                keys.boards.update((command.board_id, command.successor_board_id))
                keys.tasks.add((command.board_id, command.task_id))
                if command.successor_id:
                    keys.tasks.add((command.successor_board_id, command.successor_id))
                else:
                    keys.generated.add((command.successor_board_id, next(id_less)))
                keys.holders.add((command.board_id, command.task_id))
            case TransitionTask():
                keys.boards.add(command.board_id)
                task = (command.board_id, command.task_id)
                keys.tasks.add(task)
                if command.assignee:
                    keys.agents.add((command.board_id, command.assignee))
                # The holder of a task it moves is one of its acting agents (or the move
                # is refused); a move into IN_PROGRESS is never one out of it.
                keys.agents.update((command.board_id, a) for a in command.acting_agents)
                if not command.acting_agents and command.to_status != IN_PROGRESS:
                    keys.holders.add(task)
            case PostResult():
                keys.boards.add(command.board_id)
                keys.tasks.add((command.board_id, command.task_id))
                if command.agent:  # the holder, or the result is refused
                    keys.agents.add((command.board_id, command.agent))
                else:
                    keys.holders.add((command.board_id, command.task_id))
            case ArchiveTask():
                keys.boards.add(command.board_id)
                keys.tasks.add((command.board_id, command.task_id))
            case RegisterAgent():
                keys.boards.add(command.board_id)
                keys.agents.add((command.board_id, command.agent_id))
            case Heartbeat():
                keys.boards.add(command.board_id)
                keys.agents.add((command.board_id, command.agent_id))
                if command.task_id:
                    keys.tasks.add((command.board_id, command.task_id))
            case PutData():
                keys.boards.add(command.board_id)
            case DeleteData():
                keys.boards.add(command.board_id)
                keys.data.add((command.board_id, command.key))
            case AcquireLease():
                keys.leases.add(command.name)
            case RegisterChief() | ReportChiefState() | RecordChiefCycle():
                keys.boards.add(command.board_id)
                keys.data.add((command.board_id, chief_key(command.chief_id)))
    return keys


def holders_of(loaded: Loaded, tasks: set[ChildKey]) -> set[ChildKey]:
    """Agents that hold the loaded `tasks`: a move may release them."""
    return {
        (task.board_id, task.assigned_to)
        for key in tasks
        if (task := loaded.tasks.get(key)) is not None and task.assigned_to
    }


class Overlay:
    """The engine's Transaction over loaded rows, recording what it writes."""

    def __init__(self, loaded: Loaded, candidates: list[str]) -> None:
        self.loaded = loaded
        # Current state, as the batch has changed it.
        self._boards = dict(loaded.boards)
        self._heads = dict(loaded.heads)
        self._tasks = dict(loaded.tasks)
        self._agents = dict(loaded.agents)
        self._data = dict(loaded.data)
        self._requests = dict(loaded.requests)
        self._leases = dict(loaded.leases)
        # What to write.
        self.new_boards: list[BoardRecord] = []
        self.new_tasks: dict[ChildKey, TaskRecord] = {}
        self.changed_tasks: dict[ChildKey, TaskRecord] = {}
        self.events: list[EventRecord] = []
        self.new_agents: dict[ChildKey, AgentRecord] = {}
        self.changed_agents: dict[ChildKey, AgentRecord] = {}
        self.data_writes: dict[ChildKey, DataRecord | None] = {}
        self.new_requests: list[StoredRequest] = []
        self.lease_writes: dict[str, LeaseRecord] = {}
        # Expiries (before, limit) to run, in order; their counts are known once the
        # store has run them.
        self.expirations: list[tuple[int, int]] = []
        self.moved_heads: set[BoardKey] = set()
        # Generated task ids are tried in this order, so that a command run again after
        # NeedRows tries the same ones (those were loaded).
        self._candidates = candidates
        self._next_candidate = 0
        self._command_start = 0
        self._writes = 0

    # --- the store's control of a command's attempts ---------------------------------

    def begin(self) -> None:
        self._command_start = self._next_candidate
        self._writes = 0

    def retry(self) -> None:
        self._next_candidate = self._command_start

    def absorb(self, loaded: Loaded) -> None:
        """Rows loaded after NeedRows join the view (as stored: nothing in this batch has
        written them, or they would have been in the view already)."""
        for view, kept, source in (
            (self._boards, self.loaded.boards, loaded.boards),
            (self._tasks, self.loaded.tasks, loaded.tasks),
            (self._agents, self.loaded.agents, loaded.agents),
            (self._data, self.loaded.data, loaded.data),
            (self._requests, self.loaded.requests, loaded.requests),
            (self._leases, self.loaded.leases, loaded.leases),
            (self._heads, self.loaded.heads, loaded.heads),
        ):
            _merge(view, kept, source)

    def _missing(self, keys: Keys) -> NeedRows:
        if self._writes:
            raise RuntimeError("the engine read a row after writing: rerunning it is unsafe")
        return NeedRows(keys)

    # --- reads ----------------------------------------------------------------------

    def get_board(self, board_id: str) -> BoardRecord | None:
        if board_id not in self._boards:
            raise self._missing(Keys(boards={board_id}))
        return self._boards[board_id]

    def get_task(self, board_id: str, task_id: str) -> TaskRecord | None:
        key = (board_id, task_id)
        if key not in self._tasks:
            raise self._missing(Keys(tasks={key}))
        return self._tasks[key]

    def get_agent(self, board_id: str, agent_id: str) -> AgentRecord | None:
        key = (board_id, agent_id)
        if key not in self._agents:
            raise self._missing(Keys(agents={key}))
        return self._agents[key]

    def get_data(self, board_id: str, key: str) -> DataRecord | None:
        child = (board_id, key)
        if child not in self._data:
            raise self._missing(Keys(data={child}))
        return self._data[child]

    def get_request(self, request_id: str) -> StoredRequest | None:
        if request_id not in self._requests:
            raise self._missing(Keys(requests={request_id}))
        return self._requests[request_id]

    def learn_request(self, request_id: str, stored: StoredRequest | None) -> bool:
        """The stored record of a request id the batch took as never seen; True when
        there is one and the batch has not written a record of that id itself."""
        if stored is None or self._requests.get(request_id) is not None:
            return False
        self._requests[request_id] = self.loaded.requests[request_id] = stored
        return True

    def get_lease(self, name: str) -> LeaseRecord | None:
        if name not in self._leases:
            raise self._missing(Keys(leases={name}))
        return self._leases[name]

    def new_task_id(self, length: int) -> str:
        if self._next_candidate == len(self._candidates):
            self._candidates.append(ids.new_task_id(length))
        candidate = self._candidates[self._next_candidate]
        self._next_candidate += 1
        return candidate

    # --- writes ---------------------------------------------------------------------

    def insert_board(self, board: BoardRecord) -> None:
        self._writes += 1
        self._boards[board.board_id] = board
        self._heads[board.board_id] = (0, 0)
        self.new_boards.append(board)

    def insert_task(self, task: TaskRecord) -> None:
        self._writes += 1
        key = (task.board_id, task.task_id)
        self._tasks[key] = task
        self.new_tasks[key] = task

    def update_task(self, task: TaskRecord, previous: TaskRecord) -> None:
        self._writes += 1
        key = (task.board_id, task.task_id)
        self._tasks[key] = task
        if key in self.new_tasks:
            self.new_tasks[key] = task
        else:
            self.changed_tasks[key] = task

    def next_event(self, board_id: str, now: int) -> tuple[int, int]:
        self._writes += 1
        head, at = self._heads[board_id]
        slot = (head + 1, max(now, at))
        self._heads[board_id] = slot
        self.moved_heads.add(board_id)
        return slot

    def head(self, board_id: str) -> tuple[int, int]:
        return self._heads[board_id]

    @property
    def heads(self) -> Mapping[BoardKey, tuple[int, int]]:
        """Every loaded board's head as the batch leaves it."""
        return self._heads

    def append_event(self, event: EventRecord) -> None:
        self._writes += 1
        self.events.append(event)

    def put_agent(self, agent: AgentRecord, previous: AgentRecord | None) -> None:
        self._writes += 1
        key = (agent.board_id, agent.agent_id)
        self._agents[key] = agent
        if previous is None or key in self.new_agents:
            self.new_agents[key] = agent
        else:
            self.changed_agents[key] = agent

    def put_data(self, entry: DataRecord) -> None:
        self._writes += 1
        key = (entry.board_id, entry.key)
        self._data[key] = entry
        self.data_writes[key] = entry

    def delete_data(self, board_id: str, key: str) -> None:
        self._writes += 1
        self._data[(board_id, key)] = None
        self.data_writes[(board_id, key)] = None

    def put_request(self, request: StoredRequest) -> None:
        self._writes += 1
        self._requests[request.request_id] = request
        self.new_requests.append(request)

    def delete_requests_before(self, before: int, limit: int) -> int:
        # Run by the store when the batch is written: the count is not known before, and
        # the store replaces this command's result with the real one.
        self._writes += 1
        self.expirations.append((before, limit))
        return 0

    def put_lease(self, lease: LeaseRecord) -> None:
        self._writes += 1
        self._leases[lease.name] = lease
        self.lease_writes[lease.name] = lease


def _merge(view: dict[Any, Any], kept: dict[Any, Any], source: dict[Any, Any]) -> None:
    for key, value in source.items():
        view.setdefault(key, value)
        kept.setdefault(key, value)
