"""A metric value given as text, on the swap as in MLflow: float(value), or MLflow's error."""

from __future__ import annotations

from pathlib import Path

import pytest

import tracklog as mlflow
from tracklog.exceptions import MlflowException

real_mlflow = pytest.importorskip("mlflow")


@pytest.fixture
def ws(tmp_path) -> Path:
    path = tmp_path / "ws"
    mlflow.set_tracking_uri(f"tracklog:{path}")
    return path


def _real_outcome(tmp_path: Path, value: str) -> object:
    """What the real mlflow (its sqlite store) makes of ``log_metric("m", value)``."""
    client = real_mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = client.create_run(client.create_experiment("text-metrics")).info.run_id
    try:
        client.log_metric(run_id, "m", value)
    except real_mlflow.MlflowException as exc:
        return exc.error_code
    return client.get_run(run_id).data.metrics["m"]


@pytest.mark.parametrize("text", ["0.25", "1e3", " 2 "])
def test_numeric_text_is_a_number_as_in_mlflow(ws, tmp_path, text):
    """log_metric, log_metrics and the client make numeric text a float: in data.metrics, the
    history and a filter, the number MLflow stores."""
    client = mlflow.MlflowClient()
    with mlflow.start_run() as run:
        mlflow.log_metric("lr", text)
        mlflow.log_metrics({"acc": text}, step=1)
        client.log_metric(run.info.run_id, "byid", text)
        mlflow.log_metric("stamped", text, timestamp=1_700_000_000_000)
    got = mlflow.get_run(run.info.run_id).data.metrics
    assert got == {"lr": float(text), "acc": float(text), "byid": float(text), "stamped": float(text)}
    assert [m.value for m in client.get_metric_history(run.info.run_id, "lr")] == [float(text)]
    found = mlflow.search_runs(filter_string=f"metrics.lr = {float(text)}", output_format="list")
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert got["lr"] == _real_outcome(tmp_path, text)


def test_text_that_is_no_number_raises_mlflows_error_and_logs_nothing(ws, tmp_path):
    """"abc" is MlflowException(INVALID_PARAMETER_VALUE), as in MLflow; log_metrics and
    log_batch log none of the batch then."""
    client = mlflow.MlflowClient()
    with mlflow.start_run() as run:
        with pytest.raises(MlflowException) as raised:
            mlflow.log_metric("bad", "abc")
        assert raised.value.error_code == "INVALID_PARAMETER_VALUE" == _real_outcome(tmp_path, "abc")
        assert 'Invalid value "abc" for parameter \'value\'' in raised.value.message
        with pytest.raises(MlflowException, match=r"metrics\[1\]\.value"):
            mlflow.log_metrics({"good": 1.0, "bad": "abc"})
        with pytest.raises(MlflowException, match="INVALID|Invalid value"):
            client.log_batch(run.info.run_id, metrics=[("good", 1.0), ("bad", "abc")])
        with pytest.raises(MlflowException):
            client.log_metric(run.info.run_id, "bad", "abc")
    assert mlflow.get_run(run.info.run_id).data.metrics == {}
