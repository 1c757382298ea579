"""``mlflow.entities`` for ``import tracklog as mlflow``: the shapes tracking calls take and return."""

from __future__ import annotations

from ._mlflow_entities import (
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    RunTag,
    ViewType,
)

__all__ = [
    "Experiment",
    "FileInfo",
    "LifecycleStage",
    "Metric",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunStatus",
    "RunTag",
    "ViewType",
]
