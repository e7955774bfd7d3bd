"""Typed exceptions, built from the gRPC status and its `google.rpc` details.

Every exception carries the status code, the stable `reason` (see `quadro.reasons`), the
server's message, the ErrorInfo metadata and any field violations, so a program can
react precisely and a person can read what went wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

from quadro import reasons

_DETAILS_KEY = "grpc-status-details-bin"


class QuadroError(Exception):
    """Base of every error the client raises for a failed call."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str = "",
        metadata: Mapping[str, str] | None = None,
        field_violations: list[tuple[str, str]] | None = None,
        resource: str = "",
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.field_violations = list(field_violations or [])
        self.resource = resource


class InvalidArgument(QuadroError):
    """The request is malformed; `field_violations` names each bad field."""


class NotFound(QuadroError):
    """The named resource does not exist (or is not visible to the caller)."""


class AlreadyExists(QuadroError):
    """A resource with that id exists."""


class FailedPrecondition(QuadroError):
    """The board's state does not allow the request."""


class TransitionRejected(FailedPrecondition):
    """The task's lifecycle does not allow the move from its current status."""

    @property
    def current_status(self) -> str:
        return self.metadata.get("current_status", "")

    @property
    def allowed_statuses(self) -> list[str]:
        allowed = self.metadata.get("allowed_statuses", "")
        return allowed.split(",") if allowed else []


class CompareAndSetFailed(FailedPrecondition):
    """The task changed since it was read (status, etag, a superseded attempt, or a sign
    of life when it was to be declared stale): another agent got there first. Normal
    under concurrency; re-read and decide again."""


class RequestIdConflict(QuadroError):
    """The request id was already used for a different request."""


class Unauthenticated(QuadroError):
    pass


class PermissionDenied(QuadroError):
    pass


class ResourceExhausted(QuadroError):
    pass


class Unavailable(QuadroError):
    """The server could not be reached or could not serve (after the client's retries)."""


class DeadlineExceeded(QuadroError):
    pass


class InternalError(QuadroError):
    pass


_BY_CODE: dict[grpc.StatusCode, type[QuadroError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.ABORTED: RequestIdConflict,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}
_BY_REASON: dict[str, type[QuadroError]] = {
    reasons.INVALID_TRANSITION: TransitionRejected,
    reasons.STATUS_MISMATCH: CompareAndSetFailed,
    reasons.ETAG_MISMATCH: CompareAndSetFailed,
    reasons.STALE_ATTEMPT: CompareAndSetFailed,
    reasons.TASK_ALIVE: CompareAndSetFailed,
}


def _trailing(error: Any) -> bytes | None:
    metadata = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    if not metadata:
        return None
    for key, value in metadata:  # aio Metadata and sync tuples both iterate as pairs
        if key == _DETAILS_KEY:
            return bytes(value)
    return None


def from_item_error(error: Any) -> QuadroError:
    """The typed exception for a failed item of a batch call (`quadro.v1.ItemError`)."""
    code = next((c for c in grpc.StatusCode if c.value[0] == error.code), grpc.StatusCode.UNKNOWN)
    return _typed(
        code,
        error.message,
        error.reason,
        dict(error.metadata),
        [(v.field, v.description) for v in error.field_violations],
        "",
    )


def _typed(
    code: grpc.StatusCode,
    message: str,
    reason: str,
    metadata: dict[str, str],
    violations: list[tuple[str, str]],
    resource: str,
) -> QuadroError:
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code, InternalError)
    return cls(
        code,
        message,
        reason=reason,
        metadata=metadata,
        field_violations=violations,
        resource=resource,
    )


def from_rpc_error(error: grpc.RpcError) -> QuadroError:
    """The typed exception for a failed call."""
    call: Any = error
    code: grpc.StatusCode = call.code()
    message: str = call.details() or code.name
    reason = ""
    metadata: dict[str, str] = {}
    violations: list[tuple[str, str]] = []
    resource = ""
    raw = _trailing(call)
    if raw:
        status = status_pb2.Status.FromString(raw)
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            where = error_details_pb2.ResourceInfo()
            if detail.Unpack(info):
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Unpack(bad):
                violations = [(v.field, v.description) for v in bad.field_violations]
            elif detail.Unpack(where):
                resource = where.resource_name
    return _typed(code, message, reason, metadata, violations, resource)
