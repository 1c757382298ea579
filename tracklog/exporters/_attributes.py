"""Record fields to OpenTelemetry attributes and back: how nested dicts are flattened.

OpenTelemetry attributes are flat: a key maps to a str, bool, int, float or
bytes, or to a homogeneous sequence of those. tracklog's rules:

* To OTel (:func:`flatten`): a nested dict becomes dotted keys, so
  ``{"metrics": {"loss": 0.3}}`` becomes ``metrics.loss = 0.3`` and
  ``{"ctx": {"user": {"id": 7}}}`` becomes ``ctx.user.id = 7``. ``None`` values
  and empty dicts are left out; a list of one primitive type stays a list;
  anything else (mixed lists, objects) becomes its ``str``; ints beyond 64 bits
  become strings (OTLP ints are 64-bit).
* From OTel (:func:`unflatten`): keys under the convention containers
  ``metrics.``, ``tags.`` and ``params.`` are nested back one level, splitting at
  the first dot only, so ``metrics.val.loss`` is the metric ``val.loss``. Every
  other key stays as it is (``http.method`` is not a dict). An attribute whose
  value is already a map (OTel log attributes may hold maps) is used as is.

So ``unflatten(flatten(fields))`` gives back the convention keys of ``fields``
(``metric``, ``value``, ``step``, ``metrics``, ``tags``, ``params``) unchanged.
"""

from __future__ import annotations

from typing import Any, Mapping, Union

from .._otel_fields import NESTED_KEYS, unflatten
from .._values import UNCONVERTIBLE, plain_value, safe_repr

__all__ = ["NESTED_KEYS", "flatten", "unflatten"]

AttributeValue = Union[str, bool, int, float, bytes, tuple]

_MAX_DEPTH = 8
_INT64 = (-(2**63), 2**63 - 1)
_PRIMITIVES = (str, bool, int, float, bytes)


def flatten(fields: Mapping[str, Any], prefix: str = "") -> dict[str, AttributeValue]:
    """``fields`` as OpenTelemetry attributes: nested dicts become dotted keys."""
    out: dict[str, AttributeValue] = {}
    _flatten_into(out, fields, prefix, 0)
    return out


def _flatten_into(out: dict[str, AttributeValue], fields: Mapping[Any, Any], prefix: str, depth: int) -> None:
    for key, value in fields.items():
        name = f"{prefix}.{_str(key)}" if prefix else _str(key)
        if isinstance(value, Mapping):
            if depth < _MAX_DEPTH:
                _flatten_into(out, value, name, depth + 1)
            else:
                out[name] = _str(value)
            continue
        converted = attribute_value(value)
        if converted is not None:
            out[name] = converted


def attribute_value(value: Any) -> AttributeValue | None:
    """One value as an OTel attribute value; None when it should be left out."""
    kind = type(value)
    if kind is str or kind is float or kind is bool or kind is bytes:
        return value
    if kind is int:
        return value if _INT64[0] <= value <= _INT64[1] else _str(value)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        try:
            items = [attribute_value(v) for v in value]
        except Exception:  # a sequence of the user's that raises while iterated
            return _str(value)
        kinds = {type(v) for v in items}
        if not items or (len(kinds) == 1 and kinds.pop() in _PRIMITIVES):
            return tuple(items)  # type: ignore[arg-type]
        return _str(value)
    converted = plain_value(value)  # numpy and torch scalars, Decimal, ...; never raises
    if converted is not UNCONVERTIBLE:
        return attribute_value(converted)
    return _str(value)


def _str(value: Any) -> str:
    """``str(value)``; its repr, or a placeholder, when that raises."""
    try:
        text = str(value)
    except Exception:
        return safe_repr(value)
    return text if type(text) is str else safe_repr(value)
