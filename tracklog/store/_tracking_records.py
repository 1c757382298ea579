"""Records of what MLflow's tracking API keeps beyond runs: experiments in full, run inputs, logged models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._errors import TracklogError

#: An experiment or logged model that is live, or deleted (restorable).
ACTIVE = "active"
DELETED = "deleted"


class ExperimentExistsError(TracklogError, ValueError):
    """An experiment with this name exists already (create_experiment, rename_experiment)."""


@dataclass(frozen=True)
class ExperimentRecord:
    """An experiment with everything MLflow shows: lifecycle, artifact location, times, tags."""

    experiment_id: str
    name: str
    created: float
    updated: float
    lifecycle: str = ACTIVE
    artifact_location: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInput:
    """One input or output of a run (``direction``: "input"/"output"; ``kind``: "dataset"/"model")."""

    direction: str
    kind: str
    digest: str | None
    body: dict[str, Any]


@dataclass(frozen=True)
class ModelMetric:
    """One metric point of a logged model (MLflow 3), with the run and dataset it came from."""

    key: str
    value: float
    step: int
    timestamp: float
    run_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True)
class LoggedModelRecord:
    """An MLflow 3 logged model: its files' location, status, tags, params and metrics."""

    model_id: str
    experiment_id: str
    name: str
    source_run_id: str | None
    status: str
    model_type: str | None
    artifact_location: str
    created: float
    updated: float
    lifecycle: str = ACTIVE
    body: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[ModelMetric] = field(default_factory=list)
