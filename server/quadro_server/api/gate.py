"""The check every call passes before its handler runs: who is calling (the token), may
their roles make this call (the method), and may they see the boards it names (the
scopes). A board outside the caller's scopes is NOT_FOUND, decided from the request's
names alone, so the answer is the same whether that board exists or not.

The handler reads the caller from `CALLER`, set here for the duration of the call.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from typing import Any

from google.protobuf.message import Message

from quadro import reasons
from quadro_server.api import scopes
from quadro_server.api.auth import (
    ANONYMOUS_PRINCIPAL,
    ROLES,
    Authenticator,
    Capability,
    Principal,
)
from quadro_server.core import names
from quadro_server.core.errors import NotFound, PermissionDenied

CALLER: contextvars.ContextVar[Principal] = contextvars.ContextVar(
    "quadro_caller", default=ANONYMOUS_PRINCIPAL
)

C = Capability
READ = frozenset({C.READ})
# What each method needs: any one of these capabilities. A method missing here is
# refused to every authenticated caller, so a new RPC is closed until it is listed.
METHODS: Mapping[str, frozenset[Capability]] = {
    "/quadro.v1.BoardService/CreateBoard": frozenset({C.ADMIN}),
    "/quadro.v1.BoardService/GetBoard": READ,
    "/quadro.v1.BoardService/ListBoards": READ,
    "/quadro.v1.TaskService/PostTask": frozenset({C.POST}),
    "/quadro.v1.TaskService/GetTask": READ,
    "/quadro.v1.TaskService/ListTasks": READ,
    "/quadro.v1.TaskService/TransitionTask": frozenset({C.DISPATCH, C.WORK}),
    "/quadro.v1.TaskService/PostResult": frozenset({C.DISPATCH, C.WORK}),
    "/quadro.v1.TaskService/ArchiveTask": frozenset({C.DISPATCH}),
    "/quadro.v1.TaskService/HandOffTask": frozenset({C.DISPATCH}),
    "/quadro.v1.TaskService/GetLineage": READ,
    "/quadro.v1.TaskService/BatchPostTasks": frozenset({C.POST}),
    "/quadro.v1.TaskService/BatchTransitionTasks": frozenset({C.DISPATCH, C.WORK}),
    "/quadro.v1.TaskService/BatchPostResults": frozenset({C.DISPATCH, C.WORK}),
    "/quadro.v1.EventService/ListEvents": READ,
    "/quadro.v1.EventService/SubscribeEvents": READ,
    "/quadro.v1.AgentService/RegisterAgent": frozenset({C.WORK, C.ADMIN}),
    "/quadro.v1.AgentService/GetAgent": READ,
    "/quadro.v1.AgentService/ListAgents": READ,
    "/quadro.v1.AgentService/Heartbeat": frozenset({C.WORK}),
    "/quadro.v1.AgentService/BatchHeartbeat": frozenset({C.WORK}),
    "/quadro.v1.AgentService/WatchAssignments": READ,
    "/quadro.v1.DataService/PutData": frozenset({C.DATA}),
    "/quadro.v1.DataService/GetData": READ,
    "/quadro.v1.DataService/DeleteData": frozenset({C.DATA}),
    "/quadro.v1.DataService/ListData": READ,
    "/quadro.v1.ChiefService/RegisterChief": frozenset({C.CHIEFS}),
    "/quadro.v1.ChiefService/GetChief": READ,
    "/quadro.v1.ChiefService/ListChiefs": READ,
    "/quadro.v1.ChiefService/ReportChiefState": frozenset({C.CHIEFS}),
    "/quadro.v1.ChiefService/RecordChiefCycle": frozenset({C.CHIEFS}),
    "/quadro.v1.ChiefService/ListChiefCycles": READ,
}
# Open to anyone: liveness probes and the schema (reflection runs outside the gate).
PUBLIC = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})


class Gate:
    def __init__(self, auth: Authenticator | None) -> None:
        self.auth = auth

    def admit(self, method: str, request: Any, context: Any) -> Principal:
        """The caller, if it may make this call; else UNAUTHENTICATED, PERMISSION_DENIED
        or NOT_FOUND, in that order."""
        if self.auth is None or method in PUBLIC:
            return ANONYMOUS_PRINCIPAL
        principal = self.auth.authenticate(context.invocation_metadata())
        needed = METHODS.get(method, frozenset())
        if not any(principal.may(c) for c in needed):
            roles = sorted(r for r, granted in ROLES.items() if granted & needed) or ["none"]
            raise PermissionDenied(
                f"{principal.name} may not call {method.rsplit('/', 1)[-1]}: that needs "
                f"one of the roles {', '.join(roles)}",
                reason=reasons.ROLE_NOT_ALLOWED,
                metadata={"principal": principal.name},
            )
        if principal.scoped and isinstance(request, Message):
            for board_id in sorted(scopes.board_ids(request)):
                if not principal.sees(board_id) and names.check_board_id(board_id) is None:
                    raise NotFound(names.board_name(board_id), reason=reasons.BOARD_NOT_FOUND)
        return principal


def own_agent(principal: Principal, agent_id: str) -> str:
    """The agent a call acts as. A worker (without dispatch rights) acts only as its own
    agents: naming another is PERMISSION_DENIED, naming none picks its only one."""
    if not principal.only_own_work():
        return agent_id
    if not agent_id and len(principal.agents) == 1:
        (agent_id,) = principal.agents
    if not principal.acts_as(agent_id):
        mine = ", ".join(sorted(principal.agents)) or "none"
        raise PermissionDenied(
            f"{principal.name} works as {mine}, not as {agent_id or 'no agent'}",
            reason=reasons.NOT_OWN_WORK,
            metadata={"principal": principal.name},
        )
    return agent_id
