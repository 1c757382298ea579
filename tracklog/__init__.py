"""tracklog: the logging your Python programs already do, as experiment-run records."""

from __future__ import annotations

from ._errors import (
    ActiveRunError,
    ExperimentNotFoundError,
    InvalidNameError,
    ParamConflictError,
    RunClosedError,
    RunNotFoundError,
    TracklogError,
    WorkspaceError,
)
from ._fluent import (
    active_run,
    end_run,
    get_tracking_uri,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from ._lifecycle import end_runs_on
from ._types import MetricPoint, RunInfo
from ._version import __version__
from .capture import capture_output
from .pipeline import Event
from .run import Run
from .workspace import Experiment, Workspace

__all__ = [
    "ActiveRunError",
    "Event",
    "Experiment",
    "ExperimentNotFoundError",
    "InvalidNameError",
    "MetricPoint",
    "ParamConflictError",
    "Run",
    "RunClosedError",
    "RunInfo",
    "RunNotFoundError",
    "TracklogError",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "active_run",
    "capture_output",
    "end_run",
    "end_runs_on",
    "get_tracking_uri",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
