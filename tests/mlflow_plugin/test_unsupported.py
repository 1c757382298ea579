"""What a tracklog: workspace does not keep raises MLflow's own error, with a clear message,
and stays a NotImplementedError for MLflow's own fallbacks (its server and trace exporter)."""

from __future__ import annotations

import pytest

mlflow = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")

from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.store.tracking.abstract_store import AbstractStore  # noqa: E402

from tracklog.mlflow_plugin._store import TracklogStore  # noqa: E402


def test_traces_are_refused_with_mlflows_error_naming_what_is_kept(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri("tracklog:./ws")
    try:
        with mlflow.start_run():
            mlflow.log_metric("loss", 0.5)
        with pytest.raises(MlflowException) as caught:
            mlflow.search_traces(locations=["0"])
    finally:
        mlflow.set_tracking_uri(None)
    assert isinstance(caught.value, NotImplementedError)
    assert caught.value.error_code == "NOT_IMPLEMENTED"
    assert "search_traces" in str(caught.value) and "keeps runs, metrics" in str(caught.value)


def test_every_base_method_that_only_raises_is_refused_or_implemented() -> None:
    for name, member in vars(AbstractStore).items():
        code = getattr(member, "__code__", None)
        if name.startswith("__") or code is None or "NotImplementedError" not in code.co_names:
            continue
        mine = getattr(TracklogStore, name)
        assert mine is not member, f"{name} still raises MLflow's bare NotImplementedError"
