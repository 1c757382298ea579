"""``mlflow.tracking`` for ``import tracklog as mlflow``: ``mlflow.tracking.MlflowClient()``."""

from __future__ import annotations

from ._mlflow_client import MlflowClient

__all__ = ["MlflowClient"]
