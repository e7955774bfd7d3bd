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


def register(*classes: type[Any]) -> None:
    for cls in classes:
        _classes[cls.__name__] = cls
        _readers[cls] = fields.of(cls).read


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


def _positional(value: Any) -> dict[str, Any]:
    """A registered record, one level: the JSON encoder calls this for every record it
    meets, and writes the fields (plain values, sequences, dicts, records) itself."""
    read = _readers.get(type(value))
    if read is None:
        raise TypeError(f"cannot encode {type(value).__name__}; register it with codec.register")
    return {"$": type(value).__name__, "v": read(value)}


def dumps(value: Any) -> str:
    return jsontext.dumps(value, _positional)


def loads(text: str) -> Any:
    return decode(jsontext.loads(text))
