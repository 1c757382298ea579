"""MLflow's entity shapes (Run, RunInfo, RunData, Experiment, Metric, ...) over tracklog's records.

What ``import tracklog as mlflow`` hands back: ``run.info.run_id``, ``run.info.status``
in MLflow's words, times in milliseconds, ``run.data.metrics``. Plain data, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ._errors import TracklogError
from ._provenance import with_mlflow_names
from ._types import CANCELED, COMPLETED, CRASHED, FAILED, RUNNING, ExperimentInfo
from ._types import RunInfo as StoredRun

__all__ = [
    "ActiveExperimentError",
    "Experiment",
    "FileInfo",
    "LifecycleStage",
    "Metric",
    "PagedList",
    "MlflowRequestError",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunStatus",
    "RunTag",
    "ViewType",
    "end_status",
    "experiment_entity",
    "mlflow_status",
    "ms",
    "run_entity",
]

#: Tags MLflow's fluent API sets on a run.
RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"
NOTE_TAG = "mlflow.note.content"
USER_TAG = "mlflow.user"
LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"


class PagedList(list):  # type: ignore[type-arg]
    """MLflow's ``PagedList``: one page of search results, and ``token``, the page token of
    the next page (None on the last)."""

    def __init__(self, items: Any, token: str | None) -> None:
        super().__init__(items)
        self.token = token


#: MLflow's error codes (``MlflowException.error_code``), and the HTTP status of each.
INTERNAL_ERROR = "INTERNAL_ERROR"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
INVALID_STATE = "INVALID_STATE"
BAD_REQUEST = "BAD_REQUEST"
_HTTP_STATUS = {INVALID_PARAMETER_VALUE: 400, BAD_REQUEST: 400,
                RESOURCE_ALREADY_EXISTS: 400, RESOURCE_DOES_NOT_EXIST: 404}


class MlflowRequestError(TracklogError):
    """A tracking call MLflow itself refuses (an existing name, a missing id, a bad argument);
    ``error_code`` is MLflow's code (RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST, ...)."""

    def __init__(self, message: str, error_code: str = INVALID_PARAMETER_VALUE) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code

    def get_http_status_code(self) -> int:
        """The HTTP status an MLflow server answers with for this code, as MlflowException's."""
        return _HTTP_STATUS.get(self.error_code, 500)


class ActiveExperimentError(MlflowRequestError):
    """set_experiment() or start_run() named an experiment that does not exist."""


class RunStatus:
    """MLflow's run status words (strings here; ``to_string``/``from_string`` for old code)."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    _ALL = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")

    @staticmethod
    def to_string(status: str) -> str:
        return status

    @staticmethod
    def from_string(status: str) -> str:
        if status not in RunStatus._ALL:
            raise MlflowRequestError(f"unknown run status {status!r}; use one of {', '.join(RunStatus._ALL)}")
        return status

    @staticmethod
    def is_terminated(status: str) -> bool:
        return status in ("FINISHED", "FAILED", "KILLED")


class ViewType:
    """Which runs or experiments a search returns, by lifecycle stage."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"


_TO_MLFLOW = {RUNNING: "RUNNING", COMPLETED: "FINISHED", FAILED: "FAILED", CANCELED: "KILLED", CRASHED: "FAILED"}
_FROM_MLFLOW = {"RUNNING": RUNNING, "SCHEDULED": RUNNING, "FINISHED": COMPLETED, "FAILED": FAILED, "KILLED": CANCELED}


def end_status(status: str) -> str:
    """MLflow's status word (exactly as ``RunStatus.from_string`` takes it) in tracklog's;
    anything else raises MLflow's message (a ValueError here, a bare Exception in MLflow)."""
    if status not in _FROM_MLFLOW:
        raise ValueError(
            f"Could not get run status corresponding to string {status}. Valid run status strings: "
            f"{list(_FROM_MLFLOW)}"
        )
    return _FROM_MLFLOW[status]


def mlflow_status(status: str) -> str:
    """tracklog's status word in MLflow's: a Crashed run (its process died) reads FAILED."""
    return _TO_MLFLOW.get(status, status.upper())


