"""Configuration in one place: argument, then TRACKLOG_* environment variable, then default."""

from __future__ import annotations

import os
import sys

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


#: The variables a process sets for the children it starts while it has a run (see
#: export_run): name -> (this process's own value, None when unset; the value exported).
_exported: dict[str, tuple[str | None, str]] = {}


def env(name: str) -> str | None:
    """``os.environ[name]`` as this process itself reads it: a value it exported to its
    children (export_run) reads as what was there before, so a process's own defaults and
    its own current run do not change because it told its children about a run."""
    value = os.environ.get(name)
    kept = _exported.get(name)
    if kept is not None and value == kept[1]:
        return kept[0]
    return value


def export_run(run_id: str | None, location: str | None) -> None:
    """Make the processes this one starts from now on (spawn, forkserver, subprocess) log
    into run ``run_id`` of ``location``: TRACKLOG_RUN_ID and TRACKLOG_WORKSPACE (and
    TRACKLOG_TRACKING_URI when this process has one), as ``tracklog run`` sets them for its
    job. ``None`` puts back what this process had; a value changed meanwhile is left alone."""
    wanted: dict[str, str] = {}
    if run_id is not None and location is not None:
        wanted = {ENV_RUN_ID: run_id, ENV_WORKSPACE: location}
        if env(ENV_TRACKING_URI):
            wanted[ENV_TRACKING_URI] = location
    for name in list(_exported):
        if name not in wanted:
            own, sent = _exported.pop(name)
            if os.environ.get(name) == sent:
                if own is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = own
    for name, value in wanted.items():
        own = env(name)
        _exported[name] = (own, value)
        os.environ[name] = value
    _tell_multiprocessing()


def export_tracking_uri(location: str | None) -> None:
    """Make the processes this one starts from now on open ``location`` (a folder or an
    MLflow server's URL) as this one does after ``set_tracking_uri``: TRACKLOG_TRACKING_URI,
    as MLflow sets MLFLOW_TRACKING_URI so that subprocesses inherit it. ``None`` unsets it."""
    _exported.pop(ENV_TRACKING_URI, None)  # the script's own choice now, not a run's export
    if location is None:
        os.environ.pop(ENV_TRACKING_URI, None)
    else:
        os.environ[ENV_TRACKING_URI] = location
    _tell_multiprocessing()


#: The key of this process's values in multiprocessing's per-process config (see below).
_MP_KEY = "tracklog_env"


class _Inherited:
    """What a multiprocessing child is sent about its parent's run. A forkserver child's
    environment is the forkserver's, from whenever that started (maybe during an earlier
    run, or before any): so each ``Process`` also carries the values, copied as it is made
    with the rest of its parent's ``current_process()._config``, and the child puts them in
    its environment as it unpickles its process object, before its target runs."""

    __slots__ = ("values",)

    def __init__(self, values: tuple[tuple[str, str | None], ...]) -> None:
        self.values = values

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return _inherit, (self.values,)


def _inherit(values: tuple[tuple[str, str | None], ...]) -> _Inherited:
    """In a multiprocessing child (spawn, forkserver): the parent's values, as this process's own."""
    for name, value in values:
        kept = _exported.get(name)
        if kept is not None and os.environ.get(name) == kept[1]:
            _exported[name] = (value, kept[1])  # this process exported its own run already
            continue
        _exported.pop(name, None)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return _Inherited(values)


def _tell_multiprocessing() -> None:
    """Put what a child should have in multiprocessing's per-process config, which every
    ``Process`` made from now on copies; only once multiprocessing is in use (a process
    that imports it later has not started a forkserver with an older environment)."""
    process = sys.modules.get("multiprocessing.process")
    if process is None:
        return
    try:
        config = process.current_process()._config
        config[_MP_KEY] = _Inherited(tuple((name, os.environ.get(name)) for name in _CARRIED))
    except Exception:  # another multiprocessing than CPython's: the environment alone
        pass


#: The variables a multiprocessing child gets from its parent as the parent has them now.
_CARRIED = (ENV_RUN_ID, ENV_WORKSPACE, ENV_TRACKING_URI)


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
        env(ENV_TRACKING_URI)
        or mlflow_uri
        or env(ENV_WORKSPACE)
        or DEFAULT_WORKSPACE
    )


def ignored_mlflow_uri() -> str | None:
    """MLFLOW_TRACKING_URI when it is set but names nothing tracklog reads (MLflow's own
    backends: a plain folder or ``file:`` is MLflow's file store, ``sqlite:``, ...)."""
    uri = os.environ.get(ENV_MLFLOW_TRACKING_URI, "")
    if not uri or uri.startswith((SCHEME, "http://", "https://")):
        return None
    return uri


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
