"""AgentService: register, read, list agents; heartbeats; assignment streams."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from quadro import reasons
from quadro.v1 import agent_pb2, agent_pb2_grpc
from quadro_server.api import batches, convert, pagination, requests
from quadro_server.api.gate import CALLER, own_agent
from quadro_server.api.services.context import ServiceContext, result_of
from quadro_server.api.validation import Violations
from quadro_server.core import names
from quadro_server.core.commands import Heartbeat
from quadro_server.core.errors import NotFound
from quadro_server.core.records import AgentRecord, EventRecord, TaskRecord
from quadro_server.core.results import AgentResult, HeartbeatResult
from quadro_server.core.transaction import Applied
from quadro_server.streaming.subscription import Subscription

Context = grpc.aio.ServicerContext[object, object]


class AgentService(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def _agent(self, record: AgentRecord) -> agent_pb2.Agent:
        return convert.agent(record, self._ctx.clock(), self._ctx.agent_offline_after_us)

    async def RegisterAgent(
        self, request: agent_pb2.RegisterAgentRequest, context: Context
    ) -> agent_pb2.RegisterAgentResponse:
        command = requests.register_agent(request, self._ctx.principal(context))
        own_agent(CALLER.get(), command.agent_id)
        result = result_of(await self._ctx.store.execute(command), AgentResult)
        return agent_pb2.RegisterAgentResponse(agent=self._agent(result.agent))

    async def GetAgent(
        self, request: agent_pb2.GetAgentRequest, context: Context
    ) -> agent_pb2.GetAgentResponse:
        ref = requests.agent_name(request)
        agent = await self._ctx.store.get_agent(ref.board_id, ref.child_id)
        if agent is None:
            raise NotFound(
                names.agent_name(ref.board_id, ref.child_id), reason=reasons.AGENT_NOT_FOUND
            )
        return agent_pb2.GetAgentResponse(agent=self._agent(agent))

    async def ListAgents(
        self, request: agent_pb2.ListAgentsRequest, context: Context
    ) -> agent_pb2.ListAgentsResponse:
        v = Violations()
        board_id = v.board("parent", request.parent)
        limit = v.page_size(request.page_size)
        v.raise_if_any()
        after = pagination.pair_position(request, request.page_token)
        await self._ctx.require_board(board_id)
        found = await self._ctx.store.list_agents(board_id, after, limit + 1)
        agents, token = pagination.page(
            request, found, limit, lambda a: [a.register_time, a.agent_id], self._agent
        )
        return agent_pb2.ListAgentsResponse(agents=agents, next_page_token=token)

    async def Heartbeat(
        self, request: agent_pb2.HeartbeatRequest, context: Context
    ) -> agent_pb2.HeartbeatResponse:
        command = _heartbeat_command(request, self._ctx.principal(context))
        return self._heartbeat_answer(await self._ctx.store.execute(command))

    async def BatchHeartbeat(
        self, request: agent_pb2.BatchHeartbeatRequest, context: Context
    ) -> agent_pb2.BatchHeartbeatResponse:
        principal = self._ctx.principal(context)
        response = agent_pb2.BatchHeartbeatResponse()
        await batches.run(
            self._ctx.store,
            request.requests,
            lambda item: _heartbeat_command(item, principal),
            response.results,
            self._heartbeat_in,
        )
        return response

    def _heartbeat_answer(self, applied: Applied) -> agent_pb2.HeartbeatResponse:
        response = agent_pb2.HeartbeatResponse()
        self._heartbeat_in(applied, response)
        return response

    def _heartbeat_in(self, applied: Applied, response: agent_pb2.HeartbeatResponse) -> None:
        result = result_of(applied, HeartbeatResult)
        response.agent.CopyFrom(self._agent(result.agent))
        if result.task is not None:
            response.task.CopyFrom(convert.task(result.task))
        if result.event is not None:
            response.event.CopyFrom(convert.event(result.event))

    async def WatchAssignments(  # type: ignore[override]
        self, request: agent_pb2.WatchAssignmentsRequest, context: Context
    ) -> None:
        # A subscription to the agent's assignments whose messages gain the tasks they
        # name: its wire messages are valid WatchAssignmentsResponses (same fields 1 and
        # 2), so the tasks are appended as encoded field 3. A task this process assigned
        # and nothing has moved since is known as the commit left it; the others are
        # read in one store lookup.
        spec = requests.watch_assignments(request)
        (board_id,) = spec.boards
        await self._ctx.require_board(board_id)
        store, hub = self._ctx.store, self._ctx.hub

        async def send(message: bytes, events: Sequence[EventRecord]) -> None:
            if events:
                found: dict[str, TaskRecord] = {}
                for event in events:
                    known = hub.task_after(board_id, event.sequence)
                    if known is not None:
                        found[event.task_id] = known
                named = dict.fromkeys(e.task_id for e in events)
                unknown = [i for i in named if i not in found]
                if unknown:
                    found.update(await store.get_tasks(board_id, unknown))
                message += b"".join(
                    convert.assigned_task_entry(found[i]) for i in named if i in found
                )
            await context.write(message)

        with self._ctx.streams.hold(self._ctx.principal(context)):
            subscription = Subscription(
                spec, store, self._ctx.hub, convert.event_entry, convert.subscription_message
            )
            await subscription.run(send)


def _heartbeat_command(request: agent_pb2.HeartbeatRequest, principal: str) -> Heartbeat:
    command = requests.heartbeat(request, principal)
    own_agent(CALLER.get(), command.agent_id)
    return command
