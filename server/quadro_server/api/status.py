"""Domain errors to `google.rpc.Status` with typed details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from quadro import reasons
from quadro_server.core.errors import QuadroError


def to_status(error: QuadroError) -> grpc.Status:
    """The status for an error: ErrorInfo always; BadRequest for field violations;
    ResourceInfo naming the resource when there is one."""
    details = []
    details.append(
        _pack(
            error_details_pb2.ErrorInfo(
                reason=error.reason, domain=reasons.DOMAIN, metadata=error.metadata
            )
        )
    )
    if error.violations:
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description
                        )
                        for v in error.violations
                    ]
                )
            )
        )
    if error.resource:
        collection = error.resource.split("/")[-2] if "/" in error.resource else ""
        details.append(
            _pack(
                error_details_pb2.ResourceInfo(
                    resource_type=collection, resource_name=error.resource
                )
            )
        )
    status = status_pb2.Status(
        code=code_pb2.Code.Value(error.code.value), message=error.message, details=details
    )
    return rpc_status.to_status(status)


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed
