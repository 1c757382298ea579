"""tracklog: the logging your Python programs already do, as experiment-run records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import exceptions
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
from ._lifecycle import end_runs_on
from ._script_run import RunConfiguration, ScriptRunConfig
from ._types import MetricPoint, RunInfo
from ._version import __version__
from .exceptions import MlflowException
from .capture import capture_output
from .models import Model
from .pipeline import Event
from .run import Run
from .store import ModelNotFoundError, PropertyConflictError
from .workspace import Experiment, Workspace

if TYPE_CHECKING:
    from . import entities, tracking
    from ._fluent import (
        ActiveRun,
        active_run,
        create_experiment,
        delete_experiment,
        delete_experiment_tag,
        delete_run,
        delete_tag,
        end_run,
        flush_artifact_async_logging,
        flush_async_logging,
        get_artifact_uri,
        get_experiment,
        get_experiment_by_name,
        get_parent_run,
        get_run,
        get_tracking_uri,
        is_tracking_uri_set,
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
        restore_experiment,
        restore_run,
        search_experiments,
        search_runs,
        set_experiment,
        set_experiment_tag,
        set_experiment_tags,
        set_tag,
        set_tags,
        set_tracking_uri,
        start_run,
    )
    from ._mlflow_client import MlflowClient

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
    "MlflowException",
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
    "delete_experiment",
    "delete_experiment_tag",
    "delete_run",
    "delete_tag",
    "end_run",
    "end_runs_on",
    "entities",
    "exceptions",
    "flush_artifact_async_logging",
    "flush_async_logging",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_parent_run",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
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
    "restore_experiment",
    "restore_run",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "tracking",
]


# The MLflow faces load on first use, not with ``import tracklog``: ``tracklog run``
# and a script that only logs never pay for them (docs/architecture.md, "Start-up").
# Which names come from which module:
_FACES: dict[str, str] = {
    **dict.fromkeys(
        (
            "ActiveRun",
            "active_run",
            "create_experiment",
            "delete_experiment",
            "delete_experiment_tag",
            "delete_run",
            "delete_tag",
            "end_run",
            "flush_artifact_async_logging",
            "flush_async_logging",
            "get_artifact_uri",
            "get_experiment",
            "get_experiment_by_name",
            "get_parent_run",
            "get_run",
            "get_tracking_uri",
            "is_tracking_uri_set",
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
            "restore_experiment",
            "restore_run",
            "search_experiments",
            "search_runs",
            "set_experiment",
            "set_experiment_tag",
            "set_experiment_tags",
            "set_tag",
            "set_tags",
            "set_tracking_uri",
            "start_run",
        ),
        "_fluent",
    ),
    "MlflowClient": "_mlflow_client",
    "entities": "entities",
    "tracking": "tracking",
}


def __getattr__(name: str) -> Any:
    """An MLflow face on first use; every other name tracklog lacks (``mlflow.sklearn``,
    ``mlflow.autolog``, ...) says where it is."""
    source = _FACES.get(name)
    # The two sub-modules are imported by their full name: ``from . import entities``
    # would ask this very function for ``entities`` again.
    if source == "_fluent":
        from . import _fluent as module
    elif source == "_mlflow_client":
        from . import _mlflow_client as module
    elif source == "entities":
        import tracklog.entities as module
    elif source == "tracking":
        import tracklog.tracking as module
    else:
        raise AttributeError(_missing(name))
    value = module if name == source else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the faces not loaded yet included."""
    return sorted(set(globals()) | set(__all__))


def _missing(name: str) -> str:
    if name.startswith("_"):
        return f"module 'tracklog' has no attribute {name!r}"
    return (
        f"module 'tracklog' has no attribute {name!r}. `import tracklog as mlflow` covers MLflow's "
        "tracking calls only (docs/mlflow_swap.md lists them). For mlflow."
        f"{name} and the rest of MLflow (flavors, autolog, log_model), keep `import mlflow` and "
        "let it log into tracklog: MLFLOW_TRACKING_URI=tracklog: python train.py "
        "(or mlflow.set_tracking_uri('tracklog:./.tracklog'))"
    )
