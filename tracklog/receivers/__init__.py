"""OTLP in: services in any language, and OpenTelemetry collectors, write runs.

``tracklog receive`` (and ``tracklog ui --otlp``) serve OTLP/HTTP and OTLP/gRPC;
the data becomes run log lines, metrics, tags, params and spans. A source: it
builds events and puts them on a run's pipeline, and opens runs through callables
handed in from above, never through a store.

``OTLPReceiver`` (with grpc, protobuf and the HTTP server behind it) is imported on
first use (PEP 562 below): the defaults and checks here load without them, so
``tracklog --help`` and ``tracklog run`` do not pay for the servers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._convert import LOG_FILE, SPAN_FILE
from ._runs import (
    DEFAULT_EXPERIMENT,
    EXPERIMENT_KEY,
    RUN_ID_KEY,
    AttachRun,
    OpenRun,
    ReceivedRun,
    failure_of,
)
from ._settings import (
    DEFAULT_GRPC_PORT,
    DEFAULT_HOST,
    DEFAULT_HTTP_PORT,
    DEFAULT_IDLE,
    DEFAULT_MAX_BYTES,
    DEFAULT_READ_TIMEOUT,
    ReceiverConfigError,
    is_loopback,
)

if TYPE_CHECKING:
    from ._receiver import OTLPReceiver

__all__ = [
    "DEFAULT_EXPERIMENT",
    "DEFAULT_GRPC_PORT",
    "DEFAULT_HOST",
    "DEFAULT_HTTP_PORT",
    "DEFAULT_IDLE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_READ_TIMEOUT",
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


def __getattr__(name: str) -> Any:
    """``OTLPReceiver`` on first use: it imports grpc and protobuf (~0.1 s)."""
    if name == "OTLPReceiver":
        from ._receiver import OTLPReceiver

        globals()[name] = OTLPReceiver
        return OTLPReceiver
    raise AttributeError(f"module 'tracklog.receivers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
