"""The OTLP sink: run events out through the OpenTelemetry SDK's own OTLP exporters.

``write`` runs on the pipeline's writer thread and only appends the batch to a
bounded queue, so the run store is never held up by a collector. One export
thread per process converts events into OTel log records (every run event,
metric points with event name ``tracklog.metric``, a run's end with ``tracklog.status``)
and latest-value gauges, and hands them to the SDK's ``OTLPLogExporter`` /
``OTLPMetricExporter``.

Why one export thread and per-record resources, not one LoggerProvider per run:
each record carries its run's resource (``tracklog.run_id``,
``tracklog.experiment``), so one export request can hold several runs (one
``ResourceLogs`` each) and a process with a hundred child runs still has one
thread and one connection. The queue is tracklog's own, so every record that
cannot be delivered (queue full, export failed, still queued at exit) is
counted exactly, per run.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, deque
from typing import Any, Callable, Iterable, Sequence

from opentelemetry.context import (
    _SUPPRESS_INSTRUMENTATION_KEY,
    attach,
    detach,
    set_value,
)
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from .. import _diag
from .._threads import start_thread
from .._version import __version__
from ..pipeline.event import IMAGE, LIST, LOG, METRIC, OUTPUT, PARAM, ROW, STATUS, TAG, Event
from ..pipeline.registry import run_lookup
from ._attributes import attribute_value, flatten
from ._compat import make_log_record

__all__ = ["DROPPED_METRIC", "METRIC_EVENT", "STATUS_EVENT", "OTLPSink", "is_export_thread"]

# The export thread's own diagnostics; like the SDK's, never exported again.
_logger = logging.getLogger("tracklog.otlp")

#: Run metric counting the records (and gauge points) that could not be exported.
DROPPED_METRIC = "tracklog.otlp.dropped"
#: OTel event name of a run metric point's log record.
METRIC_EVENT = "tracklog.metric"
TAG_EVENT = "tracklog.tag"
PARAM_EVENT = "tracklog.param"
#: OTel event name of a run's end: attributes ``tracklog.status`` and, when failed, ``tracklog.error``.
STATUS_EVENT = "tracklog.status"

# Records of the loggers the export path itself uses are never exported again
# (they still land in the run's log file): that would feed back forever.
_TRANSPORT_LOGGERS = ("opentelemetry", "urllib3", "requests", "grpc", "charset_normalizer", "tracklog.otlp")
#: Seconds stop waits, after its timeout, for the exporters to shut down and the thread to end.
_CLOSE_WAIT = 0.5
_KIND_NAMES = {LIST: "list", ROW: "row", IMAGE: "image"}

_local = threading.local()


def is_export_thread() -> bool:
    """True on tracklog's OTLP export thread."""
    return getattr(_local, "export", False)


_transport_seen: dict[str, bool] = {}


def _transport(logger: str) -> bool:
    """True for the loggers of the export path (``opentelemetry.*``, ``urllib3.*``, ...)."""
    known = _transport_seen.get(logger)
    if known is None:
        known = any(logger == p or logger.startswith(p + ".") for p in _TRANSPORT_LOGGERS)
        if len(_transport_seen) < 10_000:
            _transport_seen[logger] = known
    return known


class _RunResource(Resource):
    """A Resource whose hash is computed once: the encoder hashes it for every record."""

    def __hash__(self) -> int:
        cached = self.__dict__.get("_tracklog_hash")
        if cached is None:
            cached = self.__dict__["_tracklog_hash"] = Resource.__hash__(self)
        return cached

    __eq__ = Resource.__eq__


def _ok(result: Any) -> bool:
    return getattr(result, "name", None) == "SUCCESS"


