"""search_runs' order_by on the swap orders as MLflow's own search does, NaN included."""

from __future__ import annotations

from pathlib import Path

import pytest

import tracklog as mlflow

search_utils = pytest.importorskip("mlflow.utils.search_utils")


@pytest.fixture
def ws(tmp_path) -> Path:
    path = tmp_path / "ws"
    mlflow.set_tracking_uri(f"tracklog:{path}")
    return path


@pytest.mark.parametrize("order", ["metrics.accuracy DESC", "metrics.accuracy ASC", "metrics.accuracy"])
def test_a_nan_metric_orders_after_every_number_and_before_a_missing_one(ws, order):
    """As MLflow (its SearchUtils.sort, the file store's): numbers by value, then NaN, then no value."""
    mlflow.set_experiment("nan-order")
    for name, accuracy in [("good", 0.9), ("diverged", float("nan")), ("ok", 0.5), ("none", None), ("meh", 0.7)]:
        with mlflow.start_run(run_name=name):
            if accuracy is not None:
                mlflow.log_metric("accuracy", accuracy)
    runs = mlflow.search_runs(experiment_names=["nan-order"], order_by=[order], output_format="list")
    expected = search_utils.SearchUtils.sort(runs, [order])  # MLflow's own sort of the same entities
    assert [r.info.run_name for r in runs] == [r.info.run_name for r in expected]
    numbers = ["good", "meh", "ok"] if order.endswith("DESC") else ["ok", "meh", "good"]
    assert [r.info.run_name for r in runs] == [*numbers, "diverged", "none"]
    best = mlflow.search_runs(experiment_names=["nan-order"], order_by=[order], max_results=1, output_format="list")
    assert best[0].info.run_name == numbers[0]
