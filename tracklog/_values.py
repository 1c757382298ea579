"""Turning user values into what the store keeps: numbers, strings, names, steps and times.

Every entry point decides here, at call time, what a value becomes, so the writer
never meets a value a store cannot keep: ``run.log`` and its siblings, and the
record conventions that RunHandler, the structlog processor, the OpenTelemetry
exporters and captured JSON lines share. Hot paths inline only type checks with
the same limits (:data:`INT64_MIN`, :data:`INT64_MAX`, :data:`NAMES`) and fall
back to these functions for anything else. The rules:

* Metric values are int (64-bit), float (NaN and ±inf kept) or str. bool, numpy
  and torch scalars, Decimal and Fraction become Python numbers; ``Decimal('sNaN')``
  becomes NaN. An int outside 64 bits becomes the nearest float, with one warning
  per metric (MLflow's metrics are doubles); one too large even for a float is
  refused. Anything else, and any object that raises while it is looked at
  (``__getattr__``, ``__float__``, ``__index__``...), is refused with one warning.
  Nothing here ever raises into the caller.
* Steps are whole numbers within 64 bits; any other step is ignored with one
  warning and the next step is used, so the point is kept.
* Names are non-empty str of at most :data:`MAX_NAME_LENGTH` characters without
  NUL; the run API raises InvalidNameError for any other, the record paths warn
  once and leave the point out (its log line is kept).
* Text (names, str values, tag and param values) that UTF-8 cannot encode (a lone
  surrogate, as ``os.fsdecode`` makes of undecodable bytes) is kept with each
  such character written as its escape (``'\\udcff'`` becomes the six characters
  ``\\udcff``), with one warning.
* Record times are finite numbers; anything else (NaN, ±inf, None, a str) is the
  time of handling, with one warning.
"""

from __future__ import annotations

import math
import numbers
import time
from decimal import Decimal
from typing import Any

from . import _diag
from ._errors import InvalidNameError

#: Longest metric/tag/param name accepted, in characters.
MAX_NAME_LENGTH = 4096
#: The range of ints the stores keep as ints (SQLite's INTEGER, MLflow's step).
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: Returned for a value that cannot be logged.
UNCONVERTIBLE: Any = object()

#: Names :func:`check_name` accepted as given: hot paths test membership, not the rules.
NAMES: set[str] = set()
_MAX_NAMES = 100_000


# -- values ----------------------------------------------------------------------


def plain_value(value: Any) -> Any:
    """``value`` as the Python int (any size), float or str it stands for, or UNCONVERTIBLE.

    Never raises: an object that raises while it is looked at is UNCONVERTIBLE.
    """
    try:
        return _plain(value, True)
    except Exception:
        return UNCONVERTIBLE


def _plain(value: Any, unwrap: bool) -> Any:
    kind = type(value)
    if kind is float or kind is int or kind is str:
        return value
    if kind is bool:
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)  # a str subclass's own __str__ is never called
    if isinstance(value, Decimal):
        return math.nan if value.is_nan() else float(value)  # float() raises on sNaN
    if unwrap:
        item = getattr(value, "item", None)  # numpy and torch scalars, one-element arrays
        if item is not None and _element_count(value) == 1:
            value = item()
            return UNCONVERTIBLE if value is None else _plain(value, False)
    if isinstance(value, numbers.Integral):
        return int(value)
    # Real covers Fraction and numpy floats; other Numbers that are not Complex too.
    if isinstance(value, numbers.Real) or (
        isinstance(value, numbers.Number) and not isinstance(value, numbers.Complex)
    ):
        return float(value)
    return UNCONVERTIBLE


def _element_count(value: Any) -> int:
    """Elements in a numpy/torch value: numpy has ``size``, torch ``numel()``."""
    numel = getattr(value, "numel", None)
    if callable(numel):
        return int(numel())
    size = getattr(value, "size", 1)
    return size if type(size) is int else -1


def metric_value(value: Any) -> Any:
    """``value`` as the store keeps it: int within 64 bits, float or str; or UNCONVERTIBLE.

    Silent; :func:`point_value` is the same with the warnings.
    """
    converted = plain_value(value)
    kind = type(converted)
    if kind is int:
        if INT64_MIN <= converted <= INT64_MAX:
            return converted
        try:
            return float(converted)
        except OverflowError:
            return UNCONVERTIBLE
    if kind is str and not converted.isascii():
        return clean_text(converted)
    return converted