class OTLPSink:
    """A pipeline sink exporting run events as OTel logs and gauges; see the module doc.

    Counters (``accepted``, ``exported``, ``dropped``) are for inspection and tests.
    """

    def __init__(
        self,
        log_exporter_factory: Callable[[], Any],
        metric_exporter_factory: Callable[[], Any],
        resource: Resource,
        *,
        endpoint: str,
        shutdown_timeout: float,
        max_queue_size: int,
        batch_size: int,
        schedule_delay: float,
        metric_interval: float,
    ) -> None:
        self._make_log_exporter = log_exporter_factory
        self._make_metric_exporter = metric_exporter_factory
        self._base = resource
        self.endpoint = endpoint
        #: Seconds ``stop_routing()`` (and interpreter exit) waits for the collector.
        self.shutdown_timeout = shutdown_timeout
        self._max = max(1, max_queue_size)
        self._batch_size = max(1, min(batch_size, self._max))
        self._delay = schedule_delay
        self._metric_interval = metric_interval
        self.accepted = 0
        self.exported = 0
        self.dropped = 0
        self._dropped_by_run: Counter[str] = Counter()
        self._recorded: dict[str, int] = {}
        self._resources: dict[str, Resource] = {}
        self._scopes: dict[str, InstrumentationScope] = {}
        self._closed = False
        self._abandon = False
        self._init_process_state()
        self._log_exporter = log_exporter_factory()
        self._metric_exporter = metric_exporter_factory()

    def _init_process_state(self) -> None:
        self._pid = os.getpid()
        self._q: deque[Event] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._done = threading.Condition(threading.Lock())
        self._requested = 0
        self._completed = 0
        self._inflight: list[Event] | None = None
        self._gauges: dict[str, dict[str, tuple[float, float]]] = {}
        self._thread: threading.Thread | None = None

    def _after_fork(self) -> None:
        # A forked child must neither re-export the parent's queue nor share its
        # connections: fresh queue, fresh exporters, a writer thread of its own.
        self._init_process_state()
        try:
            self._log_exporter = self._make_log_exporter()
            self._metric_exporter = self._make_metric_exporter()
        except Exception:
            _logger.warning("tracklog: OTLP exporters could not be rebuilt after fork", exc_info=True)
            self._closed = True

    # -- the pipeline's side (writer threads) ------------------------------------

    def write(self, events: Sequence[Event]) -> None:
        """Queue the batch for export; what does not fit is dropped and counted. Never blocks."""
        if self._closed:
            return
        if self._pid != os.getpid():
            self._after_fork()
        n = len(events)
        overflow: Sequence[Event] = ()
        with self._lock:
            room = self._max - len(self._q)
            if n <= room:
                self._q.extend(events)
            else:
                keep = max(room, 0)
                self._q.extend(events[:keep])
                overflow = events[keep:]
            self.accepted += n - len(overflow)
            pending = len(self._q)
        if overflow:
            self._count_drops(ev.run_id for ev in overflow if self._exportable(ev))
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._start()
        if pending >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    def flush(self) -> None:
        """Called by the pipeline at its flush points: export soon, without waiting."""
        if self._q:
            self._wake.set()

    def close(self) -> None:
        """A pipeline closing does not stop routing (others may still use this sink)."""

    def _start(self) -> None:
        with self._lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = start_thread(self._run, "tracklog-otlp")

    # -- waiting and stopping (any thread) ---------------------------------------

    def wait_exported(self, timeout: float | None = None) -> bool:
        """Block until everything queued before this call was exported (or dropped), gauges too."""
        if self._closed:
            return True
        if self._pid != os.getpid():
            self._after_fork()
        thread = self._thread
        if thread is threading.current_thread():
            return False  # the export thread cannot wait for itself
        if thread is None or not thread.is_alive():
            self._start()
        with self._done:
            self._requested += 1
            target = self._requested
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._done:
            while self._completed < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._done.wait(0.5 if remaining is None else min(remaining, 0.5))
                if self._thread is None or not self._thread.is_alive():
                    return False
        return True

    def shutdown(self, timeout: float) -> bool:
        """Export what is queued for at most ``timeout`` seconds, then drop and count the
        rest and shut the exporters down. True when the queue was worked off in time
        (exported, or dropped and counted), False when the timeout cut it short."""
        if self._closed:
            return True
        if self._pid != os.getpid():
            self._after_fork()
        clean = self.wait_exported(timeout)
        self._closed = True
        with self._lock:
            # Under the lock, so a batch in flight is counted either here or by the
            # export thread when its export fails, never twice.
            self._abandon = True
            left = [*self._q, *(self._inflight or ())]
            self._q.clear()
            self._inflight = None
        self._wake.set()
        self._count_drops(ev.run_id for ev in left if self._exportable(ev))
        # The SDK exporters' shutdown interrupts their retry back-off; some releases
        # also wait for the export in flight, so it runs on its own thread, briefly.
        closer = start_thread(self._shutdown_exporters, "tracklog-otlp-close")
        closer.join(_CLOSE_WAIT)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(_CLOSE_WAIT)
        self.record_drops()
        return clean

    def _shutdown_exporters(self) -> None:
        for exporter in (self._log_exporter, self._metric_exporter):
            try:
                exporter.shutdown()
            except Exception:
                _logger.debug("tracklog: OTLP exporter shutdown failed", exc_info=True)

    # -- the export thread ------------------------------------------------------------

    def _run(self) -> None:
        _local.export = True
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        next_metrics = time.monotonic() + self._metric_interval
        try:
            with _diag.handling():
                while not self._abandon:
                    self._wake.wait(self._delay)
                    self._wake.clear()
                    with self._done:
                        target = self._requested
                    self._drain()
                    now = time.monotonic()
                    if now >= next_metrics or target > self._completed:
                        next_metrics = now + self._metric_interval
                        self._export_gauges()
                    self.record_drops()
                    with self._done:
                        self._completed = max(self._completed, target)
                        self._done.notify_all()
        except Exception:
            _logger.warning("tracklog: the OTLP export thread stopped", exc_info=True)
        finally:
            detach(token)

    def _drain(self) -> None:
        q = self._q
        while q and not self._abandon:
            with self._lock:
                n = min(len(q), self._batch_size)
                batch = [q.popleft() for _ in range(n)]
                self._inflight = batch
            cpu = time.thread_time()
            self._export_logs(batch)
            if len(q) >= self._batch_size and self._requested == self._completed:
                # A backlog means the program is logging fast: give it the
                # interpreter back for as long as this batch held it, so export
                # work never takes more than half the CPU time of a busy program.
                time.sleep(min(time.thread_time() - cpu, 0.05))

    def _export_logs(self, batch: list[Event]) -> None:
        records: list[Any] = []
        run_ids: list[str] = []
        try:
            self._convert(batch, records, run_ids)
        except Exception:
            _logger.warning("tracklog: could not convert %d events for OTLP", len(batch), exc_info=True)
            records, run_ids = [], [ev.run_id for ev in batch]
        result = None
        if records:
            try:
                result = self._log_exporter.export(records)
            except Exception:
                _logger.debug("tracklog: OTLP log export raised", exc_info=True)
        with self._lock:
            abandoned = self._abandon  # shutdown counted this batch already
            self._inflight = None
        if _ok(result):
            self.exported += len(records)
        elif run_ids and not abandoned:
            self._count_drops(run_ids)

    def _count_drops(self, run_ids: Iterable[str]) -> None:
        counts = Counter(run_ids)
        total = sum(counts.values())
        if not total:
            return
        with self._lock:
            self._dropped_by_run.update(counts)
            self.dropped += total
        _diag.warn_once(
            ("otlp-dropped", self.endpoint),
            "tracklog: exporting to the OTLP collector at %s is failing or falling behind; "
            "records that cannot be delivered are dropped and counted in the run metric %s "
            "(the run store is complete)",
            self.endpoint,
            DROPPED_METRIC,
        )

    def record_drops(self) -> None:
        """Log the per-run drop counts that changed as points of ``tracklog.otlp.dropped``."""
        with self._lock:
            changed = [(r, n) for r, n in self._dropped_by_run.items() if self._recorded.get(r) != n]
            for run_id, n in changed:
                self._recorded[run_id] = n
        now = time.time()
        for run_id, count in changed:
            lookup = run_lookup()
            target = None if lookup is None else lookup.target_of(run_id)
            if target is None:
                continue
            step = target.step_for(DROPPED_METRIC, None)
            target.pipeline.put(Event(run_id, METRIC, DROPPED_METRIC, count, step, now))

    # -- conversion ---------------------------------------------------------------------

    @staticmethod
    def _exportable(ev: Event) -> bool:
        if ev.kind == LOG:
            return not _transport(ev.logger)
        return not (ev.kind == METRIC and ev.name == DROPPED_METRIC)

    def _convert(self, batch: list[Event], records: list[Any], run_ids: list[str]) -> None:
        observed = time.time_ns()
        resources = self._resources
        tracklog_scope = self._scope("tracklog")
        gauges = self._gauges
        append = records.append
        for ev in batch:
            run_id = ev.run_id
            resource = resources.get(run_id) or self._resource(run_id)
            kind = ev.kind
            ts = int(ev.ts * 1e9)
            if kind == LOG:
                logger = ev.logger
                if _transport(logger):
                    continue
                attributes, trace_id, span_id, event_name = _log_attributes(ev.attrs)
                if ev.name != "python.log":
                    attributes["log.file.name"] = ev.name
                append(make_log_record(
                    resource, self._scopes.get(logger) or self._scope(logger), ts, observed, ev.level,
                    ev.message, attributes, event_name, trace_id, span_id,
                ))
            elif kind == METRIC:
                name, value = ev.name, ev.value
                if name == DROPPED_METRIC:
                    continue
                if type(value) is float or type(value) is int:
                    run_gauges = gauges.get(run_id)
                    if run_gauges is None:
                        run_gauges = gauges[run_id] = {}
                    run_gauges[name] = (value, ts)
                append(make_log_record(
                    resource, tracklog_scope, ts, observed, logging.INFO, f"{name}={value}",
                    {"metric": name, "value": value, "step": ev.step}, METRIC_EVENT,
                ))
            elif kind in _KIND_NAMES:
                append(make_log_record(
                    resource, tracklog_scope, ts, observed, logging.INFO, f"{ev.name}={ev.value}",
                    {"metric": ev.name, "value": attribute_value(ev.value), "step": ev.step,
                     "tracklog.kind": _KIND_NAMES[kind]},
                    METRIC_EVENT,
                ))
            elif kind == TAG:
                append(make_log_record(
                    resource, tracklog_scope, ts, observed, logging.INFO, f"tag {ev.name}={ev.value}",
                    {"tags." + ev.name: ev.value}, TAG_EVENT,
                ))
            elif kind == PARAM:
                append(make_log_record(
                    resource, tracklog_scope, ts, observed, logging.INFO, f"param {ev.name}={ev.value}",
                    {"params." + ev.name: ev.value}, PARAM_EVENT,
                ))
            elif kind == STATUS:
                status = str(ev.name)
                ended: dict[str, Any] = {"tracklog.status": status}
                if ev.value is not None:
                    ended["tracklog.error"] = str(ev.value)
                append(make_log_record(
                    resource, tracklog_scope, ts, observed, logging.ERROR if ev.value is not None else logging.INFO,
                    f"run {status}", ended, STATUS_EVENT,
                ))
            elif kind == OUTPUT:
                raw = ev.value
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
                stream = ev.logger or "stdout"
                attributes = {"log.iostream": stream, "log.file.name": ev.name}
                if ev.attrs:
                    attributes.update(flatten(ev.attrs))
                level = logging.WARNING if stream == "stderr" else logging.INFO
                append(make_log_record(
                    resource, self._scope("tracklog.output"), ts, observed, level, text.rstrip("\r\n"), attributes,
                ))
            else:
                continue
            run_ids.append(run_id)

    def _scope(self, name: str) -> InstrumentationScope:
        scope = self._scopes.get(name)
        if scope is None:
            version = __version__ if name.startswith("tracklog") else None
            scope = self._scopes[name] = InstrumentationScope(name or "root", version)
        return scope

    def _resource(self, run_id: str) -> Resource:
        experiment, run_name = "", ""
        lookup = run_lookup()
        if lookup is not None:
            try:
                experiment, run_name = lookup.describe(run_id) or ("", "")
            except Exception:
                _logger.debug("tracklog: no run info for %s", run_id, exc_info=True)
        attributes = dict(self._base.attributes)
        attributes["tracklog.run_id"] = run_id
        attributes["tracklog.experiment"] = experiment
        attributes["tracklog.run_name"] = run_name
        resource = self._resources[run_id] = _RunResource(attributes, self._base.schema_url)
        return resource

    def _export_gauges(self) -> None:
        with self._lock:
            pending, self._gauges = self._gauges, {}
        if not pending:
            return
        scope = self._scope("tracklog")
        resource_metrics = []
        points = []
        for run_id, values in pending.items():
            metrics = []
            for name, (value, ts) in values.items():
                instrument = instrument_name(name)
                attributes = {"tracklog.metric": name} if instrument != name else {}
                point = NumberDataPoint(
                    attributes=attributes, start_time_unix_nano=0, time_unix_nano=ts, value=value
                )
                metrics.append(Metric(name=instrument, description="", unit="", data=Gauge(data_points=[point])))
                points.append(run_id)
            scope_metrics = ScopeMetrics(scope=scope, metrics=metrics, schema_url="")
            resource = self._resources.get(run_id) or self._resource(run_id)
            resource_metrics.append(
                ResourceMetrics(resource=resource, scope_metrics=[scope_metrics], schema_url="")
            )
        try:
            result = self._metric_exporter.export(MetricsData(resource_metrics=resource_metrics))
        except Exception:
            _logger.debug("tracklog: OTLP metric export raised", exc_info=True)
            result = None
        if _ok(result):
            self.exported += len(points)
        else:
            self._count_drops(points)


