"""The blocking side of the client's transport; mirrors `_async_io` name for name."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

R = TypeVar("R")

Channel = grpc.Channel
Rpc = Callable[..., R]
StreamRpc = Callable[..., Iterator[R]]

sleep = time.sleep


class StreamCancelled(Exception):
    """Never raised: a cancelled blocking stream raises RpcError(CANCELLED) instead."""


def cancelled_locally() -> bool:
    return True


def insecure_channel(target: str, options: list[tuple[str, Any]]) -> grpc.Channel:
    return grpc.insecure_channel(target, options=options)


def secure_channel(
    target: str, credentials: grpc.ChannelCredentials, options: list[tuple[str, Any]]
) -> grpc.Channel:
    return grpc.secure_channel(target, credentials, options=options)


def close(channel: grpc.Channel) -> None:
    channel.close()
