"""Quadro's Python client: `Client` (blocking) and `AsyncClient` (asyncio).

    import quadro
    with quadro.Client("localhost:50051") as client:
        task = client.post_task("claims", "claim_intake", "Validate claim 1042").task

Errors are `quadro.errors.QuadroError` subclasses; resource-name helpers are in
`quadro.names`. The client and its generated messages load on first use, so that
`quadro.reasons` and `quadro.limits` stay importable without gRPC.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quadro import batcher, errors, names, tls
    from quadro._assignment import Assignment
    from quadro._async_client import AsyncAssignments, AsyncClient, AsyncSubscription
    from quadro._batch import Beat, Move, NewTask, Result
    from quadro._requests import event_type_name, from_value, new_request_id, to_value
    from quadro._sync_client import Assignments, Client, Subscription
    from quadro.retry import RetryPolicy

__all__ = [
    "Assignment",
    "Assignments",
    "AsyncAssignments",
    "AsyncClient",
    "AsyncSubscription",
    "Beat",
    "Client",
    "Move",
    "NewTask",
    "Result",
    "RetryPolicy",
    "Subscription",
    "batcher",
    "errors",
    "event_type_name",
    "from_value",
    "names",
    "new_request_id",
    "tls",
    "to_value",
]

_LAZY = {
    "AsyncClient": ("quadro._async_client", "AsyncClient"),
    "RetryPolicy": ("quadro.retry", "RetryPolicy"),
    "AsyncSubscription": ("quadro._async_client", "AsyncSubscription"),
    "AsyncAssignments": ("quadro._async_client", "AsyncAssignments"),
    "Assignments": ("quadro._sync_client", "Assignments"),
    "Assignment": ("quadro._assignment", "Assignment"),
    "Beat": ("quadro._batch", "Beat"),
    "Move": ("quadro._batch", "Move"),
    "NewTask": ("quadro._batch", "NewTask"),
    "Result": ("quadro._batch", "Result"),
    "Client": ("quadro._sync_client", "Client"),
    "Subscription": ("quadro._sync_client", "Subscription"),
    "from_value": ("quadro._requests", "from_value"),
    "to_value": ("quadro._requests", "to_value"),
    "event_type_name": ("quadro._requests", "event_type_name"),
    "new_request_id": ("quadro._requests", "new_request_id"),
    "errors": ("quadro.errors", None),
    "batcher": ("quadro.batcher", None),
    "tls": ("quadro.tls", None),
    "names": ("quadro.names", None),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'quadro' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value
