"""The receiver's defaults and its settings checks: a leaf, so ``tracklog --help`` shows the
defaults without importing grpc, protobuf or the HTTP server."""

from __future__ import annotations

import ipaddress
import socket

from .._errors import TracklogError

__all__ = [
    "DEFAULT_GRPC_PORT",
    "DEFAULT_HOST",
    "DEFAULT_HTTP_PORT",
    "DEFAULT_IDLE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_READ_TIMEOUT",
    "ReceiverConfigError",
    "is_loopback",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 4318
DEFAULT_GRPC_PORT = 4317
#: Seconds without data after which a service's run ends.
DEFAULT_IDLE = 300.0
#: The largest request body taken, compressed or decompressed (bytes).
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
#: Seconds an OTLP/HTTP connection may send nothing (mid-request, or kept alive between
#: requests) before the receiver closes it, unanswered; as the UI server's ``TIMEOUT``.
DEFAULT_READ_TIMEOUT = 30.0


class ReceiverConfigError(TracklogError):
    """The receiver's settings are unsafe or impossible (a public address with no token, a taken port)."""


def is_loopback(host: str) -> bool:
    """True when ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except (OSError, ValueError):
            return False
