"""TaskService: post, read, list, move, complete, archive and hand off tasks; lineage."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

import grpc

from quadro import reasons
from quadro.v1 import task_pb2, task_pb2_grpc
from quadro_server.api import batches, convert, pagination, requests
from quadro_server.api.gate import CALLER, own_agent
from quadro_server.api.lineage import read_lineage
from quadro_server.api.services.context import ServiceContext, result_of
from quadro_server.core import names
from quadro_server.core.commands import Command
from quadro_server.core.errors import InvalidArgument, NotFound
from quadro_server.core.records import EventRecord, TaskRecord
from quadro_server.core.results import HandOffResult, TaskResult
from quadro_server.core.transaction import Applied

Context = grpc.aio.ServicerContext[object, object]


class TaskService(task_pb2_grpc.TaskServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def _require_task(self, name: str) -> TaskRecord:
        """The task named in a request's `name`, archived or not; else NOT_FOUND."""
        ref = requests.task_name("name", name)
        task = await self._ctx.store.get_task(ref.board_id, ref.child_id)
        if task is None:
            raise NotFound(
                names.task_name(ref.board_id, ref.child_id), reason=reasons.TASK_NOT_FOUND
            )
        return task

    async def PostTask(
        self, request: task_pb2.PostTaskRequest, context: Context
    ) -> task_pb2.PostTaskResponse:
        command = requests.post_task(request, self._ctx.principal(context))
        return _answer(await self._ctx.store.execute(command), task_pb2.PostTaskResponse)

    async def GetTask(
        self, request: task_pb2.GetTaskRequest, context: Context
    ) -> task_pb2.GetTaskResponse:
        task = await self._require_task(request.name)
        return task_pb2.GetTaskResponse(task=convert.task(task))

    async def ListTasks(
        self, request: task_pb2.ListTasksRequest, context: Context
    ) -> task_pb2.ListTasksResponse:
        query, boards = requests.list_tasks(request)
        for board_id in boards:
            board = await self._ctx.require_board(board_id)
            requests.check_known_statuses(board, "statuses", query.statuses)
        if not request.boards:
            wanted = dataclasses.replace(query, limit=query.limit + 1)
            position: Callable[[TaskRecord], object] = _posted_position
            if query.dispatch_order:
                resume = pagination.priority_position(request, request.page_token)
                if resume is not None:
                    wanted = dataclasses.replace(
                        wanted, after_priority=resume[0], after_sequence=resume[1]
                    )
                position = _dispatch_position
            else:
                resume_after = pagination.int_position(request, request.page_token)
                wanted = dataclasses.replace(wanted, after_sequence=resume_after)
            found = await self._ctx.store.list_tasks(wanted)
            tasks, token = pagination.page(request, found, query.limit, position, convert.task)
            return task_pb2.ListTasksResponse(tasks=tasks, next_page_token=token)
        # Several boards: board by board; the position is (board's index, sequence).
        start, after = pagination.int_pair_position(request, request.page_token) or (0, 0)
        listed: list[tuple[int, TaskRecord]] = []
        for index in range(min(start, len(boards)), len(boards)):
            wanted = dataclasses.replace(
                query,
                board_id=boards[index],
                limit=query.limit + 1 - len(listed),
                after_sequence=after if index == start else 0,
            )
            listed.extend((index, t) for t in await self._ctx.store.list_tasks(wanted))
            if len(listed) > query.limit:
                break
        tasks, token = pagination.page(
            request,
            listed,
            query.limit,
            lambda item: [item[0], item[1].created_sequence],
            lambda item: convert.task(item[1]),
        )
        return task_pb2.ListTasksResponse(tasks=tasks, next_page_token=token)

    async def TransitionTask(
        self, request: task_pb2.TransitionTaskRequest, context: Context
    ) -> task_pb2.TransitionTaskResponse:
        command = _transition_command(request, self._ctx.principal(context))
        return _answer(await self._ctx.store.execute(command), task_pb2.TransitionTaskResponse)

    async def PostResult(
        self, request: task_pb2.PostResultRequest, context: Context
    ) -> task_pb2.PostResultResponse:
        command = _result_command(request, self._ctx.principal(context))
        return _answer(await self._ctx.store.execute(command), task_pb2.PostResultResponse)

    async def ArchiveTask(
        self, request: task_pb2.ArchiveTaskRequest, context: Context
    ) -> task_pb2.ArchiveTaskResponse:
        command = requests.archive_task(request, self._ctx.principal(context))
        result = result_of(await self._ctx.store.execute(command), TaskResult)
        return task_pb2.ArchiveTaskResponse(task=convert.task(result.task))

    async def HandOffTask(
        self, request: task_pb2.HandOffTaskRequest, context: Context
    ) -> task_pb2.HandOffTaskResponse:
        command = requests.hand_off_task(request, self._ctx.principal(context))
        result = result_of(await self._ctx.store.execute(command), HandOffResult)
        response = task_pb2.HandOffTaskResponse(
            task=convert.task(result.task),
            successor=convert.task(result.successor),
            event=convert.event(result.event),
        )
        if result.transition_event is not None:
            response.transition_event.CopyFrom(convert.event(result.transition_event))
        return response

    async def GetLineage(
        self, request: task_pb2.GetLineageRequest, context: Context
    ) -> task_pb2.GetLineageResponse:
        task = await self._require_task(request.name)
        lineage = await read_lineage(self._ctx.store, task)
        return task_pb2.GetLineageResponse(
            task=convert.lineage_hop(lineage.task.task, lineage.task.depth),
            ancestors=[convert.lineage_hop(h.task, h.depth) for h in lineage.ancestors],
            descendants=[convert.lineage_hop(h.task, h.depth) for h in lineage.descendants],
            truncated=lineage.truncated,
        )

    async def BatchPostTasks(
        self, request: task_pb2.BatchPostTasksRequest, context: Context
    ) -> task_pb2.BatchPostTasksResponse:
        principal = self._ctx.principal(context)
        answer = _answer_in(request.view)
        response = task_pb2.BatchPostTasksResponse()
        await batches.run(
            self._ctx.store,
            request.requests,
            lambda item: requests.post_task(item, principal),
            response.results,
            answer,
        )
        return response

    async def BatchTransitionTasks(
        self, request: task_pb2.BatchTransitionTasksRequest, context: Context
    ) -> task_pb2.BatchTransitionTasksResponse:
        principal = self._ctx.principal(context)
        answer = _answer_in(request.view)
        response = task_pb2.BatchTransitionTasksResponse()
        await batches.run(
            self._ctx.store,
            request.requests,
            lambda item: _transition_command(item, principal),
            response.results,
            answer,
        )
        return response

    async def BatchPostResults(
        self, request: task_pb2.BatchPostResultsRequest, context: Context
    ) -> task_pb2.BatchPostResultsResponse:
        principal = self._ctx.principal(context)
        answer = _answer_in(request.view)
        response = task_pb2.BatchPostResultsResponse()
        await batches.run(
            self._ctx.store,
            request.requests,
            lambda item: _result_command(item, principal),
            response.results,
            answer,
        )
        return response


