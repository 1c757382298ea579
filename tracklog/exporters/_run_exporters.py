"""OpenTelemetry SDK exporters whose destination is a run: OTel logs and metrics in.

Both plug into an OTel SDK set-up you already have::

    provider.add_log_record_processor(BatchLogRecordProcessor(RunLogExporter(run)))
    MeterProvider(metric_readers=[PeriodicExportingMetricReader(RunMetricExporter(run))])

They only build events and enqueue them on the run's pipeline, so an export
returns at once; the run store is written by the background writer.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from typing import Any, Sequence

from opentelemetry import _logs, metrics
from opentelemetry.sdk.metrics.export import (
    ExponentialHistogram,
    Gauge,
    Histogram,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    Sum,
)

from .. import _diag
from .._errors import InvalidNameError
from .._otel_fields import series_name, unknown_level_name
from .._paths import check_file_name
from .._threads import start_thread
from .._values import NAMES, UNCONVERTIBLE, check_name, point_value
from ..pipeline import current
from ..pipeline.conventions import accepts_data, convention_events, has_conventions
from ..pipeline.event import LOG, METRIC, Event
from ..pipeline.target import HasTarget, RunTarget
from ._attributes import unflatten
from ._compat import LogExporterBase, LogExportResult, record_parts, std_level

__all__ = ["RunLogExporter", "RunMetricExporter", "series_name"]

_logger = logging.getLogger("tracklog.exporters")
_NOTHING = object()


def _flush_global_providers(seconds: float) -> None:
    """Before a run ends: export what the global OTel providers still hold (a batch
    processor's queue, a periodic reader's last values) while the run is open, so it
    lands there, not in a run started after it. Only the processors and readers that
    export into runs are flushed, at most ``seconds`` in all: on threads of their own,
    the run ending when they are done or the time is up (the SDK's batch processor does
    not keep to its timeout); a flush still running is not started again. Not in a
    forked child: the providers' state it inherited is the parent's.
    """
    if os.getpid() != _hook_pid:
        return
    deadline = time.monotonic() + seconds
    started = []
    for provider in (_logs.get_logger_provider(), metrics.get_meter_provider()):
        for flush in _run_flushes(provider):
            running = _flushing.get(id(flush.__self__))
            if running is not None and running.is_alive():
                continue
            thread = start_thread(
                _flush_one, "tracklog-otel-flush", kwargs={"flush": flush, "millis": int(seconds * 1000)}
            )
            _flushing[id(flush.__self__)] = thread
            started.append(thread)
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))


def _run_flushes(provider: Any) -> list[Any]:
    """The force_flush of each of the provider's processors and readers that export into
    runs: only those, so another exporter on a dead collector is not waited for. A
    provider of a shape not known here (another SDK release) is flushed whole."""
    multi = getattr(provider, "_multi_log_record_processor", None)
    processors = getattr(multi, "_log_record_processors", None)
    if processors is not None:
        return [p.force_flush for p in processors if isinstance(_exporter_of(p), RunLogExporter)]
    readers = getattr(provider, "_metric_readers", None)
    if readers is None:
        readers = getattr(getattr(provider, "_sdk_config", None), "metric_readers", None)
    if readers is not None:
        return [r.force_flush for r in readers if isinstance(getattr(r, "_exporter", None), RunMetricExporter)]
    flush = getattr(provider, "force_flush", None)
    return [] if flush is None or not hasattr(flush, "__self__") else [flush]


def _exporter_of(processor: Any) -> Any:
    exporter = getattr(processor, "_exporter", None)
    return exporter if exporter is not None else getattr(getattr(processor, "_batch_processor", None), "_exporter", None)


def _flush_one(flush: Any, millis: int) -> None:
    try:
        with _diag.handling():
            flush(timeout_millis=millis)
    except Exception:
        _logger.debug("tracklog: flushing an OTel provider before a run ends failed", exc_info=True)


#: The flush thread of each global provider (by id), so a stuck one is not started twice.
_flushing: dict[int, Any] = {}
_hook_pid = 0


def _flush_before_runs_end() -> None:
    """Have every run's end flush the global providers (once an exporter into runs exists)."""
    global _hook_pid
    if _hook_pid == 0:
        _hook_pid = os.getpid()
    current.before_end(_flush_global_providers)


