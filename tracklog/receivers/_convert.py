"""OTLP requests as tracklog events: logs, metrics and spans, the way the SDK exporters map them.

* A log record becomes a line of the run's ``python.log`` (severity as a stdlib
  level, body, attributes, trace and span ids, the scope as the logger) and, when
  its attributes follow the record conventions, metrics, tags and params: the
  reading of ``RunLogExporter``.
* Gauges and sums become one run metric per name and attribute set, named as
  ``RunMetricExporter`` names them (``requests{route=/a}``); histograms and
  exponential histograms ``.count``, ``.sum``, ``.min``, ``.max``; summaries
  ``.count`` and ``.sum``. Each point's step is the next of its series. In a run several
  instances joined by id, each instance but the first qualifies its series with the
  attribute ``instance`` (``requests{instance=b,route=/a}``). A point flagged
  ``FLAG_NO_RECORDED_VALUE`` (a collector's staleness marker: the series went away) and a
  gauge or sum point with no value set carry no measurement, and are not stored (never
  as 0); they still count as seen.
* A span becomes a line of the run's ``spans.jsonl`` and, when it has a duration,
  a point of ``span.<name>.duration_ms``.
* Into a run that has ended, lines are still written, but no metrics, tags or params:
  each function returns an :class:`Outcome` counting what it did not record (log
  records with run data, metric points), for the response's ``partial_success``. A
  span's duration point is ours, not the sender's, and is not counted.
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any, NamedTuple

from .. import _diag
from .._errors import InvalidNameError
from .._otel_fields import series_name, std_level, unflatten, unknown_level_name
from .._values import NAMES, UNCONVERTIBLE, check_name, point_value
from ..pipeline.conventions import accepts_data, convention_events, has_conventions
from ..pipeline.event import LOG, METRIC, Event
from ..pipeline.target import RunTarget
from ._attrs import attributes, value
from ._runs import failure_of, routed_end

__all__ = ["LOG_FILE", "SPAN_FILE", "Outcome", "log_events", "metric_events", "span_events"]

LOG_FILE = "python.log"
SPAN_FILE = "spans.jsonl"

#: DataPointFlags.FLAG_NO_RECORDED_VALUE: the point marks the absence of a value.
_NO_RECORDED_VALUE = 1

_SPAN_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


class Outcome(NamedTuple):
    """What converting one resource's data says back to the exporter."""

    #: Records, points or spans seen.
    seen: int
    #: Of those, the records and points whose run data was not recorded: their run has ended.
    refused: int = 0
    #: The failure the last log record says (see ``failure_of``), for a service's run.
    error: str | None = None
    #: The status and error of a run's end that tracklog's routing sent (``routed_end``).
    end: tuple[str, str | None] | None = None


def _seconds(nanos: int, fallback: int = 0) -> float:
    stamp = nanos or fallback
    return stamp / 1e9 if stamp else time.time()


def _body_text(body: Any) -> str:
    if body.WhichOneof("value") == "string_value":
        return body.string_value
    found = value(body)
    if found is None:
        return ""
    if isinstance(found, str):
        return found
    return json.dumps(found, ensure_ascii=False, default=repr)


def log_events(target: RunTarget, scope_logs: Any, events: list[Event]) -> Outcome:
    """Events for one ResourceLogs' records; records seen, those whose run data was refused,
    and the failure the last record says."""
    run_id = target.run_id
    closed: bool | None = None
    count = refused = 0
    error: str | None = None
    end: tuple[str, str | None] | None = None
    for scope in scope_logs:
        logger = scope.scope.name or "opentelemetry"
        for record in scope.log_records:
            count += 1
            ts = _seconds(record.time_unix_nano, record.observed_time_unix_nano)
            attrs: dict[str, Any] = {}
            fields = attributes(record.attributes) if record.attributes else None
            if fields:
                attrs["attributes"] = fields
                nested = unflatten(fields)
                if has_conventions(nested):
                    if closed is None:
                        closed = not accepts_data(target, "OTLP records")
                    if closed:
                        refused += 1
                    else:
                        events.extend(convention_events(target, nested, ts))
            if record.trace_id:
                attrs["trace_id"] = record.trace_id.hex()
                attrs["span_id"] = record.span_id.hex()
            event_name = getattr(record, "event_name", "")
            if event_name:
                attrs["event_name"] = event_name
                if fields:
                    end = routed_end(event_name, fields) or end
            level = std_level(record.severity_number, record.severity_text)
            foreign = unknown_level_name(level, record.severity_text)
            if foreign:
                attrs["severity_text"] = foreign
            error = failure_of(level, fields) if fields else None
            events.append(
                Event(run_id, LOG, LOG_FILE, None, None, ts, level, logger, _body_text(record.body), attrs or None)
            )
    return Outcome(count, refused, error, end)


