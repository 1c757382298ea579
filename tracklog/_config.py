"""Configuration in one place: argument, then TRACKLOG_* environment variable, then default."""

from __future__ import annotations

import os

DEFAULT_WORKSPACE = ".tracklog"
ENV_WORKSPACE = "TRACKLOG_WORKSPACE"
ENV_RUN_ID = "TRACKLOG_RUN_ID"
ENV_TRACKING_URI = "TRACKLOG_TRACKING_URI"
ENV_FLUSH_INTERVAL = "TRACKLOG_FLUSH_INTERVAL"
ENV_QUEUE_CAPACITY = "TRACKLOG_QUEUE_CAPACITY"

#: Seconds between background flushes; a killed process loses at most this much.
DEFAULT_FLUSH_INTERVAL = 0.5
#: Events buffered before a caller waits for the writer (backpressure, never drops).
DEFAULT_QUEUE_CAPACITY = 200_000
#: Seconds between heartbeats of a run this process owns.
HEARTBEAT_INTERVAL = 5.0
#: A running run whose heartbeat is older than this many seconds reads as crashed.
HEARTBEAT_TIMEOUT = 60.0


def workspace_location(location: str | os.PathLike[str] | None) -> str:
    """The workspace path or URI to use: argument, then env, then ``./.tracklog``."""
    if location is not None:
        return os.fspath(location)
    return (
        os.environ.get(ENV_TRACKING_URI)
        or os.environ.get(ENV_WORKSPACE)
        or DEFAULT_WORKSPACE
    )


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if value > 0 else default


def flush_interval() -> float:
    """Seconds between background flushes (capped at one second)."""
    return min(_env_number(ENV_FLUSH_INTERVAL, DEFAULT_FLUSH_INTERVAL), 1.0)


def queue_capacity() -> int:
    """How many events may wait for the writer before callers block."""
    return int(_env_number(ENV_QUEUE_CAPACITY, DEFAULT_QUEUE_CAPACITY))