def _closed(target: RunTarget) -> bool:
    return not accepts_data(target, "OpenTelemetry records")


class RunLogExporter(LogExporterBase):  # type: ignore[misc]
    """An OTel SDK log exporter into a run: each record becomes a line of the run's log
    file, and attributes that follow the record conventions (``metric``/``value``/``step``,
    ``metrics.<name>``, ``tags.<name>``, ``params.<name>``) become metrics, tags and params.

    With ``run=None`` records go to the current run at export time.
    """

    def __init__(self, run: HasTarget | None = None, filename: str = "python.log") -> None:
        self.run = run
        self.filename = check_file_name(filename)
        self._shutdown = False
        _flush_before_runs_end()

    def export(self, batch: Sequence[Any]) -> Any:
        """Enqueue the batch on the run's pipeline; FAILURE only when the run is unreachable.

        With no current run, a batch with run data starts one on first use; a batch
        of plain records waits for the run that starts next (it never starts one).
        """
        if self._shutdown:
            return LogExportResult.FAILURE
        try:
            run = self.run or current.current_run(create=False) or current.run_for(_has_data(batch))
            target = None if run is None else run.target
            events: list[Event] = []
            with _diag.handling():
                closed = None
                for item in batch:
                    closed = self._convert(target, item, events, closed)
            if target is None:
                for event in events:
                    current.hold(event)
            else:
                target.pipeline.put_many(events)
            return LogExportResult.SUCCESS
        except Exception:
            _logger.debug("tracklog: RunLogExporter could not export a batch", exc_info=True)
            return LogExportResult.FAILURE

    def _convert(
        self, target: RunTarget | None, item: Any, events: list[Event], closed: bool | None
    ) -> bool | None:
        record, _resource, scope = record_parts(item)
        stamp = record.timestamp or record.observed_timestamp or 0
        ts = stamp / 1e9
        attributes = dict(record.attributes or {})
        if attributes:
            fields = unflatten(attributes)
            if target is not None and has_conventions(fields):
                if closed is None:
                    closed = _closed(target)
                if not closed:
                    events.extend(convention_events(target, fields, ts))
        attrs: dict[str, Any] = {}
        if attributes:
            attrs["attributes"] = attributes
        if record.trace_id:
            attrs["trace_id"] = f"{record.trace_id:032x}"
            attrs["span_id"] = f"{record.span_id:016x}"
        event_name = getattr(record, "event_name", None)
        if event_name:
            attrs["event_name"] = event_name
        body = record.body
        message = body if isinstance(body, str) else _text(body)
        level = std_level(record.severity_number, record.severity_text)
        foreign = unknown_level_name(level, record.severity_text)
        if foreign:
            attrs["severity_text"] = foreign
        logger = getattr(scope, "name", None) or "opentelemetry"
        run_id = target.run_id if target is not None else ""
        events.append(Event(run_id, LOG, self.filename, None, None, ts, level, logger, message, attrs or None))
        return closed

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until what was exported so far is in the run store."""
        return _flush(self.run, timeout_millis)

    def shutdown(self) -> None:
        self._shutdown = True


def _has_data(batch: Sequence[Any]) -> bool:
    """Whether any record of the batch carries run data (the record conventions)."""
    for item in batch:
        attributes = record_parts(item)[0].attributes
        if attributes and has_conventions(unflatten(dict(attributes))):
            return True
    return False


def _text(body: Any) -> str:
    if body is None:
        return ""
    try:
        return json.dumps(body, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(body)


def _flush(run: HasTarget | None, timeout_millis: float) -> bool:
    try:
        found = run or current.current_run(create=False)
        if found is not None:
            found.target.flush(timeout_millis / 1000)
        return True
    except Exception:
        _logger.debug("tracklog: flush failed", exc_info=True)
        return False


class RunMetricExporter(MetricExporter):
    """An OTel SDK push metric exporter into a run, for ``PeriodicExportingMetricReader``.

    One run metric per instrument and attribute set (``requests{route=/a}``);
    counters and up-down counters give their sum, gauges their value, histograms
    ``<name>.count``, ``.sum``, ``.min`` and ``.max``. Each point keeps the data
    point's time; its step is the export's sequence number in that run (0, 1, 2, ...).
    ``preferred_temporality`` and ``preferred_aggregation`` are the SDK's (a delta
    counter gives each interval's count). With ``run=None`` points go to the current
    run; the first export with no run starts one, but an export after the run it went
    to has ended, with none current, is not kept (one warning): a run's end takes the
    reader's last values, and the periodic exports after it would start stray runs.
    """

    def __init__(
        self,
        run: HasTarget | None = None,
        preferred_temporality: dict[type, Any] | None = None,
        preferred_aggregation: dict[type, Any] | None = None,
    ) -> None:
        super().__init__(preferred_temporality=preferred_temporality, preferred_aggregation=preferred_aggregation)
        self.run = run
        self._sequence: dict[str, int] = {}  # the next step, by run id
        self._last_run: str | None = None
        self._exported: dict[str, Any] = {}  # the values of the last export into a run
        self._shutdown = False
        _flush_before_runs_end()

    # ``**kwargs`` only because the SDK's MetricExporter interface has them.
    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Enqueue every data point as a run metric point; never raises."""
        if self._shutdown:
            return MetricExportResult.FAILURE
        try:
            target = self._target()
            points = list(_points(metrics_data))
            if target is None:
                self._not_kept(points)
                return MetricExportResult.FAILURE
            step = self._sequence.get(target.run_id, 0)
            self._sequence[target.run_id] = step + 1
            self._exported = {name: value for name, value, _ in points}
            if not points or _closed(target):
                return MetricExportResult.SUCCESS
            events = []
            for name, value, ts in points:
                if type(name) is not str or name not in NAMES:
                    try:
                        name = check_name(name)
                    except InvalidNameError as exc:
                        _diag.warn_once(("otel-name", str(exc)), "tracklog: %s; the point is not logged", exc)
                        continue
                if type(value) is not float:
                    value = point_value(name, value)  # ints beyond 64 bits, Decimal, ...
                    if value is UNCONVERTIBLE:
                        continue
                events.append(Event(target.run_id, METRIC, name, value, target.step_for(name, step), ts))
            target.pipeline.put_many(events)
            return MetricExportResult.SUCCESS
        except Exception:
            _logger.debug("tracklog: RunMetricExporter could not export", exc_info=True)
            return MetricExportResult.FAILURE

    def _not_kept(self, points: list[tuple[str, Any, float]]) -> None:
        """An export with no run to go to: one warning if it holds values the last export
        into a run did not (the reader's export at exit repeats the run end's: silent)."""
        if self._last_run is None:
            return
        exported = self._exported
        if all(exported.get(name, _NOTHING) == value for name, value, _ in points):
            return
        _diag.warn_once(
            ("otel-metrics-after", self._last_run),
            "tracklog: OpenTelemetry metrics exported after run %s ended, with no run "
            "active, are not kept (no run is started for them)", self._last_run,
        )

    def _target(self) -> RunTarget | None:
        """The run this export goes to: the exporter's own, else the current run, else
        (the first time only) one started on first use; metric points are run data."""
        if self.run is not None:
            return self.run.target
        found = current.current_run(create=False) if self._last_run is not None else None
        if found is None and self._last_run is not None:
            return None  # its run has ended: no stray run (see _not_kept)
        if found is None:
            found = current.run_for(True)
        if found is None:
            return None
        self._last_run = found.id
        return found.target

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Wait until what was exported so far is in the run store."""
        return _flush(self.run, timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._shutdown = True


def _points(metrics_data: MetricsData) -> Any:
    """(series name, value, seconds) for every data point of an export."""
    for resource_metrics in metrics_data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                data = metric.data
                if isinstance(data, (Sum, Gauge)):
                    for point in data.data_points:
                        yield series_name(metric.name, point.attributes), point.value, point.time_unix_nano / 1e9
                elif isinstance(data, (Histogram, ExponentialHistogram)):
                    for point in data.data_points:
                        ts = point.time_unix_nano / 1e9
                        yield series_name(metric.name, point.attributes, "count"), point.count, ts
                        yield series_name(metric.name, point.attributes, "sum"), point.sum, ts
                        if point.count and math.isfinite(point.min) and math.isfinite(point.max):
                            yield series_name(metric.name, point.attributes, "min"), point.min, ts
                            yield series_name(metric.name, point.attributes, "max"), point.max, ts
