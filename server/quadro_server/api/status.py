"""Domain errors to `google.rpc.Status` with typed details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from quadro import reasons
from quadro_server.core.errors import QuadroError

# Errors travel in trailers, which HTTP/2 peers cap at a few KiB: values that echo user
# input are clipped so that an error about a huge field is still delivered whole.
MESSAGE_MAX_BYTES = 512
FIELD_MAX_BYTES = 128
DESCRIPTION_MAX_BYTES = 256
METADATA_VALUE_MAX_BYTES = 256
VIOLATIONS_MAX = 8


def clip(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8, marked with an ellipsis when cut."""
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max_bytes - 3].decode(errors="ignore") + "\u2026"


def to_status(error: QuadroError) -> grpc.Status:
    """The status for an error: ErrorInfo always; BadRequest for field violations;
    ResourceInfo naming the resource when there is one."""
    metadata = {k: clip(v, METADATA_VALUE_MAX_BYTES) for k, v in error.metadata.items()}
    details = [
        _pack(
            error_details_pb2.ErrorInfo(
                reason=error.reason, domain=reasons.DOMAIN, metadata=metadata
            )
        )
    ]
    violations = [
        error_details_pb2.BadRequest.FieldViolation(
            field=clip(v.field, FIELD_MAX_BYTES),
            description=clip(v.description, DESCRIPTION_MAX_BYTES),
        )
        for v in error.violations[:VIOLATIONS_MAX]
    ]
    if len(error.violations) > VIOLATIONS_MAX:
        violations.append(
            error_details_pb2.BadRequest.FieldViolation(
                description=f"and {len(error.violations) - VIOLATIONS_MAX} more violations"
            )
        )
    if violations:
        details.append(_pack(error_details_pb2.BadRequest(field_violations=violations)))
    if error.resource:
        resource = clip(error.resource, FIELD_MAX_BYTES * 2)
        collection = resource.split("/")[-2] if "/" in resource else ""
        details.append(
            _pack(error_details_pb2.ResourceInfo(resource_type=collection, resource_name=resource))
        )
    message = error.message
    if violations:
        message = "; ".join(
            f"{v.field}: {v.description}" if v.field else v.description for v in violations
        )
    status = status_pb2.Status(
        code=code_pb2.Code.Value(error.code.value),
        message=clip(message, MESSAGE_MAX_BYTES),
        details=details,
    )
    return rpc_status.to_status(status)


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed
