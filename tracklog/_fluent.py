"""MLflow's module-level vocabulary over the same runs: start_run, log_metric, set_tag, ...

A script written for ``mlflow`` should only need its import changed.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from . import _config
from ._errors import ActiveRunError
from ._types import CANCELED, COMPLETED, FAILED
from .pipeline import current
from .run import Run
from .workspace import Experiment, Workspace, set_default_location

__all__ = [
    "active_run",
    "end_run",
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

# MLflow's status words, and Azure ML's, onto tracklog's.
_STATUSES = {
    "FINISHED": COMPLETED,
    "FAILED": FAILED,
    "KILLED": CANCELED,
    COMPLETED.upper(): COMPLETED,
    CANCELED.upper(): CANCELED,
}


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Where runs go from now on: a workspace folder (``file:`` and ``sqlite:`` URIs too),
    or an MLflow tracking server's ``http(s)://`` URL."""
    set_default_location(os.fspath(uri))


def get_tracking_uri() -> str:
    """The workspace location ``Workspace()`` opens now."""
    return Workspace().path


def set_experiment(experiment_name: str) -> Experiment:
    """The experiment that start_run() uses from now on (created when missing)."""
    experiment = Experiment(Workspace(), experiment_name)
    current.set_default_experiment(experiment.name)
    return experiment


def start_run(
    run_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
) -> Run:
    """Start (or resume, by ``run_id``) a run and make it active; usable as ``with``.

    Inside a process started by ``tracklog run`` (TRACKLOG_RUN_ID set), the first
    start_run() resumes that run, as MLflow does with MLFLOW_RUN_ID.
    """
    parent = current.active()
    if parent is not None and not nested:
        raise ActiveRunError(
            f"run {parent.id} is already active; call end_run() first, or start_run(nested=True) "
            "for a child run"
        )
    if run_id is None and parent is None and not nested:
        run_id = os.environ.get(_config.ENV_RUN_ID) or None
        if run_id is not None:
            run = current.env_run()
            assert run is not None
            if run.target.closed:
                run._reopen()
            current.push(run)
            if tags:
                run.set_tags(tags)
            return run
    if run_id is not None:
        run = Workspace().get_run(run_id)
        run._reopen()
        current.started(run)
        current.push(run)
        if tags:
            run.set_tags(tags)
        return run
    if parent is not None:
        run = Run._start(parent.experiment, run_name, parent=parent, tags=tags)
    else:
        experiment = Experiment(Workspace(), current.default_experiment())
        run = Run._start(experiment, run_name, tags=tags)
    run.set_tag("mlflow.runName", run.name)
    return run


def active_run() -> Run | None:
    """The innermost run started with start_run() and not yet ended, or None."""
    return current.active()


def end_run(status: str = "FINISHED") -> None:
    """End the active run with MLflow's status word (FINISHED, FAILED, KILLED)."""
    run = current.active()
    if run is None:
        return
    final = _STATUSES.get(status.upper(), None)
    if final is None:
        raise ValueError(f"unknown run status {status!r}; use FINISHED, FAILED or KILLED")
    if final == COMPLETED:
        run.complete()
    elif final == FAILED:
        run.fail()
    else:
        run.cancel()


def _run() -> Run:
    run = current.current_run()
    assert run is not None
    return run


def log_metric(key: str, value: Any, step: int | None = None) -> None:
    """Log one metric point into the current run."""
    _run().log(key, value, step=step)


def log_metrics(metrics: Mapping[str, Any], step: int | None = None) -> None:
    """Log several metrics at one step into the current run."""
    _run().log_metrics(metrics, step=step)


def log_param(key: str, value: Any) -> None:
    """Set a param of the current run (immutable once set)."""
    _run().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Set several params of the current run."""
    _run().log_params(params)


def set_tag(key: str, value: Any) -> None:
    """Set a tag of the current run."""
    _run().tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags of the current run."""
    _run().set_tags(tags)
