"""The record conventions (metric/value/step, metrics, tag(s), param(s)) turned into events.

Every source uses this one mapping: RunHandler (a LogRecord's ``extra``), the
structlog processor (the event dict), OpenTelemetry attributes and JSON lines
printed by a child process. Bad fields become one-time warnings, never errors.
"""

from __future__ import annotations

from typing import Any, Mapping

from .. import _diag
from .._errors import InvalidNameError
from .._values import (
    MAX_NAME_LENGTH,
    UNCONVERTIBLE,
    check_name,
    coerce_step,
    metric_value,
    text_value,
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
    _diag.warn_once(("conv", what, detail), "tracklog: " + detail, *args)


def convention_events(target: RunTarget, fields: Mapping[str, Any], ts: float) -> list[Event]:
    """The metric, tag and param events that ``fields`` describes for the run."""
    if "metric" in fields and not (
        "metrics" in fields or "tags" in fields or "tag" in fields or "params" in fields or "param" in fields
    ):
        # The common case, one point: name a str, value an int or float, step an int or absent.
        name, value, step = fields["metric"], fields.get("value", _MISSING), fields.get("step")
        if (
            type(name) is str
            and 0 < len(name) <= MAX_NAME_LENGTH
            and (type(value) is float or type(value) is int)
            and (step is None or type(step) is int)
        ):
            return [Event(target.run_id, METRIC, name, value, target.step_for(name, step), ts)]
    events: list[Event] = []
    step: int | None = None
    if "step" in fields and fields["step"] is not None:
        step = coerce_step(fields["step"])
        if step is None:
            _warn("step", "ignored step=%r: a step must be a whole number; the next step is used", fields["step"])
    run_id = target.run_id
    if "metric" in fields:
        name = fields["metric"]
        if "value" not in fields:
            _warn("metric-novalue", "metric=%r has no value=...; nothing logged", name)
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
    return events


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
    for name, value in items:
        try:
            pairs.append((check_name(name, key), text_value(value)))
        except InvalidNameError as exc:
            _warn(key + "-name", "%s; ignored", exc)
    return pairs


def _metric(events: list[Event], target: RunTarget, name: Any, value: Any, step: int | None, ts: float) -> None:
    try:
        name = check_name(name)
    except InvalidNameError as exc:
        _warn("metric-name", "%s; the point is not logged", exc)
        return
    converted = metric_value(value)
    if converted is UNCONVERTIBLE:
        _warn(
            "value:" + type(value).__name__,
            "metric %r: a %s value cannot be logged (use int, float, str, or a numpy/torch scalar)",
            name,
            type(value).__name__,
        )
        return
    events.append(Event(target.run_id, METRIC, name, converted, target.step_for(name, step), ts))
