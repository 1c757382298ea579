"""OpenTelemetry: exporters into runs, and routing of runs out to OTLP collectors.

The OpenTelemetry SDK loads with the first name that needs it (PEP 562 below), not
with tracklog: a process that never turns OTLP on, or never uses an exporter, never
imports it. ``otlp_requested()`` answers whether ``TRACKLOG_OTLP`` asks for routing
without loading anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._otel_fields import series_name
from ._attributes import flatten, unflatten
from ._otlp_config import otlp_requested

if TYPE_CHECKING:
    from ._otlp_sink import DROPPED_METRIC, METRIC_EVENT, OTLPSink
    from ._routing import (
        current_route,
        flush_routing,
        route_from_env,
        route_to_otlp,
        stop_routing,
    )
    from ._run_exporters import RunLogExporter, RunMetricExporter

__all__ = [
    "DROPPED_METRIC",
    "METRIC_EVENT",
    "OTLPSink",
    "RunLogExporter",
    "RunMetricExporter",
    "current_route",
    "flatten",
    "flush_routing",
    "otlp_requested",
    "route_from_env",
    "route_to_otlp",
    "series_name",
    "stop_routing",
    "unflatten",
]

# The names that need the OpenTelemetry SDK, by the module that defines them.
_SDK_NAMES = {
    "DROPPED_METRIC": "_otlp_sink",
    "METRIC_EVENT": "_otlp_sink",
    "OTLPSink": "_otlp_sink",
    "current_route": "_routing",
    "flush_routing": "_routing",
    "route_from_env": "_routing",
    "route_to_otlp": "_routing",
    "stop_routing": "_routing",
    "RunLogExporter": "_run_exporters",
    "RunMetricExporter": "_run_exporters",
}


def __getattr__(name: str) -> Any:
    """The SDK-backed names, imported on first use (the SDK costs ~0.1 s to import)."""
    module = _SDK_NAMES.get(name)
    if module == "_otlp_sink":
        from . import _otlp_sink as source
    elif module == "_routing":
        from . import _routing as source
    elif module == "_run_exporters":
        from . import _run_exporters as source
    else:
        raise AttributeError(f"module 'tracklog.exporters' has no attribute {name!r}")
    value = getattr(source, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
