"""Domain errors. Each carries the status code, a stable reason and structured details;
the gRPC layer turns them into `google.rpc.Status` with typed details."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from quadro import reasons


class Code(enum.Enum):
    """Status codes the core uses; names match `grpc.StatusCode`."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    ABORTED = "ABORTED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field: its path in the request (`task.label`) and what is wrong."""

    field: str
    description: str


class QuadroError(Exception):
    """Base of every error the board reports to a caller."""

    code: Code = Code.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        metadata: Mapping[str, str] | None = None,
        violations: Sequence[FieldViolation] = (),
        resource: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.violations = tuple(violations)
        self.resource = resource


class InvalidArgument(QuadroError):
    code = Code.INVALID_ARGUMENT

    def __init__(
        self,
        violations: Sequence[FieldViolation],
        *,
        reason: str = reasons.INVALID_FIELD,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        message = "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(message, reason=reason, violations=violations, metadata=metadata)

    @classmethod
    def single(
        cls, field: str, description: str, *, reason: str = reasons.INVALID_FIELD
    ) -> InvalidArgument:
        return cls([FieldViolation(field, description)], reason=reason)


class NotFound(QuadroError):
    code = Code.NOT_FOUND

    def __init__(self, resource: str, *, reason: str) -> None:
        super().__init__(f"{resource} not found", reason=reason, resource=resource)


class AlreadyExists(QuadroError):
    code = Code.ALREADY_EXISTS

    def __init__(self, resource: str, *, reason: str) -> None:
        super().__init__(f"{resource} already exists", reason=reason, resource=resource)


class FailedPrecondition(QuadroError):
    code = Code.FAILED_PRECONDITION


class Unauthenticated(QuadroError):
    code = Code.UNAUTHENTICATED


class PermissionDenied(QuadroError):
    code = Code.PERMISSION_DENIED


class TransitionRejected(FailedPrecondition):
    """The task's lifecycle does not allow the requested move from its current status."""

    def __init__(
        self, task: str, profile: str, current: str, requested: str, allowed: Sequence[str]
    ) -> None:
        targets = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"{task} is {current}; lifecycle {profile!r} does not allow {current} -> "
            f"{requested} (allowed from {current}: {targets})",
            reason=reasons.INVALID_TRANSITION,
            resource=task,
            metadata={
                "current_status": current,
                "requested_status": requested,
                "allowed_statuses": ",".join(allowed),
                "profile": profile,
            },
        )
        self.current = current
        self.allowed = tuple(allowed)


class RequestIdConflict(QuadroError):
    """The request id was used before for a different request."""

    code = Code.ABORTED

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"request_id {request_id!r} was already used for a different request; "
            "use a new request id for a new request",
            reason=reasons.REQUEST_ID_CONFLICT,
            metadata={"request_id": request_id},
        )


class Unavailable(QuadroError):
    code = Code.UNAVAILABLE


class ResourceExhausted(QuadroError):
    code = Code.RESOURCE_EXHAUSTED


class Internal(QuadroError):
    code = Code.INTERNAL
