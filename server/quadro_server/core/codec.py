"""Compact JSON for records and results: the stored answers of idempotent requests.

A registered dataclass is written as `{"$": "ClassName", "v": [field values in order]}`
(positional, so a stored answer is small and quick to write); sequences come back as
tuples, since every sequence in a record is a tuple. Dicts inside records (labels,
payloads) never use the key "$", so the two cannot be confused.
"""

from __future__ import annotations

from typing import Any

from quadro_server.core import fields, jsontext

_classes: dict[str, type[Any]] = {}
_readers: dict[type[Any], fields.Reader] = {}
_LEAVES = frozenset((str, int, bool, float, type(None)))


def register(*classes: type[Any]) -> None:
    for cls in classes:
        _classes[cls.__name__] = cls
        _readers[cls] = fields.of(cls).read


def encode(value: Any) -> Any:
    kind = type(value)
    if kind in _LEAVES:
        return value
    read = _readers.get(kind)
    if read is not None:
        # Most fields are plain values: recurse only into the others.
        return {
            "$": kind.__name__,
            "v": [v if type(v) in _LEAVES else encode(v) for v in read(value)],
        }
    if kind is tuple or kind is list:
        return [encode(v) for v in value]
    if kind is dict:
        return {k: encode(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {kind.__name__}; register it with codec.register")


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(decode(v) for v in value)
    if isinstance(value, dict):
        type_name = value.get("$")
        if type_name is None:
            return {k: decode(v) for k, v in value.items()}
        cls = _classes[type_name]
        if "v" in value:
            return cls(*(decode(v) for v in value["v"]))
        # The first format, by field name, kept readable for answers stored before.
        return cls(**{k: decode(v) for k, v in value.items() if k != "$"})
    return value


def dumps(value: Any) -> str:
    return jsontext.dumps(encode(value))


def loads(text: str) -> Any:
    return decode(jsontext.loads(text))
