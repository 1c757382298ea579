"""OTLP AnyValue and KeyValue lists as Python values, the types the proto defines.

A string, bool, int or double stays what it is; an array becomes a list, a kvlist a
dict, bytes their base64 text (the OTLP JSON mapping's spelling, and what a JSON log
line can hold); an empty value is None.
"""

from __future__ import annotations

import base64
from typing import Any, Iterable

__all__ = ["attributes", "value"]

_MAX_DEPTH = 16


def value(any_value: Any, depth: int = 0) -> Any:
    """One ``AnyValue`` as a Python value; nesting deeper than 16 levels becomes its text."""
    kind = any_value.WhichOneof("value")
    if kind == "string_value":
        return any_value.string_value
    if kind is None:
        return None
    if kind == "int_value":
        return any_value.int_value
    if kind == "double_value":
        return any_value.double_value
    if kind == "bool_value":
        return any_value.bool_value
    if kind == "bytes_value":
        return base64.b64encode(any_value.bytes_value).decode("ascii")
    if depth >= _MAX_DEPTH:
        return str(any_value)
    if kind == "array_value":
        return [value(v, depth + 1) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value(kv.value, depth + 1) for kv in any_value.kvlist_value.values}
    return None  # a kind newer than this proto


def attributes(key_values: Iterable[Any]) -> dict[str, Any]:
    """A repeated ``KeyValue`` as a dict (a repeated key: the last one wins)."""
    return {kv.key: value(kv.value) for kv in key_values}