def point_value(name: str, value: Any) -> Any:
    """``value`` of metric ``name`` as the store keeps it, or UNCONVERTIBLE; one warning
    per metric for a value refused, an int outside 64 bits made a float, or text escaped."""
    kind = type(value)
    if kind is float or (kind is int and INT64_MIN <= value <= INT64_MAX):
        return value
    exact = plain_value(value)  # once: numpy floats are common and pass through here
    kind_exact = type(exact)
    if kind_exact is float or (kind_exact is int and INT64_MIN <= exact <= INT64_MAX):
        return exact
    if kind_exact is int:
        try:
            converted = float(exact)
        except OverflowError:
            _diag.warn_once(
                ("value-huge", name),
                "tracklog: metric %r: %s is too large even for a float; the point is not logged",
                name,
                _int_text(exact),
            )
            return UNCONVERTIBLE
        _diag.warn_once(
            ("value-wide", name),
            "tracklog: metric %r: %s is outside the 64-bit integer range; stored as the "
            "float %r (metric values are 64-bit, as MLflow's doubles)",
            name,
            _int_text(exact),
            converted,
        )
        return converted
    if kind_exact is str:
        converted = exact if exact.isascii() else clean_text(exact)
        if converted is not exact:
            _warn_escaped("metric value", name, converted)
        return converted
    _diag.warn_once(
        ("value", name, kind.__name__),
        "tracklog: metric %r: a %s value cannot be logged (use int, float, str, "
        "or a numpy/torch scalar); the point is not logged",
        name,
        kind.__name__,
    )
    return UNCONVERTIBLE


def _int_text(value: int) -> str:
    """An int for a message: its digits, or its size (str() refuses ints over 4300 digits)."""
    if value.bit_length() < 1000:
        return str(value)
    return f"an int of {value.bit_length()} bits"


def is_number(value: Any) -> bool:
    """True for a value that is a number: int, float, Decimal, Fraction, numpy/torch scalars; not bool.

    ``RunProcessor(metrics=NUMERIC)`` takes these keys as metrics. Never raises.
    """
    kind = type(value)
    if kind is float or kind is int:
        return True
    try:
        if kind is bool or isinstance(value, (str, bytes, bool)):
            return False
        if isinstance(value, (numbers.Real, Decimal)):
            return True
        if isinstance(value, numbers.Complex):
            return False
        dtype = getattr(value, "dtype", None)  # numpy / torch 0-d values
        return dtype is not None and getattr(value, "ndim", 1) == 0 and getattr(dtype, "kind", "f") in "iuf"
    except Exception:
        return False


# -- text ------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """``text`` itself when UTF-8 can encode it, else with each lone surrogate escaped (silent)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _warn_escaped(what: str, name: str, text: str) -> None:
    _diag.warn_once(
        ("escaped", what, name),
        "tracklog: %s %r held a lone surrogate (undecodable bytes?); kept as %r",
        what,
        name,
        text,
    )


def text_value(value: Any) -> Any:
    """A tag or param value as the string the store keeps (MLflow keeps strings), or
    UNCONVERTIBLE for an object whose ``str`` raises. Silent; never raises."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value if value.isascii() else clean_text(value)
    if kind is bool or _is_bool_array(value):
        return "True" if value else "False"  # as str() and MLflow spell it (as a metric it is 1)
    if kind is int and value.bit_length() < 14_000:
        return str(value)  # every digit, as MLflow keeps it (str() refuses over 4,300 digits)
    if kind is not int and kind is not float and isinstance(value, numbers.Number):
        # numpy, Decimal and Fraction values as str() gives them, as MLflow stores them:
        # np.float32(0.1) is "0.1" (its float would be 0.10000000149011612), np.True_ "True".
        try:
            text = str(value)
        except Exception:
            text = None
        if type(text) is str:
            return text if text.isascii() else clean_text(text)
    converted = metric_value(value)
    if converted is not UNCONVERTIBLE:
        return repr(converted) if type(converted) is float else str(converted)
    try:
        text = str(value)
    except Exception:
        return UNCONVERTIBLE
    return text if type(text) is str and text.isascii() else clean_text(str.__str__(text))


def _is_bool_array(value: Any) -> bool:
    """A numpy bool, or a one-element numpy/torch bool array. Never raises."""
    try:
        dtype = getattr(value, "dtype", None)
        if dtype is None or not (getattr(dtype, "kind", None) == "b" or str(dtype) == "torch.bool"):
            return False
        return _element_count(value) == 1
    except Exception:
        return False


def mlflow_text(value: Any) -> Any:
    """``value`` as MLflow makes a param or tag value, ``str(value)`` (``True``, ``None`` and
    ``10**30`` as Python spells them); a string as it is; ``value`` itself when ``str`` fails
    (setting_value then warns and it is not set). The Azure vocabulary keeps text_value's."""
    if type(value) is str:
        return value
    try:
        text = str(value)
    except Exception:
        return value
    return text if type(text) is str else value


