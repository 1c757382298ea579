"""tracklog's records as MLflow's entities, and MLflow's words as tracklog's."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from mlflow.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    InputTag,
    LoggedModel,
    LoggedModelInput,
    LoggedModelOutput,
    LoggedModelStatus,
    Metric,
    Param,
    Run,
    RunData,
    RunInputs,
    RunOutputs,
    RunStatus,
    RunTag,
)
from mlflow.entities import RunInfo as MlflowRunInfo
from mlflow.entities.lifecycle_stage import LifecycleStage
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME, MLFLOW_USER

from .._provenance import with_mlflow_names
from .._types import CANCELED, COMPLETED, CRASHED, FAILED, RUNNING, MetricPoint, RunInfo
from ..store._tracking_records import (
    ACTIVE,
    DELETED,
    ExperimentRecord,
    LoggedModelRecord,
    RunInput,
)

#: tracklog's statuses in MLflow's words (a Crashed run is FAILED to MLflow).
TO_MLFLOW_STATUS = {RUNNING: "RUNNING", COMPLETED: "FINISHED", FAILED: "FAILED", CANCELED: "KILLED", CRASHED: "FAILED"}
FROM_MLFLOW_STATUS = {"RUNNING": RUNNING, "SCHEDULED": RUNNING, "FINISHED": COMPLETED, "FAILED": FAILED,
                      "KILLED": CANCELED}
DATASET = "dataset"
MODEL = "model"
INPUT = "input"
OUTPUT = "output"


def ms(seconds: float | None) -> int | None:
    """Epoch seconds as MLflow's epoch milliseconds."""
    return None if seconds is None else round(seconds * 1000)


def seconds(millis: float | None) -> float | None:
    """MLflow's epoch milliseconds as epoch seconds."""
    return None if millis is None else millis / 1000.0


def status_name(status: Any) -> str:
    """An MLflow status (a name or RunStatus number) as tracklog's status."""
    name = RunStatus.to_string(status) if isinstance(status, int) else str(status)
    return FROM_MLFLOW_STATUS.get(name, RUNNING)


def lifecycle_stage(lifecycle: str) -> str:
    return LifecycleStage.DELETED if lifecycle == DELETED else LifecycleStage.ACTIVE


def lifecycle_of(stage: str) -> str:
    return DELETED if stage == LifecycleStage.DELETED else ACTIVE


def experiment(record: ExperimentRecord, artifact_location: str) -> Experiment:
    """An MLflow Experiment."""
    return Experiment(
        experiment_id=record.experiment_id,
        name=record.name,
        artifact_location=artifact_location,
        lifecycle_stage=lifecycle_stage(record.lifecycle),
        tags=[ExperimentTag(k, v) for k, v in record.tags.items()],
        creation_time=ms(record.created),
        last_update_time=ms(record.updated),
    )


def run_info(info: RunInfo, artifact_uri: str, user: str = "") -> MlflowRunInfo:
    """An MLflow RunInfo; ``user`` (the run's user tag) where the run has no user id."""
    return MlflowRunInfo(
        run_id=info.run_id,
        experiment_id=info.experiment_id,
        user_id=info.user_id or user,
        status=TO_MLFLOW_STATUS.get(info.status, "RUNNING"),
        start_time=ms(info.start_time),  # type: ignore[arg-type]
        end_time=ms(info.end_time),
        lifecycle_stage=lifecycle_stage(info.lifecycle),
        artifact_uri=artifact_uri,
        run_name=info.name,
    )


def metric(key: str, point: MetricPoint, run_id: str | None = None) -> Metric | None:
    """An MLflow Metric of a point, or None when its value is no number (tracklog keeps text too)."""
    value = point.value
    if type(value) is bool or not isinstance(value, (int, float)):
        return None
    return Metric(key, float(value), ms(point.timestamp), point.step, run_id=run_id)  # type: ignore[arg-type]


def run(
    info: RunInfo,
    artifact_uri: str,
    latest: Mapping[str, MetricPoint],
    params: Mapping[str, str],
    tags: Mapping[str, str],
    inputs: Iterable[RunInput],
) -> Run:
    """An MLflow Run with its latest metrics, params, tags, inputs and outputs; a run made by
    tracklog's own API (an Azure child run) has the tags MLflow derives its name and parent
    from (``mlflow.runName``, ``mlflow.parentRunId``), so MLflow's searches and UI find them,
    and its provenance is under MLflow's names too (``mlflow.user``, ``mlflow.source.name``)."""
    metrics = [m for m in (metric(k, p) for k, p in latest.items()) if m is not None]
    tags = with_mlflow_names(tags)
    tags.setdefault(MLFLOW_RUN_NAME, info.name)
    if info.parent_run_id:
        tags.setdefault(MLFLOW_PARENT_RUN_ID, info.parent_run_id)
    datasets, model_inputs, model_outputs = [], [], []
    for item in inputs:
        body = item.body
        if item.kind == DATASET:
            datasets.append(DatasetInput(Dataset(**body["dataset"]), [InputTag(k, v) for k, v in body["tags"].items()]))
        elif item.direction == INPUT:
            model_inputs.append(LoggedModelInput(body["model_id"]))
        else:
            model_outputs.append(LoggedModelOutput(body["model_id"], body.get("step", 0)))
    return Run(
        run_info(info, artifact_uri, tags.get(MLFLOW_USER, "")),
        RunData(metrics=metrics, params=[Param(k, v) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in tags.items()]),
        RunInputs(dataset_inputs=datasets, model_inputs=model_inputs),
        RunOutputs(model_outputs=model_outputs),
    )


def dataset_input(item: DatasetInput) -> RunInput:
    """An MLflow DatasetInput as a run input to keep."""
    d = item.dataset
    body = {
        "dataset": {"name": d.name, "digest": d.digest, "source_type": d.source_type, "source": d.source,
                    "schema": d.schema, "profile": d.profile},
        "tags": {t.key: t.value for t in item.tags or []},
    }
    return RunInput(INPUT, DATASET, f"{d.name}\x00{d.digest}", body)


def logged_model(record: LoggedModelRecord) -> LoggedModel:
    """An MLflow 3 LoggedModel."""
    return LoggedModel(
        experiment_id=record.experiment_id,
        model_id=record.model_id,
        name=record.name,
        artifact_location=record.artifact_location,
        creation_timestamp=ms(record.created),  # type: ignore[arg-type]
        last_updated_timestamp=ms(record.updated),  # type: ignore[arg-type]
        model_type=record.model_type,
        source_run_id=record.source_run_id,
        status=LoggedModelStatus(record.status),
        status_message=record.body.get("status_message"),
        tags=dict(record.tags),
        params=dict(record.params),
        metrics=[
            Metric(m.key, m.value if m.value is not None else math.nan, ms(m.timestamp), m.step,  # type: ignore[arg-type]
                   model_id=record.model_id, dataset_name=m.dataset_name, dataset_digest=m.dataset_digest,
                   run_id=m.run_id)
            for m in record.metrics
        ],
    )