def _point(target: RunTarget, events: list[Event], name: str, raw: Any, ts: float) -> None:
    if type(name) is not str or name not in NAMES:
        try:
            name = check_name(name)
        except InvalidNameError as exc:
            _diag.warn_once(("otlp-name", str(exc)), "tracklog: %s; the point is not logged", exc)
            return
    if type(raw) is not float:
        raw = point_value(name, raw)
        if raw is UNCONVERTIBLE:
            return
    events.append(Event(target.run_id, METRIC, name, raw, target.step_for(name, None), ts))


def metric_events(target: RunTarget, scope_metrics: Any, events: list[Event], instance: str | None = None) -> Outcome:
    """Events for one ResourceMetrics' data points; the points seen (all refused when the
    run has ended). ``instance`` qualifies every series (the attribute ``instance``), for an
    instance that is not the first to send metrics into a run it joined by id."""
    if not accepts_data(target, "OTLP metrics"):
        seen = sum(_point_count(m) for s in scope_metrics for m in s.metrics)
        return Outcome(seen, seen)
    count = 0
    for scope in scope_metrics:
        for metric in scope.metrics:
            kind = metric.WhichOneof("data")
            if kind is None:
                continue
            data = getattr(metric, kind)
            for point in data.data_points:
                count += 1
                if point.flags & _NO_RECORDED_VALUE:
                    continue  # a staleness marker: no measurement
                labels = attributes(point.attributes) if point.attributes else None
                if instance is not None:
                    labels = _qualified(labels, instance)
                ts = _seconds(point.time_unix_nano)
                if kind in ("gauge", "sum"):
                    number = point.WhichOneof("value")
                    if number is not None:  # neither as_int nor as_double: no measurement either
                        _point(target, events, series_name(metric.name, labels), getattr(point, number), ts)
                    continue
                _point(target, events, series_name(metric.name, labels, "count"), point.count, ts)
                if kind == "summary" or point.HasField("sum"):
                    _point(target, events, series_name(metric.name, labels, "sum"), point.sum, ts)
                if kind != "summary" and point.count and point.HasField("min") and point.HasField("max"):
                    if math.isfinite(point.min) and math.isfinite(point.max):
                        _point(target, events, series_name(metric.name, labels, "min"), point.min, ts)
                        _point(target, events, series_name(metric.name, labels, "max"), point.max, ts)
    return Outcome(count)


def _qualified(labels: dict[str, Any] | None, instance: str) -> dict[str, Any]:
    """A point's attributes with its instance: ``instance``, or ``tracklog.instance`` when the
    point has an ``instance`` attribute of its own."""
    labels = dict(labels or {})
    labels["tracklog.instance" if "instance" in labels else "instance"] = instance
    return labels


def _point_count(metric: Any) -> int:
    kind = metric.WhichOneof("data")
    return 0 if kind is None else len(getattr(metric, kind).data_points)


def span_events(target: RunTarget, scope_spans: Any, events: list[Event]) -> Outcome:
    """Events for one ResourceSpans' spans; the spans seen (none refused: a span's line is
    always kept)."""
    run_id = target.run_id
    data = accepts_data(target, "OTLP spans")
    count = 0
    for scope in scope_spans:
        logger = scope.scope.name or "opentelemetry"
        for span in scope.spans:
            count += 1
            start, end = span.start_time_unix_nano, span.end_time_unix_nano
            duration = (end - start) / 1e6 if start and end >= start else None
            attrs: dict[str, Any] = {
                "trace_id": span.trace_id.hex(),
                "span_id": span.span_id.hex(),
                "kind": _SPAN_KINDS.get(span.kind, str(span.kind)),
                "start_unix_nano": start,
                "end_unix_nano": end,
            }
            if span.parent_span_id:
                attrs["parent_span_id"] = span.parent_span_id.hex()
            if duration is not None:
                attrs["duration_ms"] = duration
            attrs["status"] = {"code": _STATUS.get(span.status.code, str(span.status.code)), "message": span.status.message}
            if span.attributes:
                attrs["attributes"] = attributes(span.attributes)
            if span.events:
                attrs["events"] = [
                    {"name": e.name, "time_unix_nano": e.time_unix_nano, "attributes": attributes(e.attributes)}
                    for e in span.events
                ]
            if span.links:
                attrs["links"] = [
                    {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(), "attributes": attributes(link.attributes)}
                    for link in span.links
                ]
            level = logging.ERROR if span.status.code == 2 else logging.INFO
            ts = _seconds(end or start)
            events.append(Event(run_id, LOG, SPAN_FILE, None, None, ts, level, logger, span.name, attrs))
            if data and duration is not None and span.name:
                _point(target, events, f"span.{span.name}.duration_ms", duration, ts)
    return Outcome(count)