def setting_value(what: str, name: str, value: Any) -> Any:
    """:func:`text_value` for tag or param ``name``, with one warning when it is refused or escaped."""
    text = text_value(value)
    if text is UNCONVERTIBLE:
        _diag.warn_once(
            ("setting", what, name, type(value).__name__),
            "tracklog: %s %r: its %s value cannot be made a string; not set",
            what,
            name,
            type(value).__name__,
        )
    elif type(value) is str and text is not value:
        _warn_escaped(what + " value", name, text)
    return text


# -- names and steps --------------------------------------------------------------


def check_name(name: Any, what: str = "metric") -> str:
    """Return ``name`` as a usable string or raise InvalidNameError saying why.

    Lone surrogates are escaped (one warning); a name accepted as given joins NAMES.
    """
    if type(name) is str and name in NAMES:
        return name
    given = name
    if not isinstance(name, str):
        if name is None:
            raise InvalidNameError(f"a {what} name is required, got None")
        try:
            name = str(name)
        except Exception:
            raise InvalidNameError(
                f"a {what} name must be a str; str() of the {type(given).__name__} given raised"
            ) from None
        if not isinstance(name, str):
            raise InvalidNameError(f"a {what} name must be a str, got a {type(given).__name__}")
    name = str.__str__(name)
    if not name:
        raise InvalidNameError(f"a {what} name must not be empty")
    if not name.isascii():
        escaped = clean_text(name)
        if escaped is not name:
            _warn_escaped(what + " name", name, escaped)
            name = escaped
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"a {what} name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}: "
            f"shorten {name[:40]!r}..."
        )
    if "\x00" in name:
        raise InvalidNameError(f"a {what} name must not contain NUL characters: {name!r}")
    if name is given:
        if len(NAMES) >= _MAX_NAMES:
            NAMES.clear()
        NAMES.add(name)
    return name


def coerce_step(step: Any) -> int | None:
    """Return ``step`` as an int within 64 bits, or None when it is not one. Never raises."""
    if type(step) is int:
        return step if INT64_MIN <= step <= INT64_MAX else None
    if step is None or type(step) is bool:
        return None
    try:
        converted = _step(step)
    except Exception:
        return None
    if converted is None or not INT64_MIN <= converted <= INT64_MAX:
        return None
    return converted


def _step(step: Any) -> int | None:
    if isinstance(step, bool):
        return None
    if isinstance(step, numbers.Integral):
        return int(step)
    if isinstance(step, str):
        try:
            return int(step.strip())
        except ValueError:
            return None
    item = getattr(step, "item", None)
    if item is not None:
        step = item()
        if isinstance(step, bool):
            return None
    if isinstance(step, float) and math.isfinite(step) and step.is_integer():
        return int(step)
    if isinstance(step, int):
        return int(step)
    return None


def point_step(step: Any) -> int | None:
    """:func:`coerce_step`, with one warning when a step given is ignored (the next step is used)."""
    converted = coerce_step(step)
    if converted is None and step is not None:
        _diag.warn_once(
            ("step", type(step).__name__),
            "tracklog: ignored step=%s: a step must be a whole number within 64 bits; the next step is used",
            _Repr(step),
        )
    return converted


# -- times and text for messages ----------------------------------------------------


def record_time(created: Any) -> float:
    """A record's time as finite float seconds; the time of handling, with one warning, when it is none."""
    if type(created) is float and created - created == 0.0:  # False for NaN and ±inf
        return created
    ts = math.nan
    if not isinstance(created, (str, bytes, bool)) and created is not None:
        try:
            ts = float(created)
        except Exception:  # Decimal('sNaN'), an object whose __float__ raises: not a time
            ts = math.nan
    if ts - ts == 0.0:
        return ts
    _diag.warn_once(
        ("record-time", type(created).__name__, str(ts)),
        "tracklog: a record time of %s is not a time; the time of handling is used",
        _Repr(created),
    )
    return time.time()


def safe_repr(value: Any, limit: int = 200) -> str:
    """``repr(value)`` for a message, shortened; a placeholder when repr raises."""
    try:
        text = repr(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"
    if type(text) is not str:
        return f"<unprintable {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


class _Repr:
    """A value's :func:`safe_repr`, made only if a message is printed (warnings are once)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return safe_repr(self.value)
