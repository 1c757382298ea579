"""``import tracklog as mlflow`` checks names and values as MLflow 3 does, without mlflow:
each case runs on the real mlflow (its ``sqlite:`` store) and on the swap, and the outcomes
must be the same: MLflow's error code and message, or what was kept."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

import tracklog

real = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")

Case = Callable[[Any, Any, str], Any]
_NAMES = ["a/b", "a b:c", "../x", "/abs", "x/../y", "a//b", ".", "bad!", "", "é", "a" * 251, "ok.name-1_/x"]


def _kept(mlf: Any, run_id: str) -> dict[str, Any]:
    data = mlf.get_run(run_id).data
    return {
        "metrics": sorted(data.metrics),
        "params": {k: len(v) for k, v in data.params.items()},
        "tags": {k: len(v) for k, v in data.tags.items() if not k.startswith(("mlflow.", "tracklog."))},
    }


def _then_kept(call: Callable[[], Any], mlf: Any, run_id: str) -> Any:
    """What a call that may fail left in the run."""
    try:
        call()
    except Exception as exc:
        return getattr(exc, "error_code", type(exc).__name__), _kept(mlf, run_id)
    return None, _kept(mlf, run_id)


CASES: dict[str, Case] = {}
for _i, _n in enumerate(_NAMES):
    CASES[f"log_metric {_i}"] = lambda m, _c, _r, n=_n: m.log_metric(n, 1.0)
    CASES[f"log_param {_i}"] = lambda m, _c, _r, n=_n: m.log_param(n, 1)
    CASES[f"set_tag {_i}"] = lambda m, _c, _r, n=_n: m.set_tag(n, 1)
    CASES[f"log_metrics {_i}"] = lambda m, _c, r, n=_n: _then_kept(lambda: m.log_metrics({"fine": 1.0, n: 1.0}), m, r)
    CASES[f"log_params {_i}"] = lambda m, _c, r, n=_n: _then_kept(lambda: m.log_params({"fine": 1, n: 1}), m, r)
    CASES[f"set_tags {_i}"] = lambda m, _c, r, n=_n: _then_kept(lambda: m.set_tags({"fine": 1, n: 1}), m, r)
    CASES[f"client log_metric {_i}"] = lambda _m, c, r, n=_n: c.log_metric(r, n, 1.0)
    CASES[f"client log_param {_i}"] = lambda _m, c, r, n=_n: c.log_param(r, n, 1)
    CASES[f"client set_tag {_i}"] = lambda _m, c, r, n=_n: c.set_tag(r, n, 1)
CASES.update({
    "param of 6001 characters is cut": lambda m, _c, r: (m.log_param("long", "x" * 6001), _kept(m, r)),
    "tag of 8001 characters is cut": lambda m, _c, r: (m.set_tag("long", "y" * 8001), _kept(m, r)),
    "log_params cuts a long value": lambda m, _c, r: (m.log_params({"p": "x" * 6001}), _kept(m, r)),
    "set_tags cuts a long value": lambda m, _c, r: (m.set_tags({"t": "x" * 8001}), _kept(m, r)),
    "client param of 6001 is cut": lambda m, c, r: (c.log_param(r, "long", "x" * 6001), _kept(m, r)),
    "client tag of 8001 is cut": lambda m, c, r: (c.set_tag(r, "long", "x" * 8001), _kept(m, r)),
    "client batch with a bad metric name": lambda m, c, r: _then_kept(
        lambda: c.log_batch(r, metrics=[m.entities.Metric("ok", 1.0, 1, 0), m.entities.Metric("bad!", 1.0, 1, 0)],
                            params=[m.entities.Param("p", "1")]), m, r),
    "client batch with a bad tag": lambda m, c, r: _then_kept(
        lambda: c.log_batch(r, params=[m.entities.Param("p", "1")], tags=[m.entities.RunTag("../t", "1")]), m, r),
    "client batch with a param twice": lambda m, c, r: c.log_batch(
        r, params=[m.entities.Param("d", "1"), m.entities.Param("d", "1")]),
    "a metric with no value": lambda m, _c, _r: m.log_metric("m", None),
    "a metric value float() refuses": lambda m, _c, _r: m.log_metric("m", object()),
    "a complex metric value": lambda m, _c, _r: m.log_metric("m", 1j),
    "a negative timestamp": lambda m, _c, _r: m.log_metric("m", 1, timestamp=-5),
    "a step that is no number": lambda m, _c, _r: m.log_metric("m", 1.0, step="x"),
    "log_metrics with no value logs none": lambda m, _c, r: _then_kept(lambda: m.log_metrics({"j": 1.0, "k": None}), m, r),
    "client log_metric with no value": lambda _m, c, r: c.log_metric(r, "m", None),
    "client batch with a negative timestamp": lambda m, c, r: _then_kept(
        lambda: c.log_batch(r, metrics=[m.entities.Metric("ok", 1.0, 1, 0), m.entities.Metric("t", 1.0, -1, 0)]), m, r),
    "start_run tags are kept unchecked": lambda m, _c, _r: _nested_tags(m),
    "experiment name of 501": lambda m, _c, _r: m.create_experiment("e" * 501),
    "set_experiment with a name of 501": lambda m, _c, _r: m.set_experiment("e" * 501),
    "experiment renamed to 501": lambda _m, c, r: c.rename_experiment(c.get_run(r).info.experiment_id, "e" * 501),
    "experiment tag key of 251": lambda m, _c, _r: m.set_experiment_tag("k" * 251, "v"),
    "experiment tag with a bad key": lambda m, _c, _r: m.set_experiment_tag("../k", "v"),
    "experiment tag value of 20001": lambda m, _c, _r: m.set_experiment_tag("k", "v" * 20001),
})


def _nested_tags(mlf: Any) -> list[str]:
    with mlf.start_run(nested=True, tags={"../x": "1"}) as child:
        pass
    return sorted(k for k in mlf.get_run(child.info.run_id).data.tags if not k.startswith(("mlflow.", "tracklog.")))


def _outcome(mlf: Any, client: Any, case: Case) -> tuple[Any, ...]:
    with mlf.start_run() as run:
        run_id = run.info.run_id
        try:
            kept = case(mlf, client, run_id)
        except Exception as exc:
            if not hasattr(exc, "error_code"):  # MLflow's client lets float()'s TypeError through
                return ("raised", type(exc).__name__, str(exc))
            return ("raised", exc.error_code, exc.message.replace(run_id, "<run>"))
    return ("ok", kept)


def _outcomes(mlf: Any, uri: str, names: list[str]) -> dict[str, tuple[Any, ...]]:
    mlf.set_tracking_uri(uri)
    try:
        mlf.set_experiment("checks")
        return {name: _outcome(mlf, mlf.MlflowClient(), CASES[name]) for name in names}
    finally:
        while mlf.active_run() is not None:
            mlf.end_run()


@pytest.fixture(scope="module")
def mlflows(tmp_path_factory) -> dict[str, tuple[Any, ...]]:
    """Every case's outcome with the real mlflow on its own sqlite: store."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('sql') / 'mlflow.db'}"
    try:
        return _outcomes(real, uri, list(CASES))
    finally:
        real.set_tracking_uri(None)
        real.tracking.fluent._active_experiment_id = None


