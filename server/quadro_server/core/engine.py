"""The engine: applies one command to the board inside a store transaction.

Every check runs before the first write, so a rejected command leaves the transaction
as it found it; the store still wraps each command in a savepoint, so that an unexpected
failure half-way cannot leak into the other commands of the batch.
"""

from __future__ import annotations

from quadro import limits, reasons
from quadro_server.core import chief_rules, codec, ids, names
from quadro_server.core.commands import (
    AcquireLease,
    ArchiveTask,
    Command,
    CreateBoard,
    DeleteData,
    ExpireRequests,
    HandOffTask,
    Heartbeat,
    LeaseKey,
    PostResult,
    PostTask,
    PutData,
    RecordChiefCycle,
    RegisterAgent,
    RegisterChief,
    ReportChiefState,
    TransitionTask,
)
from quadro_server.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RequestIdConflict,
    TransitionRejected,
)
from quadro_server.core.lifecycle import (
    IN_PROGRESS,
    INITIAL_STATUS,
    STALE,
    UNASSIGNED,
    Lifecycle,
)
from quadro_server.core.records import (
    AgentRecord,
    BoardRecord,
    DataRecord,
    EventRecord,
    LeaseRecord,
    TaskRecord,
    evolve,
)
from quadro_server.core.results import (
    AgentResult,
    BoardResult,
    DataResult,
    DeleteDataResult,
    ExpiredResult,
    HandOffResult,
    HeartbeatResult,
    LeaseResult,
    StoredRequest,
    TaskResult,
)
from quadro_server.core.taxonomy import EventType, event_type_for
from quadro_server.core.transaction import Applied, Transaction

# How many generated ids to try before growing the length (the namespace of 5 base36
# characters is 60 million; a collision streak this long means the board is huge).
_ID_ATTEMPTS = 16


