"""TaskService: post, read, list, move, complete and archive tasks."""

from __future__ import annotations

import dataclasses

import grpc

from quadro import reasons
from quadro.v1 import task_pb2, task_pb2_grpc
from quadro_server.api import convert, pagination, requests
from quadro_server.api.services.context import ServiceContext, result_of
from quadro_server.core import names
from quadro_server.core.errors import NotFound
from quadro_server.core.results import TaskResult

Context = grpc.aio.ServicerContext[object, object]


class TaskService(task_pb2_grpc.TaskServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def PostTask(
        self, request: task_pb2.PostTaskRequest, context: Context
    ) -> task_pb2.PostTaskResponse:
        command = requests.post_task(request, self._ctx.principal(context))
        result = result_of(await self._ctx.store.execute(command), TaskResult)
        assert result.event is not None
        return task_pb2.PostTaskResponse(
            task=convert.task(result.task), event=convert.event(result.event)
        )

    async def GetTask(
        self, request: task_pb2.GetTaskRequest, context: Context
    ) -> task_pb2.GetTaskResponse:
        ref = requests.task_name("name", request.name)
        task = await self._ctx.store.get_task(ref.board_id, ref.child_id)
        if task is None:
            raise NotFound(
                names.task_name(ref.board_id, ref.child_id), reason=reasons.TASK_NOT_FOUND
            )
        return task_pb2.GetTaskResponse(task=convert.task(task))

    async def ListTasks(
        self, request: task_pb2.ListTasksRequest, context: Context
    ) -> task_pb2.ListTasksResponse:
        query = requests.list_tasks(request, pagination.int_position(request, request.page_token))
        board = await self._ctx.require_board(query.board_id)
        requests.check_known_statuses(board, "statuses", query.statuses)
        found = await self._ctx.store.list_tasks(dataclasses.replace(query, limit=query.limit + 1))
        tasks, token = pagination.page(
            request, found, query.limit, lambda t: t.created_sequence, convert.task
        )
        return task_pb2.ListTasksResponse(tasks=tasks, next_page_token=token)

    async def TransitionTask(
        self, request: task_pb2.TransitionTaskRequest, context: Context
    ) -> task_pb2.TransitionTaskResponse:
        command = requests.transition_task(request, self._ctx.principal(context))
        result = result_of(await self._ctx.store.execute(command), TaskResult)
        assert result.event is not None
        return task_pb2.TransitionTaskResponse(
            task=convert.task(result.task), event=convert.event(result.event)
        )

    async def PostResult(
        self, request: task_pb2.PostResultRequest, context: Context
    ) -> task_pb2.PostResultResponse:
        command = requests.post_result(request, self._ctx.principal(context))
        result = result_of(await self._ctx.store.execute(command), TaskResult)
        assert result.event is not None
        return task_pb2.PostResultResponse(
            task=convert.task(result.task), event=convert.event(result.event)
        )

    async def ArchiveTask(
        self, request: task_pb2.ArchiveTaskRequest, context: Context
    ) -> task_pb2.ArchiveTaskResponse:
        command = requests.archive_task(request, self._ctx.principal(context))
        result = result_of(await self._ctx.store.execute(command), TaskResult)
        return task_pb2.ArchiveTaskResponse(task=convert.task(result.task))
