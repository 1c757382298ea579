"""One call routes everything that reaches a run out to an OTLP collector as well.

``route_to_otlp()`` adds one :class:`OTLPSink` to every pipeline of the process,
present and future, through the pipeline's global sink registry. ``TRACKLOG_OTLP=1``
does the same with no code change: the first pipeline writer a process starts
calls :func:`route_from_env` before it writes anything.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Mapping

from .. import _diag, _lifecycle
from .. import pipeline as _pipeline
from . import _otlp_config as cfg
from ._otlp_sink import OTLPSink, is_export_thread

__all__ = ["current_route", "flush_routing", "route_from_env", "route_to_otlp", "stop_routing"]

_lock = threading.RLock()
_route: OTLPSink | None = None
_atexit_registered = False

# The SDK exporters' own loggers: their warnings and errors about a batch,
# when raised on tracklog's export thread, become DEBUG records (see _Demote).
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.common._aggregation",
    "opentelemetry.exporter.otlp.proto.common._internal",
    "opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder",
    "opentelemetry.exporter.otlp.proto.http._common",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc._log_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
)


class _Demote(logging.Filter):
    """On tracklog's export thread, the SDK exporter's per-batch warnings and errors
    become DEBUG records: they still reach handlers that take DEBUG (a RunHandler
    puts them in the run's log file), while the user sees tracklog's one warning
    instead of one error per failed batch on stderr."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self._logger = logger

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG and is_export_thread():
            if not self._logger.isEnabledFor(logging.DEBUG):
                return False
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_demoters: list[tuple[logging.Logger, _Demote]] = []


def _install_demoters() -> None:
    if _demoters:
        return
    for name in _EXPORTER_LOGGERS:
        logger = logging.getLogger(name)
        demote = _Demote(logger)
        logger.addFilter(demote)
        _demoters.append((logger, demote))


def _factory(pipeline: _pipeline.Pipeline) -> OTLPSink | None:
    """The global sink factory: every open pipeline gets the current route's sink."""
    return None if pipeline.closed else _route


def route_to_otlp(
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    timeout: float | None = None,
    service_name: str | None = None,
    shutdown_timeout: float | None = None,
    max_queue_size: int | None = None,
) -> OTLPSink:
    """Send everything that reaches a run (metrics, log records, output lines, tags) to
    an OTLP collector too, through the OpenTelemetry SDK's own OTLP exporters.

    ``endpoint`` is the collector's base URL (``http://host:4318`` for
    http/protobuf, ``http://host:4317`` for grpc); ``protocol`` is ``grpc`` or
    ``http/protobuf``; ``timeout`` is the exporters' per-export timeout in seconds.
    Each defaults to the standard ``OTEL_EXPORTER_OTLP_*`` variables, then to
    the OTLP defaults. ``shutdown_timeout`` bounds, in seconds, how long exit
    waits for the collector (``TRACKLOG_OTLP_SHUTDOWN_TIMEOUT``, default 5).
    Calling it again replaces the previous route. Returns the sink, whose
    ``exported`` and ``dropped`` counters you may read.
    """
    global _route, _atexit_registered
    log_protocol = cfg.resolve_protocol(protocol, "logs")
    metric_protocol = cfg.resolve_protocol(protocol, "metrics")
    resource = cfg.make_resource(service_name)
    headers = dict(headers) if headers is not None else None
    if shutdown_timeout is None:
        shutdown_timeout = cfg.env_seconds(cfg.ENV_SHUTDOWN_TIMEOUT, cfg.DEFAULT_SHUTDOWN_TIMEOUT)
    if max_queue_size is None:
        max_queue_size = cfg.env_int("OTEL_BLRP_MAX_QUEUE_SIZE", cfg.DEFAULT_MAX_QUEUE_SIZE)

    def log_exporter() -> Any:
        return cfg.make_log_exporter(log_protocol, endpoint, headers, timeout)

    def metric_exporter() -> Any:
        return cfg.make_metric_exporter(metric_protocol, endpoint, headers, timeout)

    sink = OTLPSink(
        log_exporter,
        metric_exporter,
        resource,
        endpoint=_describe(endpoint, log_protocol),
        shutdown_timeout=shutdown_timeout,
        max_queue_size=max_queue_size,
        batch_size=cfg.env_int("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", cfg.DEFAULT_BATCH_SIZE),
        schedule_delay=cfg.env_millis("OTEL_BLRP_SCHEDULE_DELAY", cfg.DEFAULT_SCHEDULE_DELAY),
        metric_interval=cfg.env_millis("OTEL_METRIC_EXPORT_INTERVAL", cfg.DEFAULT_METRIC_INTERVAL),
    )
    with _lock:
        if _route is not None:
            _stop_locked(None)
        _install_demoters()
        _route = sink
        _pipeline.add_global_sink_factory(_factory)
        if not _atexit_registered:
            # The first exit phase: runs are still open when their final drop counts
            # are recorded.
            _lifecycle.at_exit(_lifecycle.STOP_ROUTES, _at_exit)
            _atexit_registered = True
    _diag.logger.debug("tracklog: routing runs to OTLP at %s", sink.endpoint)
    return sink


def _describe(endpoint: str | None, protocol: str) -> str:
    if endpoint:
        return f"{endpoint} ({protocol})"
    env = os.environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    default = "http://localhost:4317" if protocol == cfg.GRPC else "http://localhost:4318"
    return f"{env or default} ({protocol})"


def current_route() -> OTLPSink | None:
    """The active route's sink, or None when routing is off."""
    return _route


def flush_routing(timeout: float | None = 10.0) -> bool:
    """Wait until everything logged so far has been exported (or dropped and counted)."""
    sink = _route
    if sink is None:
        return True
    _pipeline.flush_all(timeout)
    return sink.wait_exported(timeout)


def stop_routing(timeout: float | None = None) -> bool:
    """Stop routing: export what is queued for at most ``timeout`` seconds (default: the
    route's shutdown timeout), drop and count the rest, and shut the exporters down.
    False when the timeout cut the export short."""
    with _lock:
        return _stop_locked(timeout)


def _stop_locked(timeout: float | None) -> bool:
    global _route
    sink = _route
    if sink is None:
        return True
    if timeout is None:
        timeout = sink.shutdown_timeout
    _route = None
    deadline = time.monotonic() + timeout
    # Everything already enqueued reaches the sink before it stops taking events.
    _pipeline.flush_all(timeout)
    _pipeline.remove_global_sink_factory(_factory)
    return sink.shutdown(max(0.0, deadline - time.monotonic()))


def _at_exit() -> None:
    try:
        stop_routing()
    except Exception:
        _diag.logger.debug("tracklog: stopping OTLP routing at exit failed", exc_info=True)


def route_from_env() -> OTLPSink | None:
    """Start routing when ``TRACKLOG_OTLP`` is true (1, true, yes, on) and none is active;
    configuration comes from the standard ``OTEL_*`` variables. Never raises."""
    if not cfg.otlp_requested():
        return None
    with _lock:
        if _route is not None:
            return _route
        try:
            return route_to_otlp()
        except Exception as exc:
            _diag.logger.warning("tracklog: %s=1 but OTLP routing could not start: %s", cfg.ENV_OTLP, exc)
            return None
