"""Where OTLP goes and how: argument, then the standard OTEL_* environment, then default.

The SDK's exporter classes read most ``OTEL_EXPORTER_OTLP_*`` variables
themselves (endpoint, headers, timeout, compression, certificates), but not
``OTEL_EXPORTER_OTLP_PROTOCOL``: choosing the exporter class is the caller's
job, so tracklog reads it here (per signal first, then the general one).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from .._errors import TracklogError

__all__ = [
    "DEFAULT_PROTOCOL",
    "ENV_OTLP",
    "ENV_SHUTDOWN_TIMEOUT",
    "make_log_exporter",
    "make_metric_exporter",
    "make_resource",
    "otlp_requested",
    "resolve_protocol",
]

ENV_OTLP = "TRACKLOG_OTLP"
ENV_SHUTDOWN_TIMEOUT = "TRACKLOG_OTLP_SHUTDOWN_TIMEOUT"
GRPC = "grpc"
HTTP = "http/protobuf"
#: The OTLP default protocol, as the specification sets it.
DEFAULT_PROTOCOL = HTTP
#: Default service.name when neither the argument nor OTEL_SERVICE_NAME/OTEL_RESOURCE_ATTRIBUTES set one.
DEFAULT_SERVICE_NAME = "tracklog"
#: Seconds tracklog waits at exit for the collector before dropping (and counting) the rest.
DEFAULT_SHUTDOWN_TIMEOUT = 5.0
#: Records waiting for export before new ones are dropped (and counted).
DEFAULT_MAX_QUEUE_SIZE = 131_072
DEFAULT_BATCH_SIZE = 512
DEFAULT_SCHEDULE_DELAY = 1.0
DEFAULT_METRIC_INTERVAL = 60.0

_TRUE = ("1", "true", "yes", "on")

_SIGNAL_ENV = {"logs": "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "metrics": "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"}


def otlp_requested() -> bool:
    """Whether ``TRACKLOG_OTLP`` is true (1, true, yes, on): read without importing the SDK."""
    return os.environ.get(ENV_OTLP, "").strip().lower() in _TRUE


def resolve_protocol(protocol: str | None, signal: str) -> str:
    """``grpc`` or ``http/protobuf`` for ``signal`` ("logs" or "metrics"); TracklogError otherwise."""
    raw = protocol or os.environ.get(_SIGNAL_ENV[signal]) or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    value = (raw or DEFAULT_PROTOCOL).strip().lower()
    if value in (GRPC, HTTP):
        return value
    if value == "http/json":
        raise TracklogError(
            "OTLP protocol http/json is not supported by the OpenTelemetry Python exporters; "
            "use grpc or http/protobuf (OTEL_EXPORTER_OTLP_PROTOCOL)"
        )
    raise TracklogError(f"unknown OTLP protocol {raw!r}: use grpc or http/protobuf")


def env_seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment, else ``default``."""
    raw = os.environ.get(name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value >= 0 else default


def env_millis(name: str, default: float) -> float:
    """An OTEL_* millisecond setting, in seconds."""
    raw = os.environ.get(name)
    try:
        return float(raw) / 1000 if raw else default
    except ValueError:
        return default


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    try:
        value = int(raw) if raw else default
    except ValueError:
        return default
    return value if value > 0 else default


def _http_url(endpoint: str, path: str) -> str:
    if "://" not in endpoint:
        endpoint = "http://" + endpoint
    return endpoint.rstrip("/") + "/" + path


def _grpc_headers(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    # gRPC metadata keys must be lower case.
    return None if headers is None else {k.lower(): v for k, v in headers.items()}


def make_log_exporter(
    protocol: str, endpoint: str | None, headers: Mapping[str, str] | None, timeout: float | None
) -> Any:
    """The SDK's OTLP log exporter for ``protocol``; None arguments fall back to its env."""
    if protocol == GRPC:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
            OTLPLogExporter as GrpcLogExporter,
        )

        return GrpcLogExporter(endpoint=endpoint, headers=_grpc_headers(headers), timeout=timeout)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import (
        OTLPLogExporter as HttpLogExporter,
    )

    url = _http_url(endpoint, "v1/logs") if endpoint else None
    return HttpLogExporter(endpoint=url, headers=dict(headers) if headers else None, timeout=timeout)


def make_metric_exporter(
    protocol: str, endpoint: str | None, headers: Mapping[str, str] | None, timeout: float | None
) -> Any:
    """The SDK's OTLP metric exporter for ``protocol``; None arguments fall back to its env."""
    if protocol == GRPC:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return GrpcMetricExporter(endpoint=endpoint, headers=_grpc_headers(headers), timeout=timeout)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    url = _http_url(endpoint, "v1/metrics") if endpoint else None
    return HttpMetricExporter(endpoint=url, headers=dict(headers) if headers else None, timeout=timeout)


def make_resource(service_name: str | None) -> Any:
    """The process's base resource: service.name (argument, OTEL_SERVICE_NAME, then
    OTEL_RESOURCE_ATTRIBUTES, then "tracklog"), plus OTEL_RESOURCE_ATTRIBUTES."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    resource = Resource.create({SERVICE_NAME: service_name} if service_name else {})
    name = str(resource.attributes.get(SERVICE_NAME, ""))
    if not name or name.startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return resource
