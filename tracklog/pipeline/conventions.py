"""The record conventions (metric/value/step, metrics, tag(s), param(s)) turned into events.

Every source uses this one mapping: RunHandler (a LogRecord's ``extra``), the
structlog processor (the event dict), OpenTelemetry attributes and JSON lines
printed by a child process. Bad fields become one-time warnings, never errors:
every value, step and name is decided here by the rules of ``tracklog._values``,
so what reaches the writer is what the stores keep.
"""

from __future__ import annotations

from typing import Any, Mapping

from .. import _diag
from .._errors import InvalidNameError
from .._values import (
    NAMES,
    UNCONVERTIBLE,
    check_name,
    point_step,
    point_value,
    setting_value,
)
from .event import METRIC, PARAM, TAG, Event
from .target import RunTarget

_MISSING = object()

#: The field names that carry run data.
KEYS = ("metric", "metrics", "tag", "tags", "param", "params")
#: Every field the conventions read: kept as run data, so log lines leave them out.
FIELDS = frozenset(KEYS) | {"value", "step"}


def has_conventions(fields: Mapping[str, Any]) -> bool:
    """True when ``fields`` holds any of the convention keys (cheap check first)."""
    return (
        "metric" in fields
        or "metrics" in fields
        or "tags" in fields
        or "tag" in fields
        or "params" in fields
        or "param" in fields
    )


def used_fields(fields: Mapping[str, Any]) -> frozenset[str]:
    """The fields the conventions take from ``fields`` (a log line leaves them out):
    the keys present, with ``value`` and ``step`` only when a metric or param reads them,
    so a plain ``value=3`` stays in the line."""
    used = {key for key in KEYS if key in fields}
    if not used:
        return frozenset()
    if "metric" in used or "metrics" in used:
        used.add("step")
    if "metric" in used or ("param" in used and not isinstance(fields["param"], Mapping)):
        used.add("value")
    return frozenset(used & fields.keys())


def accepts_data(target: RunTarget, source: str) -> bool:
    """False once the run has ended, with one warning per run: its later ``source`` still
    reach its log file, but their metrics, tags and params are not recorded."""
    if not target.closed:
        return True
    _diag.warn_once(
        ("closed", target.run_id),
        "tracklog: run %s has ended; metrics, tags and params of later %s are not recorded "
        "(they still go to its log file)",
        target.run_id,
        source,
    )
    return False


def _warn(what: str, detail: str, *args: object) -> None:
    # Once per template and value: a second bad name is a second warning.
    _diag.warn_once(("conv", what, detail, *map(_key, args)), "tracklog: " + detail, *args)


def _key(arg: object) -> str:
    """A warning argument as a stable key (an exception raised again is a new object)."""
    if type(arg) is str:
        return arg
    try:
        return repr(arg)
    except Exception:
        return type(arg).__name__


def convention_events(target: RunTarget, fields: Mapping[str, Any], ts: float) -> list[Event]:
    """The metric, tag and param events that ``fields`` describes for the run; never raises."""
    if "metric" in fields and not (
        "metrics" in fields or "tags" in fields or "tag" in fields or "params" in fields or "param" in fields
    ):
        # The common case, one point: a name seen before, an int64 or float value, an int64 step or none.
        name, value, step = fields["metric"], fields.get("value", _MISSING), fields.get("step")
        if (
            type(name) is str
            and name in NAMES
            and (type(value) is float or (type(value) is int and -(2**63) <= value < 2**63))
            and (step is None or (type(step) is int and -(2**63) <= step < 2**63))
        ):
            return [Event(target.run_id, METRIC, name, value, target.step_for(name, step), ts)]
    events: list[Event] = []
    try:
        _collect(events, target, fields, ts)
    except Exception as exc:  # a Mapping of the user's that raises: what was read is kept
        _warn(
            "fields:" + type(exc).__name__,
            "could not read the run data of a record (%s); the rest of it is not recorded",
            type(exc).__name__,
        )
    return events


def _collect(events: list[Event], target: RunTarget, fields: Mapping[str, Any], ts: float) -> None:
    step: int | None = None
    if "step" in fields:
        step = point_step(fields["step"])
    run_id = target.run_id
    if "metric" in fields:
        name = fields["metric"]
        if "value" not in fields:
            _warn("metric-novalue", "metric=%r has no value=...; nothing logged", _text(name))
        else:
            _metric(events, target, name, fields["value"], step, ts)
    if "metrics" in fields:
        metrics = fields["metrics"]
        if isinstance(metrics, Mapping):
            for name, value in metrics.items():
                _metric(events, target, name, value, step, ts)
        else:
            _warn("metrics-type", "metrics=%r is not a dict of name: value; nothing logged", type(metrics).__name__)
    for key in ("tag", "tags"):
        if key in fields:
            for name, value in _pairs(fields[key], key):
                events.append(Event(run_id, TAG, name, value, None, ts))
    for key in ("param", "params"):
        if key in fields:
            raw = fields[key]
            if isinstance(raw, Mapping):
                pairs = _pairs(raw, key)
            elif key == "param" and "value" in fields and "metric" not in fields:
                pairs = _pairs({raw: fields["value"]}, key)
            else:
                _warn(key + "-type", key + "=%r is not a dict of name: value; ignored", type(raw).__name__)
                pairs = []
            for name, value in pairs:
                events.append(Event(run_id, PARAM, name, value, None, ts))


def _text(value: Any) -> str:
    return value if type(value) is str else type(value).__name__


def _pairs(raw: Any, key: str) -> list[tuple[str, str]]:
    """Tags or params as (name, text) pairs: a dict, a bare name, or a list of names."""
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, str):
        items = [(raw, "")]
    elif isinstance(raw, (list, tuple, set, frozenset)) and all(isinstance(x, str) for x in raw):
        items = [(name, "") for name in raw]
    else:
        _warn(key + "-type", key + "=%r must be a name or a dict of name: value; ignored", type(raw).__name__)
        return []
    pairs = []
    what = key.rstrip("s")
    for name, value in items:
        try:
            name = check_name(name, what)
        except InvalidNameError as exc:
            _warn(key + "-name", "%s; ignored", exc)
            continue
        text = setting_value(what, name, value)
        if text is not UNCONVERTIBLE:
            pairs.append((name, text))
    return pairs


def _metric(events: list[Event], target: RunTarget, name: Any, value: Any, step: int | None, ts: float) -> None:
    try:
        name = check_name(name)
    except InvalidNameError as exc:
        _warn("metric-name", "%s; the point is not logged", exc)
        return
    converted = point_value(name, value)
    if converted is not UNCONVERTIBLE:
        events.append(Event(target.run_id, METRIC, name, converted, target.step_for(name, step), ts))