def ms(seconds: float | None) -> int | None:
    """Epoch seconds (tracklog's unit) as MLflow's integer milliseconds."""
    return None if seconds is None else round(seconds * 1000)


class _Entity:
    """MLflow's ``_MlflowObject`` iteration: ``(property, value)`` pairs in name order, so
    ``dict(entity)`` works as on MLflow's entities (a Run's values stay entities)."""

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        for name in sorted(f.name for f in fields(self)):  # type: ignore[arg-type]
            yield name, getattr(self, name)


@dataclass(frozen=True)
class Metric(_Entity):
    """One metric point: MLflow's ``Metric(key, value, timestamp_ms, step)``."""

    key: str
    value: float
    timestamp: int
    step: int = 0


@dataclass(frozen=True)
class Param(_Entity):
    key: str
    value: str


@dataclass(frozen=True)
class RunTag(_Entity):
    key: str
    value: str


@dataclass(frozen=True)
class FileInfo(_Entity):
    """An artifact as listed: its run-relative path, whether a folder, its size in bytes."""

    path: str
    is_dir: bool
    file_size: int | None


@dataclass(frozen=True)
class Experiment(_Entity):
    """MLflow's experiment entity."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


@dataclass(frozen=True)
class RunInfo(_Entity):
    """MLflow's ``run.info``: ids, status word, times in ms, artifact URI."""

    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE

    @property
    def run_uuid(self) -> str:
        return self.run_id


@dataclass(frozen=True)
class RunData(_Entity):
    """MLflow's ``run.data``: each metric's latest value, params and tags."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInputs(_Entity):
    dataset_inputs: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Run(_Entity):
    """MLflow's run entity: ``info`` and ``data``."""

    info: RunInfo
    data: RunData
    inputs: RunInputs = field(default_factory=RunInputs)

    def to_dictionary(self) -> dict[str, Any]:
        return {
            "info": dict(vars(self.info)),
            "data": {"metrics": dict(self.data.metrics), "params": dict(self.data.params),
                     "tags": dict(self.data.tags)},
        }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def run_entity(
    stored: StoredRun,
    artifact_uri: str,
    last_values: Mapping[str, Any],
    params: Mapping[str, str],
    tags: Mapping[str, str],
) -> Run:
    """A stored run as MLflow's entity; only numeric metrics appear in ``data.metrics``, and
    tracklog's provenance tags appear under MLflow's names too (``mlflow.user``, ...), as do
    its name and parent (``mlflow.runName``, ``mlflow.parentRunId``: an Azure child run)."""
    tags = with_mlflow_names(tags)
    tags.setdefault(RUN_NAME_TAG, stored.name)
    if stored.parent_run_id:
        tags.setdefault(PARENT_TAG, stored.parent_run_id)
    metrics = {}
    for key, value in last_values.items():
        number = _number(value)
        if number is not None:
            metrics[key] = number
    info = RunInfo(
        run_id=stored.run_id,
        experiment_id=stored.experiment_id,
        run_name=tags.get(RUN_NAME_TAG, stored.name),
        user_id=stored.user_id or tags.get(USER_TAG, ""),
        status=mlflow_status(stored.status),
        start_time=ms(stored.start_time) or 0,
        end_time=ms(stored.end_time),
        artifact_uri=artifact_uri,
        lifecycle_stage=stored.lifecycle or LifecycleStage.ACTIVE,
    )
    return Run(info, RunData(metrics, dict(params), tags))


def experiment_entity(stored: ExperimentInfo, artifact_location: str, tags: Mapping[str, str] | None = None) -> Experiment:
    """A stored experiment as MLflow's entity."""
    created = ms(stored.created) if stored.created else None
    return Experiment(stored.experiment_id, stored.name, artifact_location, LifecycleStage.ACTIVE,
                      dict(tags or {}), created, created)


def metric_entity(key: str, value: Any, timestamp: float, step: int) -> Metric | None:
    """One stored point as MLflow's Metric, or None for a non-numeric one."""
    number = _number(value)
    if number is None:
        return None
    return Metric(key, number, ms(timestamp) or 0, step)


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
