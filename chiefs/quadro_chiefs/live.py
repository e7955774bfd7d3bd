"""A Chief's view of its scope kept from the events it follows, between reads.

A cycle that reads its scope lists the backlog and the agents through the server, and
that read sits on the path from a task's posting to its assignment. The events a Chief
follows say as much about the tasks the built-in policy looks at: a move's event carries
the task's new status, assignee, attempt and etag, and a posted event its lifecycle and
priority. So between reads a Chief keeps its view from them: a read of the whole scope
(the tasks in progress included, which say how busy each agent is), then every event
after it, and the answers of its own moves as soon as they come back.

The view serves only while it can be trusted; otherwise the next cycle reads again:

- the read that started it held the whole backlog (not cut at the waiting limit: the
  tasks behind the cut would never be seen);
- the stream has delivered every event up to the board's head as it was after that read
  (events that the read already reflected may come after it, and replaying them takes
  the view back for a moment; once the stream is past that head it is current again);
- nothing has shown it wrong since: a lost race or an error invalidates it.

A view older than `max_age` is `due`: the Chief reads the board again in the background
(agents join, leave and go quiet without an event) while the view goes on serving.

The Chief's own moves are taken in as done as soon as they go out (`expect`), so that
the next cycle can decide while they are out; their answers then set what they did.

Events that arrive while a read is out are kept, and applied again over the read when it
comes back: the read may or may not reflect them, and applying an event the read
already holds is harmless once the later ones follow.

Each task remembers the sequence of the last change applied to it, so that the echo of
a change already taken from an answer is not applied twice, nor an older event over a
newer one. An event of a task the view does not hold is ignored unless it posts the task:
a live task of the scope is either in the read or posted after it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from quadro import names
from quadro.v1 import agent_pb2, board_pb2, event_pb2, task_pb2
from quadro_chiefs.actions import Assign, Transition
from quadro_chiefs.policies import dispatch_order
from quadro_chiefs.snapshot import FOR_AN_AGENT, IN_PROGRESS, UNASSIGNED, BoardView

_POSTED = event_pb2.EVENT_TYPE_TASK_POSTED


@dataclass
class _Board:
    board: board_pb2.Board
    tasks: dict[str, task_pb2.Task]
    agents: list[agent_pb2.Agent]
    # Per agent, the tasks it held outside the view when it was read (another Chief's
    # task types): its count is the view's tasks in progress plus these.
    elsewhere: dict[str, int]
    # The board's head after the read: the view is current once the stream is past it.
    head: int
    read_at: float
    # Per task, the sequence of the last change applied.
    applied: dict[str, int] = field(default_factory=dict)
    # Per lifecycle profile, its terminal statuses (a set: asked on every event).
    terminals: dict[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.terminals = {
            name: frozenset(profile.terminal_statuses)
            for name, profile in self.board.profiles.items()
        }


class LiveView:
    """Every board of one Chief's scope, as the last read and the events since left it."""

    def __init__(self, max_age: float) -> None:
        if not max_age > 0:
            raise ValueError(f"a live view needs a positive max_age, not {max_age!r}")
        self.max_age = max_age
        self._boards: dict[str, _Board] = {}
        # Per board being read, the events that arrived since the read went out.
        self._during_read: dict[str, list[event_pb2.Event]] = {}
        # One's own moves out, by task, until their cycle has their answers.
        self._out: dict[str, Assign | Transition] = {}

    def reading(self, board_id: str) -> None:
        """A read of the board goes out: keep the events that arrive until `reset`."""
        self._during_read[board_id] = []

    def reset(self, view: BoardView, head: int) -> None:
        """Start over from a read of the board (`view`, its tasks in progress included),
        after which the board's head was `head`, and the events that arrived since the
        read went out. A read cut at the waiting limit starts nothing: the board is read
        again on every cycle."""
        board_id = view.id
        arrived = self._during_read.pop(board_id, [])
        if view.truncated or not view.in_progress_read:
            self._boards.pop(board_id, None)
            return
        tasks = {t.name: t for t in view.tasks}
        held = _held(tasks.values())
        self._boards[board_id] = _Board(
            board=view.board,
            tasks=tasks,
            agents=list(view.agents),
            elsewhere={a.name: max(0, a.active_tasks - held[_agent_id(a)]) for a in view.agents},
            head=head,
            read_at=time.monotonic(),
        )
        for event in arrived:
            self.apply(event)
        for move in [m for m in self._out.values() if names.board_id(m.task) == board_id]:
            self._take_in(move)  # still out: the read may not show it

    def invalidate(self) -> None:
        """Something showed the view wrong: every board is read again."""
        self._boards.clear()
        self._during_read.clear()
        self._out.clear()

    def apply(self, event: event_pb2.Event) -> None:
        """Take one event in: from the stream, or from the answer of one's own move."""
        board_id = names.board_id(event.board)
        arriving = self._during_read.get(board_id)
        if arriving is not None:
            arriving.append(event)
        board = self._boards.get(board_id)
        if board is None:
            return
        if not event.etag:
            # A server that does not say etags: a view without them cannot act.
            self._boards.pop(board_id, None)
            return
        name = event.task
        task = board.tasks.get(name)
        if task is None:
            if event.type != _POSTED or "priority" not in event.payload:
                return  # finished before the read, or never in the scope
            task = board.tasks[name] = _posted(event)
        elif event.sequence <= board.applied.get(name, 0):
            return  # already applied (the answer came before its echo)
        if _moved(board, task, event.to_status, event.agent):
            board.applied[name] = event.sequence
            task.attempt = event.attempt
            task.etag = event.etag
            task.update_time.CopyFrom(event.create_time)

    def expect(self, move: Assign | Transition) -> None:
        """Take in one of the Chief's own moves as done while it is out, so that the
        next cycle can decide before it comes back: its answer (or echo) sets what it
        did, and a move that failed invalidates the view."""
        self._out[move.task] = move
        self._take_in(move)

    def settle(self, moves: Iterable[object]) -> None:
        """These moves came back (their answers are in, or the view was invalidated)."""
        for move in moves:
            if isinstance(move, (Assign, Transition)):
                self._out.pop(move.task, None)

    def _take_in(self, move: Assign | Transition) -> None:
        board = self._boards.get(names.board_id(move.task))
        task = board.tasks.get(move.task) if board is not None else None
        if board is not None and task is not None:
            if isinstance(move, Assign):
                _moved(board, task, IN_PROGRESS, move.agent)
            else:
                _moved(board, task, move.to_status, task.assigned_to)

    def due(self, board_id: str) -> bool:
        """Whether the board's view is older than `max_age`: time to read it again."""
        board = self._boards.get(board_id)
        return board is not None and time.monotonic() - board.read_at > self.max_age

    def snapshot(self, board_id: str, position: int, in_progress: bool) -> BoardView | None:
        """The board as the view has it, if it can be trusted with the stream at
        `position`; its tasks in progress only if `in_progress`, and its agents' counts
        from its tasks. None: read the board."""
        board = self._boards.get(board_id)
        if board is None:
            return None
        if position < board.head:
            return None
        held = _held(board.tasks.values())
        agents = []
        for agent in board.agents:
            counted = agent_pb2.Agent()
            counted.CopyFrom(agent)
            counted.active_tasks = held[_agent_id(agent)] + board.elsewhere.get(agent.name, 0)
            agents.append(counted)
        waiting = sorted(
            (t for t in board.tasks.values() if t.status in FOR_AN_AGENT), key=dispatch_order
        )
        others = [
            t
            for t in board.tasks.values()
            if t.status not in FOR_AN_AGENT and (in_progress or t.status != IN_PROGRESS)
        ]
        return BoardView(board.board, [*others, *waiting], agents, False, in_progress)


def _moved(board: _Board, task: task_pb2.Task, to_status: str, agent: str) -> bool:
    """Move the view's task to `to_status` with `agent` its assignee (a move to
    UNASSIGNED clears it); a task that reached a terminal status leaves the view. Whether
    it is still in the view."""
    if to_status in board.terminals.get(task.profile, ()):
        del board.tasks[task.name]
        board.applied.pop(task.name, None)
        return False
    task.status = to_status
    task.assigned_to = "" if to_status == UNASSIGNED else agent
    return True


def _posted(event: event_pb2.Event) -> task_pb2.Task:
    task = task_pb2.Task(
        name=event.task,
        task_type=event.task_type,
        profile=event.payload.fields["profile"].string_value,
        priority=round(event.payload.fields["priority"].number_value),
        scope=event.scope,
    )
    task.create_time.CopyFrom(event.create_time)
    return task


def _held(tasks: Iterable[task_pb2.Task]) -> Counter[str]:
    """Tasks in progress per assignee (agent id)."""
    return Counter(t.assigned_to for t in tasks if t.status == IN_PROGRESS)


def _agent_id(agent: agent_pb2.Agent) -> str:
    return agent.name.rsplit("/", 1)[-1]
