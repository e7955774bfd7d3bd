"""The asyncio side of the client's transport. `_sync_io` has the same names with
blocking implementations; the sync client is generated from the async one by renaming
this module (see python_client/generate_sync_client.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

R = TypeVar("R")

Channel = grpc.aio.Channel
# A unary RPC of a stub bound to this kind of channel.
Rpc = Callable[..., Awaitable[R]]
StreamRpc = Callable[..., AsyncIterator[R]]

sleep = asyncio.sleep

# What iterating a stream raises once the stream was cancelled locally (`call.cancel()`):
# asyncio cancels the reading coroutine rather than raising an RpcError.
StreamCancelled = asyncio.CancelledError


def cancelled_locally() -> bool:
    """True when a StreamCancelled came from cancelling the call, not from someone
    cancelling the task that reads it (which must propagate)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() == 0


def insecure_channel(target: str, options: list[tuple[str, Any]]) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(target, options=options)


def secure_channel(
    target: str, credentials: grpc.ChannelCredentials, options: list[tuple[str, Any]]
) -> grpc.aio.Channel:
    return grpc.aio.secure_channel(target, credentials, options=options)


async def close(channel: grpc.aio.Channel) -> None:
    await channel.close(None)
