"""Turning user values into what the store keeps: numbers, strings, names and steps."""

from __future__ import annotations

import math
import numbers
from typing import Any

from ._errors import InvalidNameError

#: Longest metric/tag/param name accepted, in characters.
MAX_NAME_LENGTH = 4096

_UNCONVERTIBLE = object()


def metric_value(value: Any) -> Any:
    """Return ``value`` as int, float or str, or the sentinel ``UNCONVERTIBLE``.

    bool becomes int; numpy and torch scalars (and one-element arrays/tensors)
    become Python numbers; other numbers (Decimal, Fraction) become float.
    """
    kind = type(value)
    if kind is float or kind is int or kind is str:
        return value
    if kind is bool:
        return int(value)
    item = getattr(value, "item", None)
    if item is not None and _element_count(value) == 1:
        try:
            value = item()
        except Exception:
            return _UNCONVERTIBLE
        return _UNCONVERTIBLE if value is None else metric_value(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    # Real covers Fraction; Decimal is a Number but not registered as Real.
    if isinstance(value, numbers.Real) or (
        isinstance(value, numbers.Number) and not isinstance(value, numbers.Complex)
    ):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return _UNCONVERTIBLE


def _element_count(value: Any) -> int:
    """Elements in a numpy/torch value: numpy has ``size``, torch ``numel()``."""
    numel = getattr(value, "numel", None)
    if callable(numel):
        try:
            return int(numel())
        except Exception:
            return -1
    size = getattr(value, "size", 1)
    return size if isinstance(size, int) else -1


UNCONVERTIBLE = _UNCONVERTIBLE


def check_name(name: Any, what: str = "metric") -> str:
    """Return ``name`` as a usable string or raise InvalidNameError saying why."""
    if not isinstance(name, str):
        if name is None:
            raise InvalidNameError(f"a {what} name is required, got None")
        name = str(name)
    if not name:
        raise InvalidNameError(f"a {what} name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"a {what} name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}: "
            f"shorten {name[:40]!r}..."
        )
    if "\x00" in name:
        raise InvalidNameError(f"a {what} name must not contain NUL characters: {name!r}")
    return name


def coerce_step(step: Any) -> int | None:
    """Return ``step`` as an int, or None when it is not a whole number."""
    if type(step) is int:
        return step
    if isinstance(step, bool) or step is None:
        return None
    if isinstance(step, numbers.Integral):
        return int(step)
    item = getattr(step, "item", None)
    if item is not None:
        try:
            step = item()
        except Exception:
            return None
    if isinstance(step, float) and math.isfinite(step) and step.is_integer():
        return int(step)
    if isinstance(step, int):
        return int(step)
    if isinstance(step, str):
        try:
            return int(step.strip())
        except ValueError:
            return None
    return None


def text_value(value: Any) -> str:
    """A tag or param value as the string the store keeps (MLflow keeps strings)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    converted = metric_value(value)
    if converted is not UNCONVERTIBLE and not isinstance(converted, str):
        return repr(converted) if isinstance(converted, float) else str(converted)
    return str(value)