def _posted_position(task: TaskRecord) -> int:
    return task.created_sequence


def _dispatch_position(task: TaskRecord) -> list[int]:
    return [task.priority, task.created_sequence]


def _transition_command(request: task_pb2.TransitionTaskRequest, principal: str) -> Command:
    command = requests.transition_task(request, principal)
    caller = CALLER.get()
    if caller.only_own_work():
        if command.assignee:
            own_agent(caller, command.assignee)  # may not give work to another
        command = dataclasses.replace(command, acting_agents=tuple(sorted(caller.agents)))
    return command


def _result_command(request: task_pb2.PostResultRequest, principal: str) -> Command:
    command = requests.post_result(request, principal)
    agent = own_agent(CALLER.get(), command.agent)
    return command if agent == command.agent else dataclasses.replace(command, agent=agent)


# The answers of the calls that move a task: the task after it, and the event written.
Answer = TypeVar(
    "Answer",
    task_pb2.PostTaskResponse,
    task_pb2.TransitionTaskResponse,
    task_pb2.PostResultResponse,
)


def _answer(applied: Applied, kind: type[Answer]) -> Answer:
    response = kind()
    _full(applied, response)
    return response


def _full(applied: Applied, response: Answer) -> None:
    result = result_of(applied, TaskResult)
    response.task.CopyFrom(convert.task(result.task))
    response.event.CopyFrom(convert.event(_written(result)))


def _event_only(applied: Applied, response: Answer) -> None:
    response.event.CopyFrom(convert.event(_written(result_of(applied, TaskResult))))


def _answer_in(view: int) -> Callable[[Applied, Answer], None]:
    """How a batch call answers each applied item, in the view it asked for (checked
    before anything is applied)."""
    if view in (task_pb2.BATCH_VIEW_UNSPECIFIED, task_pb2.BATCH_VIEW_FULL):
        return _full
    if view == task_pb2.BATCH_VIEW_EVENT:
        return _event_only
    raise InvalidArgument.single("view", f"unknown batch view {view}")


def _written(result: TaskResult) -> EventRecord:
    assert result.event is not None
    return result.event
