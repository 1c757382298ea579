"""Configuration in one place: argument, then TRACKLOG_* environment variable, then default."""

from __future__ import annotations

import os

DEFAULT_WORKSPACE = ".tracklog"
#: The experiment of a run given none (MLflow's default experiment, id "0" where free).
DEFAULT_EXPERIMENT = "Default"
ENV_WORKSPACE = "TRACKLOG_WORKSPACE"
ENV_RUN_ID = "TRACKLOG_RUN_ID"
ENV_TRACKING_URI = "TRACKLOG_TRACKING_URI"
ENV_MLFLOW_TRACKING_URI = "MLFLOW_TRACKING_URI"
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


#: The scheme of a tracking URI that names a tracklog workspace folder.
SCHEME = "tracklog:"


def scheme_path(uri: str) -> str:
    """The folder of a ``tracklog:PATH`` / ``tracklog:///abs/path`` URI; "" for a bare ``tracklog:``."""
    rest = uri[len(SCHEME):]
    return rest[2:] if rest.startswith("///") else rest


def workspace_location(location: str | os.PathLike[str] | None) -> str:
    """The workspace path or URI to use: argument, then env, then ``./.tracklog``.

    The environment is read as TRACKLOG_TRACKING_URI, then (when that is unset)
    an http(s) MLFLOW_TRACKING_URI or the folder of a ``tracklog:PATH`` one, then
    TRACKLOG_WORKSPACE. MLflow's other URIs (file:, sqlite:, databricks) name
    MLflow's own backends, which tracklog does not speak, so they are ignored.
    """
    if location is not None:
        return os.fspath(location)
    mlflow_uri = os.environ.get(ENV_MLFLOW_TRACKING_URI, "")
    if mlflow_uri.startswith(SCHEME):  # a bare tracklog: names no folder
        mlflow_uri = scheme_path(mlflow_uri)
    elif not mlflow_uri.startswith(("http://", "https://")):
        mlflow_uri = ""
    return (
        os.environ.get(ENV_TRACKING_URI)
        or mlflow_uri
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
