"""OTLP in: services in any language, and OpenTelemetry collectors, write runs.

``tracklog receive`` (and ``tracklog ui --otlp``) serve OTLP/HTTP and OTLP/gRPC;
the data becomes run log lines, metrics, tags, params and spans. A source: it
builds events and puts them on a run's pipeline, and opens runs through callables
handed in from above, never through a store.
"""

from __future__ import annotations

from ._convert import LOG_FILE, SPAN_FILE
from ._receiver import (
    DEFAULT_GRPC_PORT,
    DEFAULT_HOST,
    DEFAULT_HTTP_PORT,
    DEFAULT_IDLE,
    DEFAULT_MAX_BYTES,
    OTLPReceiver,
    ReceiverConfigError,
    is_loopback,
)
from ._runs import DEFAULT_EXPERIMENT, EXPERIMENT_KEY, RUN_ID_KEY, AttachRun, OpenRun, ReceivedRun, failure_of

__all__ = [
    "DEFAULT_EXPERIMENT",
    "DEFAULT_GRPC_PORT",
    "DEFAULT_HOST",
    "DEFAULT_HTTP_PORT",
    "DEFAULT_IDLE",
    "DEFAULT_MAX_BYTES",
    "EXPERIMENT_KEY",
    "LOG_FILE",
    "RUN_ID_KEY",
    "SPAN_FILE",
    "AttachRun",
    "OTLPReceiver",
    "OpenRun",
    "ReceivedRun",
    "ReceiverConfigError",
    "failure_of",
    "is_loopback",
]
