"""OpenTelemetry: exporters into runs, and routing of runs out to OTLP collectors."""

from __future__ import annotations

from ._attributes import flatten, unflatten
from ._otlp_sink import DROPPED_METRIC, METRIC_EVENT, OTLPSink
from ._routing import (
    current_route,
    flush_routing,
    route_from_env,
    route_to_otlp,
    stop_routing,
)
from ._run_exporters import RunLogExporter, RunMetricExporter, series_name

__all__ = [
    "DROPPED_METRIC",
    "METRIC_EVENT",
    "OTLPSink",
    "RunLogExporter",
    "RunMetricExporter",
    "current_route",
    "flatten",
    "flush_routing",
    "route_from_env",
    "route_to_otlp",
    "series_name",
    "stop_routing",
    "unflatten",
]
