"""Records of what MLflow's tracking API keeps beyond runs: experiments in full, run inputs, logged models."""

from __future__ import annotations

from typing import Any

from .._errors import TracklogError
from .._record import FrozenRecord

#: An experiment or logged model that is live, or deleted (restorable).
ACTIVE = "active"
DELETED = "deleted"


class ExperimentExistsError(TracklogError, ValueError):
    """An experiment with this name exists already (create_experiment, rename_experiment)."""


class ExperimentRecord(FrozenRecord):
    """An experiment with everything MLflow shows: lifecycle, artifact location, times, tags."""

    __slots__ = ("experiment_id", "name", "created", "updated", "lifecycle", "artifact_location", "tags")
    experiment_id: str
    name: str
    created: float
    updated: float
    lifecycle: str
    artifact_location: str | None
    tags: dict[str, str]

    def __init__(
        self,
        experiment_id: str,
        name: str,
        created: float,
        updated: float,
        lifecycle: str = ACTIVE,
        artifact_location: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        self.experiment_id = experiment_id
        self.name = name
        self.created = created
        self.updated = updated
        self.lifecycle = lifecycle
        self.artifact_location = artifact_location
        self.tags = {} if tags is None else tags


class RunInput(FrozenRecord):
    """One input or output of a run (``direction``: "input"/"output"; ``kind``: "dataset"/"model")."""

    __slots__ = ("direction", "kind", "digest", "body")
    direction: str
    kind: str
    digest: str | None
    body: dict[str, Any]

    def __init__(self, direction: str, kind: str, digest: str | None, body: dict[str, Any]) -> None:
        self.direction = direction
        self.kind = kind
        self.digest = digest
        self.body = body


class ModelMetric(FrozenRecord):
    """One metric point of a logged model (MLflow 3), with the run and dataset it came from."""

    __slots__ = ("key", "value", "step", "timestamp", "run_id", "dataset_name", "dataset_digest")
    key: str
    value: float
    step: int
    timestamp: float
    run_id: str | None
    dataset_name: str | None
    dataset_digest: str | None

    def __init__(
        self,
        key: str,
        value: float,
        step: int,
        timestamp: float,
        run_id: str | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
    ) -> None:
        self.key = key
        self.value = value
        self.step = step
        self.timestamp = timestamp
        self.run_id = run_id
        self.dataset_name = dataset_name
        self.dataset_digest = dataset_digest


class LoggedModelRecord(FrozenRecord):
    """An MLflow 3 logged model: its files' location, status, tags, params and metrics."""

    __slots__ = (
        "model_id",
        "experiment_id",
        "name",
        "source_run_id",
        "status",
        "model_type",
        "artifact_location",
        "created",
        "updated",
        "lifecycle",
        "body",
        "tags",
        "params",
        "metrics",
    )
    model_id: str
    experiment_id: str
    name: str
    source_run_id: str | None
    status: str
    model_type: str | None
    artifact_location: str
    created: float
    updated: float
    lifecycle: str
    body: dict[str, Any]
    tags: dict[str, str]
    params: dict[str, str]
    metrics: list[ModelMetric]

    def __init__(
        self,
        model_id: str,
        experiment_id: str,
        name: str,
        source_run_id: str | None,
        status: str,
        model_type: str | None,
        artifact_location: str,
        created: float,
        updated: float,
        lifecycle: str = ACTIVE,
        body: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        metrics: list[ModelMetric] | None = None,
    ) -> None:
        self.model_id = model_id
        self.experiment_id = experiment_id
        self.name = name
        self.source_run_id = source_run_id
        self.status = status
        self.model_type = model_type
        self.artifact_location = artifact_location
        self.created = created
        self.updated = updated
        self.lifecycle = lifecycle
        self.body = {} if body is None else body
        self.tags = {} if tags is None else tags
        self.params = {} if params is None else params
        self.metrics = [] if metrics is None else metrics
