"""JSON encoding of records and results, for the stored answers of idempotent requests.

Dataclasses carry their class name under "$"; sequences come back as tuples (every
sequence in a record is a tuple).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

_registry: dict[str, type[Any]] = {}


def register(*classes: type[Any]) -> None:
    for cls in classes:
        _registry[cls.__name__] = cls


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"$": type(value).__name__}
        for f in dataclasses.fields(value):
            out[f.name] = encode(getattr(value, f.name))
        return out
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(decode(v) for v in value)
    if isinstance(value, dict):
        type_name = value.get("$")
        if type_name is None:
            return {k: decode(v) for k, v in value.items()}
        cls = _registry[type_name]
        return cls(**{k: decode(v) for k, v in value.items() if k != "$"})
    return value


def dumps(value: Any) -> str:
    return json.dumps(encode(value), separators=(",", ":"), sort_keys=True)


def loads(text: str) -> Any:
    return decode(json.loads(text))
