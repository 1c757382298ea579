"""One export request, whatever its transport: runs resolved, back-pressure, events enqueued.

The HTTP and gRPC servers both call :meth:`Exporter.export`. A request is taken
whole or refused whole with :class:`Busy` (the client retries it): refused when
``limit`` events the receiver put on a pipeline are not yet confirmed stored (a
thread confirms them with the pipeline's flush), or the store cannot write at all. Records of a resource whose ``tracklog.run_id`` names no run
are refused alone, through the response's ``partial_success``; the rest is kept. So are
the metric points, and the log records carrying run data, of a run that has ended (their
lines are still written).
Metrics of instances beyond the first into a run joined by id are qualified by their
instance (``Runs.series_instance``), so their counters never share a series.
A resource tracklog's routing sent for a run of the receiver's own workspace is taken
and not stored again (it is there already): ``partial_success`` says so with 0 rejected,
and the receiver warns once per run. For a run of another workspace it rebuilds the run
(see ``_runs``); a run's end alone, for a rebuilt run the idle rule has ended already, is
taken and opens no new run. The gauges routing sends beside its records (each metric's latest value,
for dashboards) are taken and never stored, in either case: every point came as a record.
An accepted request is in the pipeline's queue: the writer stores it within a
second, and the receiver flushes it all when it stops. Once the receiver begins to stop
(:meth:`Exporter.begin_closing`) every request is refused with :class:`Closing`, also on
connections kept alive: nothing is taken after the runs are ended, and everything taken
before is in the queue the stop flushes.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, NamedTuple

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from .. import _diag
from .._errors import TracklogError
from .._threads import start_thread
from ..pipeline.event import Event
from ..pipeline.writer import Pipeline
from ._attrs import attributes
from ._convert import Outcome, log_events, metric_events, span_events
from ._runs import STATUS_EVENT, Runs, is_routed

__all__ = ["LOGS", "METRICS", "SIGNALS", "TRACES", "Busy", "Closing", "Exporter", "Signal"]

_logger = logging.getLogger("tracklog.receivers")


class Busy(Exception):
    """The pipeline cannot take more now: HTTP 429/503 with Retry-After, gRPC UNAVAILABLE."""

    def __init__(self, message: str, retry_after: float, stalled: bool) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.stalled = stalled


class Closing(Busy):
    """The receiver is stopping: HTTP 503 with Retry-After and the connection closed, gRPC
    UNAVAILABLE; the client retries, against this receiver once it is back."""

    def __init__(self) -> None:
        super().__init__("the receiver is stopping; retry later", RETRY_STALLED, True)


class Signal(NamedTuple):
    """One OTLP signal: its HTTP path, request and response types, and how it converts."""

    path: str
    request: Callable[[], Any]
    response: Callable[[], Any]
    resources: str
    scopes: str
    convert: Callable[..., Any]
    rejected: str


LOGS = Signal(
    "/v1/logs", logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse,
    "resource_logs", "scope_logs", log_events, "rejected_log_records",
)
METRICS = Signal(
    "/v1/metrics", metrics_service_pb2.ExportMetricsServiceRequest,
    metrics_service_pb2.ExportMetricsServiceResponse, "resource_metrics", "scope_metrics", metric_events,
    "rejected_data_points",
)
TRACES = Signal(
    "/v1/traces", trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse,
    "resource_spans", "scope_spans", span_events, "rejected_spans",
)
SIGNALS = {signal.path: signal for signal in (LOGS, METRICS, TRACES)}

#: Seconds a client is asked to wait when the queue is full, and when the store is stalled.
RETRY_FULL = 1.0
RETRY_STALLED = 5.0


class _Backlog:
    """Events put on one pipeline and not yet confirmed stored (a writer holding a batch it
    cannot write keeps them out of the queue, so the queue's length alone would not say)."""

    __slots__ = ("confirmed", "put")

    def __init__(self) -> None:
        self.put = 0
        self.confirmed = 0


#: Seconds between the confirming thread's flushes while a backlog waits.
_CONFIRM_EVERY = 0.05


class Exporter:
    """Takes decoded export requests into runs; thread-safe (one request at a time)."""

    def __init__(self, runs: Runs, limit: int) -> None:
        self.runs = runs
        self.limit = limit
        self._lock = threading.Lock()
        self.refused = 0  # requests answered Busy
        self._backlogs: dict[Pipeline, _Backlog] = {}
        self._waiting = threading.Event()
        self._stop = threading.Event()
        self._closing = False
        self._confirmer = start_thread(self._confirm, "tracklog-receiver-confirm")

    def begin_closing(self) -> None:
        """Refuse every request from now on (:class:`Closing`); returns once the requests
        being taken are in the pipeline's queue, so a flush after it stores them all."""
        with self._lock:
            self._closing = True

    def close(self) -> None:
        """Stop confirming (after the servers have stopped)."""
        self._stop.set()
        self._waiting.set()
        self._confirmer.join(5)

    def _confirm(self) -> None:
        while not self._stop.is_set():
            self._waiting.wait()
            self._waiting.clear()
            for pipeline, backlog in list(self._backlogs.items()):
                upto = backlog.put
                if upto > backlog.confirmed and pipeline.flush(1.0):
                    backlog.confirmed = upto
                if backlog.put > backlog.confirmed:
                    self._waiting.set()
            self._stop.wait(_CONFIRM_EVERY)

    def backlog(self) -> int:
        """Events put and not yet confirmed stored, over every pipeline."""
        return sum(b.put - b.confirmed for b in list(self._backlogs.values()))

    def export(self, signal: Signal, request: Any, header_run_id: str | None = None) -> Any:
        """The response for one request; raises Busy to have the client retry it whole."""
        response = signal.response()
        rejected = 0
        errors: list[str] = []
        with self._lock:
            if self._closing:
                raise Closing()
            resolved = []
            for resource_data in getattr(request, signal.resources):
                resource = attributes(resource_data.resource.attributes)
                if signal is METRICS and is_routed(resource):
                    continue  # routing's latest-value gauges: its log records carry every point
                try:
                    found = self.runs.resolve(resource, header_run_id, not _only_ends(signal, resource_data))
                except TracklogError as exc:
                    rejected += _count(signal, resource_data)
                    errors.append(str(exc))
                    continue
                if found is None:
                    continue  # the end of a rebuilt run the idle rule ended: it opens no new run
                run, live = found
                if live is None and is_routed(resource):
                    _echoed(run.id, errors)
                    continue
                resolved.append((run, live, resource_data, resource))
            incoming: dict[Pipeline, int] = {}
            for run, _, resource_data, _ in resolved:
                pipeline = run.target.pipeline
                incoming[pipeline] = incoming.get(pipeline, 0) + _count(signal, resource_data)
            self._check_room(incoming)
            events: list[Event] = []
            for run, live, resource_data, resource in resolved:
                target = run.target
                scopes = getattr(resource_data, signal.scopes)
                if signal is METRICS and live is None:  # a run joined by id: maybe not the first instance
                    outcome: Outcome = metric_events(target, scopes, events, self.runs.series_instance(run.id, resource))
                else:
                    outcome = signal.convert(target, scopes, events)
                if live is not None and signal is LOGS and outcome.seen:
                    live.error = outcome.error
                    if outcome.end is not None:
                        self.runs.end_soon(live, outcome.end)
                if outcome.refused:
                    rejected += outcome.refused
                    errors.append(_ended(run.id, signal))
                if events:
                    backlog = self._backlogs.get(target.pipeline)
                    if backlog is None:
                        backlog = self._backlogs[target.pipeline] = _Backlog()
                    backlog.put += len(events)
                    # Not into the queue's backpressure: a writer that cannot write would hold
                    # the request there. What waits is bounded by the limit instead.
                    target.pipeline.put_many(events, wait=False)
                    events = []
                    self._waiting.set()
        if errors:
            partial = response.partial_success
            setattr(partial, signal.rejected, rejected)
            partial.error_message = "; ".join(sorted(set(errors)))[:1000]
        return response

    def _check_room(self, incoming: dict[Pipeline, int]) -> None:
        """Busy unless each pipeline can take its ``incoming`` records now: with events still
        unconfirmed, a request that would take the backlog past ``limit`` waits its turn."""
        for pipeline, count in incoming.items():
            if pipeline.stalled:
                self.refused += 1
                raise Busy("the workspace cannot be written now (see the receiver's log); retry later",
                           RETRY_STALLED, True)
            backlog = self._backlogs.get(pipeline)
            waiting = 0 if backlog is None else backlog.put - backlog.confirmed
            if waiting >= self.limit or (waiting and waiting + count > self.limit):
                self.refused += 1
                raise Busy(f"{waiting} events wait for the workspace; retry later", RETRY_FULL, False)


def _ended(run_id: str, signal: Signal) -> str:
    """The partial_success message for data into a run that has ended."""
    kept = " (the records' lines are kept in its log)" if signal is LOGS else ""
    return f"run {run_id} has ended: its metrics, tags and params are no longer recorded{kept}"


def _echoed(run_id: str, errors: list[str]) -> None:
    """Note a resource of tracklog's routing whose run is in this workspace: not stored twice."""
    message = (f"run {run_id} is in this receiver's workspace and tracklog routed its data here: "
               "it is stored there already, not stored twice")
    errors.append(message)
    _diag.warn_once(("otlp-echo", run_id), "tracklog: %s (route it elsewhere, or leave routing off)", message)


def _only_ends(signal: Signal, resource_data: Any) -> bool:
    """Whether a resource's log records are all ends of runs that routing sent."""
    if signal is not LOGS:
        return False
    records = [r for scope in resource_data.scope_logs for r in scope.log_records]
    return bool(records) and all(getattr(r, "event_name", "") == STATUS_EVENT for r in records)


def _count(signal: Signal, resource_data: Any) -> int:
    total = 0
    for scope in getattr(resource_data, signal.scopes):
        if signal is LOGS:
            total += len(scope.log_records)
        elif signal is TRACES:
            total += len(scope.spans)
        else:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                total += 0 if kind is None else len(getattr(metric, kind).data_points)
    return total
