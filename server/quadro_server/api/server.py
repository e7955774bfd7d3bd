"""Assembling and running the gRPC server: the Quadro services, health, reflection and
the interceptors, on one `grpc.aio` server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import shutil
import signal
import socket
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection

import quadro
from quadro import limits
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
from quadro_server.api.auth import Authenticator, Principal, new_token
from quadro_server.api.gate import Gate
from quadro_server.api.interceptors import ErrorInterceptor
from quadro_server.api.services.agent import AgentService
from quadro_server.api.services.board import BoardService
from quadro_server.api.services.chief import ChiefService
from quadro_server.api.services.context import ServiceContext
from quadro_server.api.services.data import DataService
from quadro_server.api.services.event import EventService
from quadro_server.api.services.task import TaskService
from quadro_server.housekeeping import run_housekeeping
from quadro_server.storage.base import Store

log = logging.getLogger(__name__)

SERVICE_NAMES = tuple(
    module.DESCRIPTOR.services_by_name[name].full_name
    for module, name in (
        (board_pb2, "BoardService"),
        (task_pb2, "TaskService"),
        (event_pb2, "EventService"),
        (agent_pb2, "AgentService"),
        (data_pb2, "DataService"),
        (chief_pb2, "ChiefService"),
    )
)

_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", limits.MESSAGE_MAX_BYTES),
    ("grpc.max_send_message_length", limits.MESSAGE_MAX_BYTES),
    ("grpc.so_reuseport", 0),
]


@dataclass(frozen=True)
class ServerTls:
    """PEM certificate chain and key of the server; with `client_ca`, mutual TLS: a
    client must present a certificate that CA signed."""

    certificate_chain: bytes
    private_key: bytes
    client_ca: bytes | None = None

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.private_key, self.certificate_chain)],
            root_certificates=self.client_ca,
            require_client_auth=self.client_ca is not None,
        )


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: health_aio.HealthServicer
    ctx: ServiceContext

    async def drain(self, grace: float) -> None:
        """Stop taking calls, end the streams (clients resume elsewhere), let running
        calls finish for up to `grace` seconds."""
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.ctx.hub.close()
        await self.server.stop(grace)


async def start_server(
    ctx: ServiceContext,
    address: str,
    *,
    auth: Authenticator | None = None,
    tls: ServerTls | None = None,
    local_socket: str | None = None,
) -> RunningServer:
    """Start serving `ctx.store` on `address` (`host:port`, port 0 picks one): with
    `auth`, to callers with a token only; with `tls`, over TLS. `local_socket` is a Unix
    socket path served without TLS, for clients in this process (it still needs a
    token)."""
    interceptor = ErrorInterceptor(Gate(auth))
    server = grpc.aio.server(interceptors=[interceptor], options=_CHANNEL_OPTIONS)
    board_pb2_grpc.add_BoardServiceServicer_to_server(BoardService(ctx), server)
    task_pb2_grpc.add_TaskServiceServicer_to_server(TaskService(ctx), server)
    event_pb2_grpc.add_EventServiceServicer_to_server(EventService(ctx), server)
    agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentService(ctx), server)
    data_pb2_grpc.add_DataServiceServicer_to_server(DataService(ctx), server)
    chief_pb2_grpc.add_ChiefServiceServicer_to_server(ChiefService(ctx), server)
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    if tls is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, tls.credentials())
    if port == 0:
        raise OSError(f"could not bind {address}")
    if local_socket is not None:
        server.add_insecure_port(f"unix:{local_socket}")
    await server.start()
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, port, health_servicer, ctx)


def _tune_garbage_collector() -> None:
    """Every call allocates hundreds of short-lived objects, and with CPython's default
    thresholds the collector runs a young collection every 700 of them and, every
    hundred of those, walks every object of the process: measured as 5-6% of the
    server's time under load. Freeze what start-up made (it lives as long as the
    server) and collect the young generation less often; reference counting still frees
    everything that is not a cycle at once."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


# Builds a companion (a client of this server running in its process), or None when it
# is turned off.
Companion = Callable[[quadro.AsyncClient], Any]


async def serve_until_signalled(
    store: Store,
    ctx: ServiceContext,
    address: str,
    grace: float,
    on_ready: Callable[[int], None] | None = None,
    companions: Sequence[Companion] = (),
    *,
    auth: Authenticator | None = None,
    tls: ServerTls | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then drain: stop the companions, refuse new calls,
    finish running ones within `grace` seconds, flush the store, exit."""
    # Signals first: a SIGTERM that arrives as soon as we announce readiness must drain.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await store.start()
    # Companions are clients like any other: with auth they get a token of their own
    # (known to this process only); with TLS they talk over a private Unix socket.
    token: str | None = None
    if auth is not None and companions:
        token = new_token()
        auth.add(token, Principal("quadro-serve", frozenset({"chief"}), None))
    private = tempfile.mkdtemp(prefix="quadro-") if tls is not None and companions else None
    socket_path = os.path.join(private, "companions.sock") if private else None
    running = await start_server(ctx, address, auth=auth, tls=tls, local_socket=socket_path)
    _tune_garbage_collector()
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    housekeeping = asyncio.create_task(run_housekeeping(store, holder), name="housekeeping")
    if on_ready is not None:
        on_ready(running.port)
    target = f"unix:{socket_path}" if socket_path else _local_target(address, running.port)
    async with _Companions(companions, target, token):
        await stop.wait()
        log.info("draining (grace %.1fs)", grace)
    try:
        await running.drain(grace)
    finally:
        housekeeping.cancel()
        await store.close()
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)


def _local_target(address: str, port: int) -> str:
    """Where a client in this process reaches the server: the bound host, or loopback
    for a wildcard address."""
    host = address.rsplit(":", 1)[0]
    if host in ("0.0.0.0", "[::]", ""):
        host = "127.0.0.1"
    return f"{host}:{port}"


class _Companions:
    """Clients of the server that run in its process (the Ombudsman), through the API
    like any other client. They stop before the server drains."""

    def __init__(self, factories: Sequence[Companion], target: str, token: str | None) -> None:
        self._factories = factories
        self._target = target
        self._token = token
        self._client: quadro.AsyncClient | None = None
        self._runners: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> None:
        if not self._factories:
            return
        self._client = quadro.AsyncClient(self._target, token=self._token)
        for factory in self._factories:
            runner = factory(self._client)
            if runner is not None:
                self._runners.append(runner)
                self._tasks.append(asyncio.create_task(runner.run()))

    async def __aexit__(self, *exc: object) -> None:
        for runner in self._runners:
            runner.stop()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=5)
            for task in late:
                task.cancel()
        if self._client is not None:
            await self._client.close()