def _log_attributes(attrs: dict[str, Any] | None) -> tuple[dict[str, Any], int, int, str | None]:
    """A log event's attrs as OTel attributes, plus trace id, span id and event name."""
    if not attrs:
        return {}, 0, 0, None
    out: dict[str, Any] = {}
    trace_id = span_id = 0
    event_name = None
    for key, value in attrs.items():
        if key == "extra" or key == "attributes":
            if isinstance(value, dict):
                out.update(flatten(value))
        elif key == "exc_text":
            text = str(value)
            out["exception.stacktrace"] = text
            kind, message = _exception_of(text)
            if kind:
                out["exception.type"] = kind
                out["exception.message"] = message
        elif key == "stack_info":
            out["code.stacktrace"] = str(value)
        elif key == "trace_id":
            trace_id = _hex(value)
        elif key == "span_id":
            span_id = _hex(value)
        elif key == "event_name":
            event_name = str(value)
        elif isinstance(value, dict):
            out.update(flatten(value, key))
        else:
            converted = attribute_value(value)
            if converted is not None:
                out[key] = converted
    return out, trace_id, span_id, event_name


def _exception_of(text: str) -> tuple[str, str]:
    """The exception's type and message from a formatted traceback: its last block, after
    the last indented (frame) line, reads ``Type: message`` (the message may run on)."""
    lines = text.rstrip("\n").split("\n")
    start = len(lines)
    while start > 0 and not lines[start - 1].startswith(" "):
        start -= 1
    if start == len(lines):
        return "", ""
    head, sep, rest = lines[start].partition(": ")
    if not head or " " in head:
        return "", ""
    return head, "\n".join([rest, *lines[start + 1:]]) if sep else ""


def _hex(value: Any) -> int:
    try:
        return int(value, 16) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        return 0


def instrument_name(name: str) -> str:
    """A run metric name as a valid OTel instrument name (letters first, [-_./a-zA-Z0-9], 255 max)."""
    clean = "".join(c if (c.isascii() and (c.isalnum() or c in "-_./")) else "_" for c in name)
    if not clean[:1].isalpha():
        clean = "m_" + clean
    return clean[:255]