class Engine:
    def apply(self, tx: Transaction, command: Command, now: int) -> Applied:
        """Apply a command at time `now`; raises a QuadroError, having written nothing,
        when the command is rejected."""
        if command.lease is not None:
            _check_lease(tx, command.lease, now)
        if command.request_id:
            stored = tx.get_request(command.request_key)
            fingerprint = command.fingerprint()
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise RequestIdConflict(command.request_id)
                return Applied(codec.loads(stored.result_json), (), replayed=True)
        applied = self._dispatch(tx, command, now)
        if command.request_id:
            tx.put_request(
                StoredRequest(command.request_key, fingerprint, codec.dumps(applied.result), now)
            )
        return applied

    def _dispatch(self, tx: Transaction, command: Command, now: int) -> Applied:
        match command:
            case CreateBoard():
                return self._create_board(tx, command, now)
            case PostTask():
                return self._post_task(tx, command, now)
            case TransitionTask():
                return self._transition(tx, command, now)
            case PostResult():
                return self._post_result(tx, command, now)
            case ArchiveTask():
                return self._archive(tx, command, now)
            case HandOffTask():
                return self._hand_off(tx, command, now)
            case RegisterAgent():
                return self._register_agent(tx, command, now)
            case Heartbeat():
                return self._heartbeat(tx, command, now)
            case PutData():
                return self._put_data(tx, command, now)
            case DeleteData():
                return self._delete_data(tx, command)
            case ExpireRequests():
                return Applied(
                    ExpiredResult(tx.delete_requests_before(command.before, command.limit)), ()
                )
            case AcquireLease():
                return self._acquire_lease(tx, command, now)
            case RegisterChief():
                return chief_rules.register_chief(tx, command, now)
            case ReportChiefState():
                return chief_rules.report_chief_state(tx, command, now)
            case RecordChiefCycle():
                return chief_rules.record_chief_cycle(tx, command, now)
        raise TypeError(f"unknown command {type(command).__name__}")

    # --- boards ---------------------------------------------------------------------

    def _create_board(self, tx: Transaction, c: CreateBoard, now: int) -> Applied:
        if tx.get_board(c.board_id) is not None:
            raise AlreadyExists(names.board_name(c.board_id), reason=reasons.BOARD_EXISTS)
        board = BoardRecord(
            board_id=c.board_id,
            display_name=c.display_name,
            profiles=c.profiles,
            task_type_rules=c.task_type_rules,
            default_profile=c.default_profile or "review_required",
            scope=names.scope_of(c.board_id),
            create_time=now,
        )
        tx.insert_board(board)
        return Applied(BoardResult(board), ())

    # --- tasks ----------------------------------------------------------------------

    def _post_task(self, tx: Transaction, c: PostTask, now: int) -> Applied:
        board = _board(tx, c.board_id)
        if c.task_id:
            if tx.get_task(c.board_id, c.task_id) is not None:
                raise AlreadyExists(
                    names.task_name(c.board_id, c.task_id), reason=reasons.TASK_EXISTS
                )
            task_id = c.task_id
        else:
            task_id = self._free_task_id(tx, c.board_id)
        name = names.task_name(c.board_id, task_id)
        origin = name
        if c.parent_task:
            parent_ref = names.parse_child_name(c.parent_task, "tasks")
            _check_lineage_scope(c.parent_task, c.board_id)
            parent = tx.get_task(parent_ref.board_id, parent_ref.child_id)
            if parent is None:
                raise NotFound(c.parent_task, reason=reasons.TASK_NOT_FOUND)
            origin = parent.origin_task
        profile = board.lifecycles().profile_name_for(c.task_type)
        sequence, at = tx.next_event(c.board_id, now)
        task = TaskRecord(
            board_id=c.board_id,
            task_id=task_id,
            task_type=c.task_type,
            label=c.label,
            priority=c.priority,
            status=INITIAL_STATUS,
            profile=profile,
            assigned_to="",
            output="",
            notes=c.notes,
            labels=dict(c.labels),
            context_snapshot_hash="",
            attempt=0,
            version=1,
            archived=False,
            heartbeat_time=None,
            create_time=now,
            update_time=now,
            archive_time=None,
            scope=board.scope,
            parent_task=c.parent_task,
            origin_task=origin,
            created_sequence=sequence,
        )
        tx.insert_task(task)
        event = _event(task, sequence, EventType.TASK_POSTED, "", "", c, at)
        tx.append_event(event)
        return Applied(TaskResult(task, event), (event,))

    def _free_task_id(self, tx: Transaction, board_id: str) -> str:
        for attempt in range(_ID_ATTEMPTS * 4):
            candidate = tx.new_task_id(ids.DEFAULT_LENGTH + attempt // _ID_ATTEMPTS)
            if tx.get_task(board_id, candidate) is None:
                return candidate
        raise FailedPrecondition(  # pragma: no cover - needs billions of tasks on a board
            "could not find a free task id", reason=reasons.TASK_EXISTS
        )

    def _transition(self, tx: Transaction, c: TransitionTask, now: int) -> Applied:
        board = _board(tx, c.board_id)
        task = _live_task(tx, c.board_id, c.task_id)
        _check_expectations(task, c.expected_status, c.expected_etag, c.attempt)
        if c.acting_agents and task.assigned_to not in c.acting_agents:
            raise _not_assignee(task, " or ".join(c.acting_agents))
        if c.if_quiet_for_us is not None:
            _check_quiet(task, c.if_quiet_for_us, now)
        lifecycle = board.lifecycles().profile(task.profile)
        return self._move(
            tx,
            task,
            lifecycle,
            c.to_status,
            c,
            now,
            assignee=c.assignee,
            output=c.output,
            note=c.note,
            context_hash=c.context_snapshot_hash,
        )

    def _post_result(self, tx: Transaction, c: PostResult, now: int) -> Applied:
        board = _board(tx, c.board_id)
        task = _live_task(tx, c.board_id, c.task_id)
        _check_expectations(task, "", "", c.attempt)
        if c.agent and c.agent != task.assigned_to:
            raise _not_assignee(task, c.agent)
        lifecycle = board.lifecycles().profile(task.profile)
        target = lifecycle.result_status(task.status)
        if target is None:
            raise FailedPrecondition(
                f"{task.name} is {task.status}; lifecycle {lifecycle.name!r} has no status a "
                f"result leads to from there (allowed: {', '.join(lifecycle.targets_from(task.status))})",
                reason=reasons.NO_RESULT_STATUS,
                resource=task.name,
                metadata={"current_status": task.status, "profile": lifecycle.name},
            )
        return self._move(
            tx,
            task,
            lifecycle,
            target,
            c,
            now,
            assignee="",
            output=c.output,
            note=c.note,
            context_hash="",
            seen_by=c.agent,
        )

    def _move(
        self,
        tx: Transaction,
        task: TaskRecord,
        lifecycle: Lifecycle,
        to_status: str,
        command: Command,
        now: int,
        *,
        assignee: str,
        output: str | None,
        note: str,
        context_hash: str,
        seen_by: str = "",
    ) -> Applied:
        """The one path every status change takes: validate, update agents, write the
        task and exactly one event. `seen_by` is an agent to mark as seen now."""
        if to_status not in lifecycle.statuses:
            raise InvalidArgument.single(
                "to_status",
                f"{to_status!r} is not a status of lifecycle {lifecycle.name!r} "
                f"(its statuses: {', '.join(sorted(lifecycle.statuses))})",
                reason=reasons.UNKNOWN_STATUS,
            )
        if not lifecycle.allows(task.status, to_status):
            raise TransitionRejected(
                task.name,
                lifecycle.name,
                task.status,
                to_status,
                lifecycle.targets_from(task.status),
            )
        if to_status == UNASSIGNED:
            if assignee:
                raise InvalidArgument.single(
                    "assignee", "moving to UNASSIGNED clears the assignment; leave assignee empty"
                )
            new_assignee = ""
        else:
            new_assignee = assignee or task.assigned_to
        if to_status == IN_PROGRESS and not new_assignee:
            raise InvalidArgument.single("assignee", "an assignee is required to enter IN_PROGRESS")
        if note and not _room_for_note(task.notes, note):
            raise FailedPrecondition(
                f"{task.name} holds {len(task.notes)} notes; another would pass the limit of "
                f"{limits.NOTES_PER_TASK_MAX} notes or {limits.NOTES_MAX_BYTES} bytes of notes",
                reason=reasons.TOO_MANY_NOTES,
                resource=task.name,
            )

        # IN_PROGRESS is never both left and entered by one move (no profile has a
        # self-loop), so the agent losing a slot and the one gaining it are distinct.
        leaving = task.status == IN_PROGRESS and bool(task.assigned_to)
        entering = to_status == IN_PROGRESS
        agents = _AgentChanges(tx, task.board_id)
        if assignee:
            agents.get(assignee)
        if entering:
            agent = agents.get(new_assignee)
            if agent.active_tasks >= agent.concurrency:
                raise FailedPrecondition(
                    f"agent {new_assignee!r} already holds {agent.active_tasks} task(s) in "
                    f"IN_PROGRESS, its concurrency",
                    reason=reasons.AGENT_AT_CAPACITY,
                    resource=agent.name,
                    metadata={"agent": new_assignee, "concurrency": str(agent.concurrency)},
                )

        # Every check passed: write.
        if leaving:
            agents.change(task.assigned_to, active=-1, stale=now if to_status == STALE else None)
        if entering:
            agents.change(new_assignee, active=+1)
        if seen_by:
            agents.change(seen_by, seen=now)
        agents.write()

        updated = evolve(
            task,
            status=to_status,
            assigned_to=new_assignee,
            output=task.output if output is None else output,
            notes=(*task.notes, note) if note else task.notes,
            context_snapshot_hash=context_hash or task.context_snapshot_hash,
            attempt=task.attempt + 1 if entering else task.attempt,
            version=task.version + 1,
            update_time=now,
        )
        tx.update_task(updated, task)
        sequence, at = tx.next_event(task.board_id, now)
        event = _event(
            updated,
            sequence,
            event_type_for(task.status, to_status),
            task.status,
            new_assignee or task.assigned_to,
            command,
            at,
            note=note,
        )
        tx.append_event(event)
        return Applied(TaskResult(updated, event), (event,))

    def _archive(self, tx: Transaction, c: ArchiveTask, now: int) -> Applied:
        board = _board(tx, c.board_id)
        task = _live_task(tx, c.board_id, c.task_id)
        _check_expectations(task, "", c.expected_etag, 0)
        _require_terminal(task, board.lifecycles().profile(task.profile), "archived")
        archived = evolve(
            task, archived=True, archive_time=now, version=task.version + 1, update_time=now
        )
        tx.update_task(archived, task)
        return Applied(TaskResult(archived, None), ())

    def _hand_off(self, tx: Transaction, c: HandOffTask, now: int) -> Applied:
        """The successor and the record of it, in one transaction: a hand-off is never
        half done, and the parent's `successor_task` makes it happen once."""
        board = _board(tx, c.board_id)
        task = tx.get_task(c.board_id, c.task_id)
        if task is None:
            raise NotFound(names.task_name(c.board_id, c.task_id), reason=reasons.TASK_NOT_FOUND)
        lifecycle = board.lifecycles().profile(task.profile)
        if c.to_status:
            task = _live_task(tx, c.board_id, c.task_id)
            _check_expectations(task, c.expected_status, "", 0)
            if not lifecycle.is_terminal(c.to_status):
                raise InvalidArgument.single(
                    "to_status",
                    f"{c.to_status!r} is not a terminal status of lifecycle "
                    f"{lifecycle.name!r} ({', '.join(sorted(lifecycle.terminals))})",
                    reason=reasons.NOT_TERMINAL,
                )
        else:
            _require_terminal(task, lifecycle, "handed off")
        if task.successor_task:
            raise FailedPrecondition(
                f"{task.name} was already handed off, to {task.successor_task}",
                reason=reasons.ALREADY_HANDED_OFF,
                resource=task.name,
                metadata={"successor_task": task.successor_task},
            )
        # Everything that can refuse the hand-off is checked before the first write (the
        # engine's rule: a rejected command needs no undo): the successor's board and id.
        _board(tx, c.successor_board_id)
        _check_lineage_scope(task.name, c.successor_board_id)
        successor_id = c.successor_id
        if successor_id:
            if tx.get_task(c.successor_board_id, successor_id) is not None:
                raise AlreadyExists(
                    names.task_name(c.successor_board_id, successor_id), reason=reasons.TASK_EXISTS
                )
        else:
            successor_id = self._free_task_id(tx, c.successor_board_id)
        moved: Applied | None = None
        if c.to_status:
            moved = self._move(
                tx, task, lifecycle, c.to_status, c, now,
                assignee="", output=None, note="", context_hash="",
            )  # fmt: skip
            assert isinstance(moved.result, TaskResult)
            task = moved.result.task
        successor = PostTask(
            board_id=c.successor_board_id,
            task_type=c.task_type,
            label=c.label,
            task_id=successor_id,
            priority=c.priority,
            notes=c.notes,
            labels=c.labels,
            parent_task=task.name,
            principal=c.principal,
        )
        posted = self._post_task(tx, successor, now).result
        assert isinstance(posted, TaskResult)
        assert posted.event is not None
        updated = evolve(
            task, successor_task=posted.task.name, version=task.version + 1, update_time=now
        )
        tx.update_task(updated, task)
        events = (*(moved.events if moved else ()), posted.event)
        first = moved.events[0] if moved else None
        return Applied(HandOffResult(updated, posted.task, posted.event, first), events)

    # --- agents ---------------------------------------------------------------------

    def _register_agent(self, tx: Transaction, c: RegisterAgent, now: int) -> Applied:
        board = _board(tx, c.board_id)
        existing = tx.get_agent(c.board_id, c.agent_id)
        agent = AgentRecord(
            board_id=c.board_id,
            agent_id=c.agent_id,
            display_name=c.display_name,
            capabilities=c.capabilities,
            review_capabilities=c.review_capabilities,
            version=c.version,
            concurrency=c.concurrency,
            active_tasks=existing.active_tasks if existing else 0,
            register_time=existing.register_time if existing else now,
            last_seen_time=now,
            scope=board.scope,
        )
        tx.put_agent(agent, existing)
        return Applied(AgentResult(agent), ())

    def _heartbeat(self, tx: Transaction, c: Heartbeat, now: int) -> Applied:
        board = _board(tx, c.board_id)
        agent = _agent(tx, c.board_id, c.agent_id)
        task: TaskRecord | None = None
        if c.task_id:
            task = _live_task(tx, c.board_id, c.task_id)
            if task.assigned_to != c.agent_id:
                raise _not_assignee(task, c.agent_id)
            _check_expectations(task, "", "", c.attempt)
            _check_attempt_open(task, board.lifecycles().profile(task.profile))
        seen = evolve(agent, last_seen_time=now)
        tx.put_agent(seen, agent)
        if task is None:
            return Applied(HeartbeatResult(seen, None, None), ())
        # A heartbeat is liveness, not a change of state: it leaves the etag alone so that
        # a Chief's compare-and-set is not defeated by a worker saying it is alive.
        beating = evolve(task, heartbeat_time=now)
        tx.update_task(beating, task)
        task = beating
        sequence, at = tx.next_event(c.board_id, now)
        event = _event(task, sequence, EventType.TASK_HEARTBEAT, task.status, c.agent_id, c, at)
        tx.append_event(event)
        return Applied(HeartbeatResult(seen, task, event), (event,))

    # --- leases ---------------------------------------------------------------------

    def _acquire_lease(self, tx: Transaction, c: AcquireLease, now: int) -> Applied:
        """Take or renew a lease. A holder renewing keeps its epoch; a new holder, once
        the previous lease has expired, gets the next epoch, which fences the previous
        holder's later writes off."""
        current = tx.get_lease(c.name)
        if current is not None and current.holder != c.holder and current.expires_at > now:
            return Applied(LeaseResult(None, current.holder), ())
        if current is not None and current.holder == c.holder and current.expires_at > now:
            epoch = current.epoch
        else:
            epoch = current.epoch + 1 if current is not None else 1
        lease = LeaseRecord(c.name, c.holder, epoch, now + c.ttl_us)
        tx.put_lease(lease)
        return Applied(LeaseResult(lease, c.holder), ())

    # --- data -----------------------------------------------------------------------

    def _put_data(self, tx: Transaction, c: PutData, now: int) -> Applied:
        _board(tx, c.board_id)
        entry = DataRecord(c.board_id, c.key, c.value_json, now)
        tx.put_data(entry)
        return Applied(DataResult(entry), ())

    def _delete_data(self, tx: Transaction, c: DeleteData) -> Applied:
        _board(tx, c.board_id)
        existed = tx.get_data(c.board_id, c.key) is not None
        if existed:
            tx.delete_data(c.board_id, c.key)
        return Applied(DeleteDataResult(existed), ())


# --- helpers --------------------------------------------------------------------------


def _board(tx: Transaction, board_id: str) -> BoardRecord:
    board = tx.get_board(board_id)
    if board is None:
        raise NotFound(names.board_name(board_id), reason=reasons.BOARD_NOT_FOUND)
    return board


def _live_task(tx: Transaction, board_id: str, task_id: str) -> TaskRecord:
    task = tx.get_task(board_id, task_id)
    if task is None:
        raise NotFound(names.task_name(board_id, task_id), reason=reasons.TASK_NOT_FOUND)
    if task.archived:
        raise FailedPrecondition(
            f"{task.name} is archived and can no longer change",
            reason=reasons.TASK_ARCHIVED,
            resource=task.name,
        )
    return task


def _check_lineage_scope(parent_task: str, board_id: str) -> None:
    parent_board = names.parse_child_name(parent_task, "tasks").board_id
    if names.scope_of(parent_board) != names.scope_of(board_id):
        raise FailedPrecondition(
            f"{parent_task} is in another scope than {names.board_name(board_id)}: a "
            "lineage stays within one tenant",
            reason=reasons.CROSS_SCOPE_LINEAGE,
            resource=parent_task,
        )


def _require_terminal(task: TaskRecord, lifecycle: Lifecycle, to_be: str) -> None:
    if not lifecycle.is_terminal(task.status):
        raise FailedPrecondition(
            f"{task.name} is {task.status}, which is not terminal in lifecycle "
            f"{lifecycle.name!r}; only terminal tasks ({', '.join(sorted(lifecycle.terminals))}) "
            f"can be {to_be}",
            reason=reasons.NOT_TERMINAL,
            resource=task.name,
            metadata={"current_status": task.status, "profile": lifecycle.name},
        )


def _agent(tx: Transaction, board_id: str, agent_id: str) -> AgentRecord:
    agent = tx.get_agent(board_id, agent_id)
    if agent is None:
        raise NotFound(names.agent_name(board_id, agent_id), reason=reasons.AGENT_NOT_FOUND)
    return agent


def notes_size(notes: tuple[str, ...] | list[str]) -> int:
    """All notes together, in UTF-8 bytes."""
    return sum(len(n.encode()) for n in notes)


def _room_for_note(notes: tuple[str, ...], note: str) -> bool:
    return (
        len(notes) < limits.NOTES_PER_TASK_MAX
        and notes_size(notes) + len(note.encode()) <= limits.NOTES_MAX_BYTES
    )


class _AgentChanges:
    """The agents one move touches: each read once, each written once."""

    def __init__(self, tx: Transaction, board_id: str) -> None:
        self._tx = tx
        self._board_id = board_id
        self._agents: dict[str, AgentRecord] = {}
        self._read: dict[str, AgentRecord] = {}
        self._changed: set[str] = set()

    def get(self, agent_id: str) -> AgentRecord:
        agent = self._agents.get(agent_id)
        if agent is None:
            agent = _agent(self._tx, self._board_id, agent_id)
            self._agents[agent_id] = self._read[agent_id] = agent
        return agent

    def change(
        self, agent_id: str, *, active: int = 0, seen: int | None = None, stale: int | None = None
    ) -> None:
        try:
            agent = self.get(agent_id)
        except NotFound:
            return  # an agent that no longer exists has nothing to update
        self._agents[agent_id] = evolve(
            agent,
            active_tasks=max(0, agent.active_tasks + active),
            last_seen_time=agent.last_seen_time if seen is None else seen,
            stale_time=agent.stale_time if stale is None else stale,
        )
        self._changed.add(agent_id)

    def write(self) -> None:
        for agent_id in self._changed:
            self._tx.put_agent(self._agents[agent_id], self._read[agent_id])


def _check_lease(tx: Transaction, lease: LeaseKey, now: int) -> None:
    current = tx.get_lease(lease.name)
    if (
        current is None
        or current.holder != lease.holder
        or current.epoch != lease.epoch
        or current.expires_at <= now
    ):
        raise FailedPrecondition(
            f"{lease.holder} no longer holds the lease {lease.name!r} (epoch {lease.epoch})",
            reason=reasons.LEASE_LOST,
            metadata={"lease": lease.name, "epoch": str(lease.epoch)},
        )


def _check_expectations(task: TaskRecord, status: str, etag: str, attempt: int) -> None:
    """Compare-and-set and fencing checks, in that order."""
    if status and task.status != status:
        raise FailedPrecondition(
            f"{task.name} is {task.status}, not {status}",
            reason=reasons.STATUS_MISMATCH,
            resource=task.name,
            metadata={"current_status": task.status, "expected_status": status},
        )
    if etag and task.etag != etag:
        raise FailedPrecondition(
            f"{task.name} has changed (etag {task.etag}, expected {etag})",
            reason=reasons.ETAG_MISMATCH,
            resource=task.name,
            metadata={"current_etag": task.etag, "expected_etag": etag},
        )
    if attempt and task.attempt != attempt:
        raise FailedPrecondition(
            f"attempt {attempt} of {task.name} has been superseded (current attempt "
            f"{task.attempt})",
            reason=reasons.STALE_ATTEMPT,
            resource=task.name,
            metadata={"current_attempt": str(task.attempt), "attempt": str(attempt)},
        )


def _check_quiet(task: TaskRecord, quiet_for_us: int, now: int) -> None:
    """The liveness check: a task heard of (heartbeat or change) within the period is
    alive, and is not to be declared stale."""
    heard = max(task.update_time, task.heartbeat_time or 0)
    if now - heard < quiet_for_us:
        raise FailedPrecondition(
            f"{task.name} was heard of {(now - heard) / 1e6:.3f}s ago, less than the "
            f"{quiet_for_us / 1e6:.3f}s asked for",
            reason=reasons.TASK_ALIVE,
            resource=task.name,
            metadata={"quiet_for_us": str(now - heard)},
        )


def _check_attempt_open(task: TaskRecord, lifecycle: Lifecycle) -> None:
    """A task declared STALE, or finished, keeps its assignee and attempt on record, but
    the attempt is over: a heartbeat for it (a worker that stalled and woke up) must not
    make the task look alive."""
    if task.status == STALE or task.status in lifecycle.terminals:
        raise FailedPrecondition(
            f"attempt {task.attempt} of {task.name} is over: the task is {task.status}",
            reason=reasons.STALE_ATTEMPT,
            resource=task.name,
            metadata={"current_status": task.status, "current_attempt": str(task.attempt)},
        )


def _not_assignee(task: TaskRecord, agent_id: str) -> FailedPrecondition:
    holder = task.assigned_to or "nobody"
    return FailedPrecondition(
        f"{task.name} is assigned to {holder}, not {agent_id}",
        reason=reasons.NOT_ASSIGNEE,
        resource=task.name,
        metadata={"assigned_to": task.assigned_to, "agent": agent_id},
    )


def _event(
    task: TaskRecord,
    sequence: int,
    event_type: EventType,
    from_status: str,
    agent: str,
    command: Command,
    at: int,
    *,
    note: str = "",
) -> EventRecord:
    payload: dict[str, str | int] = {"profile": task.profile}
    if event_type is EventType.TASK_POSTED:
        # What a follower needs to order the backlog without reading the task.
        payload["priority"] = task.priority
    if note:
        payload["note"] = note
    return EventRecord(
        board_id=task.board_id,
        sequence=sequence,
        task_id=task.task_id,
        task_type=task.task_type,
        type=event_type.value,
        agent=agent,
        from_status=from_status,
        to_status=task.status,
        payload=payload,
        request_id=command.request_id,
        principal=command.principal,
        create_time=at,
        attempt=task.attempt,
        scope=task.scope,
        etag=task.etag,
    )