@pytest.mark.parametrize("name", list(CASES))
def test_outcome_is_mlflows(name, mlflows, tmp_path) -> None:
    assert _outcomes(tracklog, f"tracklog:{tmp_path / 'ws'}", [name])[name] == mlflows[name]


def test_a_cut_value_warns_as_mlflow_does(tmp_path, caplog) -> None:
    tracklog.set_tracking_uri(f"tracklog:{tmp_path / 'ws'}")
    with tracklog.start_run() as run, caplog.at_level(logging.WARNING, logger="tracklog"):
        tracklog.log_param("long", "x" * 6001)
    assert "Param value 'xxx" in caplog.text and "is truncated to 6000 characters" in caplog.text
    assert tracklog.get_run(run.info.run_id).data.params["long"] == "x" * 6000


def test_long_values_refused_when_mlflow_truncation_is_off(tmp_path, monkeypatch) -> None:
    """MLFLOW_TRUNCATE_LONG_VALUES=false: a tag over 8000 characters is MLflow's error instead."""
    monkeypatch.setenv("MLFLOW_TRUNCATE_LONG_VALUES", "false")
    tracklog.set_tracking_uri(f"tracklog:{tmp_path / 'ws'}")
    with tracklog.start_run(), pytest.raises(tracklog.MlflowException, match="'value' exceeds the maximum length of 8000"):
        tracklog.set_tag("long", "x" * 8001)
