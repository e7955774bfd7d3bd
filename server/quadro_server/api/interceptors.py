"""Cross-cutting behaviour of every RPC, kept out of the handlers.

- Requests that do not decode (invalid UTF-8 in a string field, truncated bytes) are
  answered with INVALID_ARGUMENT instead of the transport's generic INTERNAL.
- A QuadroError raised by a handler becomes a gRPC status with typed details.
- Any other exception is logged and answered with INTERNAL, saying nothing of internals.
- Every call first passes the gate (authentication, roles, scopes); the handler finds
  the caller in `gate.CALLER`.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from quadro import reasons
from quadro_server.api.gate import CALLER, Gate
from quadro_server.api.status import to_status
from quadro_server.core.errors import FieldViolation, Internal, InvalidArgument, QuadroError

log = logging.getLogger(__name__)


class _Undecodable:
    """Stands in for a request whose bytes did not parse."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except (DecodeError, UnicodeDecodeError, ValueError) as exc:
            return _Undecodable(exc)

    return deserialize


def _bytes_pass_through(serializer: Callable[[Any], bytes] | None) -> Callable[[Any], bytes]:
    """A stream may yield messages it encoded itself (to encode a shared event once for
    many subscribers); those go out as they are."""

    def serialize(message: Any) -> bytes:
        if isinstance(message, bytes):
            return message
        assert serializer is not None
        return serializer(message)

    return serialize


def _as_error(request: Any) -> QuadroError | None:
    if isinstance(request, _Undecodable):
        return InvalidArgument(
            [FieldViolation("", f"the request does not decode: {request.error}")],
            reason=reasons.UNDECODABLE_REQUEST,
        )
    return None


async def _abort(context: grpc.aio.ServicerContext[Any, Any], error: BaseException) -> None:
    if not isinstance(error, QuadroError):
        log.error("unexpected %s", type(error).__name__, exc_info=error)
        error = Internal("internal error; the server log has details", reason=reasons.INTERNAL)
    status = to_status(error)
    await context.abort(status.code, status.details, status.trailing_metadata)


class ErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Decode errors and domain errors to statuses, for unary and server-streaming RPCs."""

    def __init__(self, gate: Gate | None = None) -> None:
        self._gate = gate or Gate(None)
        # Handlers never change once registered: wrap each one once, not on every call.
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = await continuation(handler_call_details)
            if handler is None:
                return handler
            admit = _admission(self._gate, method)
            wrapped = self._wrapped[method] = _wrap(handler, admit)
        return wrapped


Admit = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], None]


def _admission(gate: Gate, method: str) -> Admit:
    """What a call of `method` passes before its handler: nothing without auth."""
    if gate.auth is None:
        return lambda request, context: None

    def admit(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        CALLER.set(gate.admit(method, request, context))

    return admit


def _wrap(
    handler: grpc.RpcMethodHandler[Any, Any], admit: Admit
) -> grpc.RpcMethodHandler[Any, Any]:
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            _wrap_unary(handler.unary_unary, admit),
            request_deserializer=_tolerant(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _wrap_stream(handler.unary_stream, admit),
            request_deserializer=_tolerant(handler.request_deserializer),
            response_serializer=_bytes_pass_through(handler.response_serializer),
        )
    return handler


@contextlib.asynccontextmanager
async def _statuses(
    request: Any, context: grpc.aio.ServicerContext[Any, Any], admit: Admit
) -> AsyncIterator[None]:
    """Answer an undecodable request, a refused caller, and any error the handler
    raises, with a status."""
    error = _as_error(request)
    if error is not None:
        await _abort(context, error)
    try:
        admit(request, context)
        yield
    except grpc.aio.AbortError:
        raise
    except Exception as exc:
        await _abort(context, exc)


def _wrap_unary(behaviour: Any, admit: Admit) -> Any:
    async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        async with _statuses(request, context, admit):
            return await behaviour(request, context)

    return unary


def _wrap_stream(behaviour: Any, admit: Admit) -> Any:
    # grpc.aio runs a coroutine handler as one that writes its messages itself
    # (`context.write`), and iterates any other: the wrapper must keep the same kind.
    if inspect.iscoroutinefunction(behaviour):

        async def writer(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
            async with _statuses(request, context, admit):
                await behaviour(request, context)

        return writer

    async def stream(
        request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        async with _statuses(request, context, admit):
            async for item in behaviour(request, context):
                yield item

    return stream
