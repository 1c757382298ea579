"""A metric value given as text on the plugin route: what MLflow's own sqlite store makes of it."""

from __future__ import annotations

import time

import pytest

mlflow = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")

from mlflow.entities import Metric  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402


def _outcome(uri: str) -> dict[str, object]:
    """Numeric text, text that is no number, and a batch holding one, through MLflow's client."""
    client = mlflow.MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("text-metrics")).info.run_id
    client.log_metric(run_id, "lr", "0.25")
    outcome: dict[str, object] = {}
    try:
        client.log_metric(run_id, "bad", "abc")
    except MlflowException as exc:
        outcome["log_metric"] = exc.error_code
    now = int(time.time() * 1000)
    try:
        client.log_batch(run_id, metrics=[Metric("good", 1.0, now, 0), Metric("bad", "abc", now, 0)])
    except MlflowException as exc:
        outcome["log_batch"] = (exc.error_code, "metrics[1].value" in exc.message)
    outcome["metrics"] = client.get_run(run_id).data.metrics
    return outcome


def test_text_metrics_are_taken_and_refused_as_mlflows_sqlite_store_does(tmp_path):
    """"0.25" is 0.25; "abc" is INVALID_PARAMETER_VALUE, and a batch holding it logs nothing."""
    ours = _outcome(f"tracklog:{tmp_path / 'ws'}")
    theirs = _outcome(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert ours == theirs == {
        "log_metric": "INVALID_PARAMETER_VALUE",
        "log_batch": ("INVALID_PARAMETER_VALUE", True),
        "metrics": {"lr": 0.25},
    }
