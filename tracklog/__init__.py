"""tracklog: the logging your Python programs already do, as experiment-run records."""

from __future__ import annotations

from typing import Any

from . import entities, exceptions, tracking
from ._azure_environment import CondaDependencies, Environment
from ._azure_errors import ActivityFailedException
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
    ActiveRun,
    active_run,
    create_experiment,
    delete_tag,
    end_run,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_run,
    get_tracking_uri,
    last_active_run,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_table,
    log_text,
    search_experiments,
    search_runs,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from ._lifecycle import end_runs_on
from ._mlflow_client import MlflowClient
from ._script_run import RunConfiguration, ScriptRunConfig
from ._types import MetricPoint, RunInfo
from ._version import __version__
from .capture import capture_output
from .models import Model
from .pipeline import Event
from .run import Run
from .store import ModelNotFoundError, PropertyConflictError
from .workspace import Experiment, Workspace

__all__ = [
    "ActiveRun",
    "ActiveRunError",
    "ActivityFailedException",
    "CondaDependencies",
    "Environment",
    "Event",
    "Experiment",
    "ExperimentNotFoundError",
    "InvalidNameError",
    "MetricPoint",
    "MlflowClient",
    "Model",
    "ModelNotFoundError",
    "ParamConflictError",
    "PropertyConflictError",
    "Run",
    "RunClosedError",
    "RunConfiguration",
    "RunInfo",
    "RunNotFoundError",
    "ScriptRunConfig",
    "TracklogError",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "active_run",
    "capture_output",
    "create_experiment",
    "delete_tag",
    "end_run",
    "end_runs_on",
    "entities",
    "exceptions",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "tracking",
]


def __getattr__(name: str) -> Any:
    """Every name tracklog lacks (``mlflow.sklearn``, ``mlflow.autolog``, ...) says where it is."""
    if name.startswith("_"):
        raise AttributeError(f"module 'tracklog' has no attribute {name!r}")
    raise AttributeError(
        f"module 'tracklog' has no attribute {name!r}. `import tracklog as mlflow` covers MLflow's "
        "tracking calls only (docs/mlflow_swap.md lists them). For mlflow."
        f"{name} and the rest of MLflow (flavors, autolog, log_model), keep `import mlflow` and "
        "let it log into tracklog: MLFLOW_TRACKING_URI=tracklog: python train.py "
        "(or mlflow.set_tracking_uri('tracklog:./.tracklog'))"
    )
