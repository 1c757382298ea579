"""The tracklog: store checks names, values and batch sizes as MLflow's own SQL store does:
each call below runs against both (``sqlite:`` and ``tracklog:``, MLflow's own client), and
the outcomes must be the same: MLflow's error code and message, or what was kept."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")

from mlflow.entities import Metric, Param, RunTag  # noqa: E402

Case = Callable[[Any, str, str], Any]


def _kept(client: Any, run_id: str) -> dict[str, Any]:
    data = client.get_run(run_id).data
    return {
        "metrics": sorted(data.metrics),
        "params": {k: len(v) for k, v in data.params.items()},
        "tags": {k: len(v) for k, v in data.tags.items() if not k.startswith("mlflow.")},
    }


def _metrics(count: int) -> list[Metric]:
    return [Metric(f"m{i}", 1.0, 1, 0) for i in range(count)]


_NAMES = ["a/b", "a b:c", "../x", "/abs", "x/../y", "a//b", ".", "bad!", "", "é", "a" * 251, "ok.name-1_/x"]

CASES: dict[str, Case] = {}
for _i, _name in enumerate(_NAMES):
    CASES[f"log_metric name {_i}"] = lambda c, r, _e, n=_name: c.log_metric(r, n, 1.0)
    CASES[f"log_param name {_i}"] = lambda c, r, _e, n=_name: c.log_param(r, n, 1)
    CASES[f"set_tag name {_i}"] = lambda c, r, _e, n=_name: c.set_tag(r, n, 1)
    CASES[f"log_batch names {_i}"] = lambda c, r, _e, n=_name: c.log_batch(
        r, metrics=[Metric("ok", 1.0, 1, 0), Metric(n, 1.0, 1, 0)])
CASES.update({
    "param of 6001 characters is cut": lambda c, r, _e: (c.log_param(r, "long", "x" * 6001), _kept(c, r)),
    "tag of 8001 characters is cut": lambda c, r, _e: (c.set_tag(r, "long", "y" * 8001), _kept(c, r)),
    "batch param of 6001 is cut": lambda c, r, _e: (c.log_batch(r, params=[Param("p", "x" * 6001)]), _kept(c, r)),
    "batch tag of 8001 is cut": lambda c, r, _e: (c.log_batch(r, tags=[RunTag("t", "x" * 8001)]), _kept(c, r)),
    "duplicate params in a batch": lambda c, r, _e: c.log_batch(r, params=[Param("d", "1"), Param("d", "1")]),
    "a bad tag fails its whole batch": lambda c, r, _e: (
        c.log_batch(r, metrics=[Metric("fine", 1.0, 1, 0)], params=[Param("fine", "1")],
                    tags=[RunTag("ok", "1"), RunTag("../t", "1")])),
    "nothing of a failed batch is kept": lambda c, r, _e: (
        _try(lambda: c.log_batch(r, metrics=[Metric("fine", 1.0, 1, 0), Metric("bad!", 1.0, 1, 0)],
                                 params=[Param("fine", "1")])), _kept(c, r)),
    "negative timestamp": lambda c, r, _e: c.log_metric(r, "m", 1.0, timestamp=-1),
    "no value": lambda c, r, _e: c.log_metric(r, "m", None),
    "step that is no number": lambda c, r, _e: c.log_batch(r, metrics=[Metric("m", 1.0, 1, "x")]),
    "store: 1001 metrics": lambda c, r, _e: _store(c).log_batch(r, _metrics(1001), [], []),
    "store: 101 params": lambda c, r, _e: _store(c).log_batch(r, [], [Param(f"p{i}", "1") for i in range(101)], []),
    "store: 101 tags": lambda c, r, _e: _store(c).log_batch(r, [], [], [RunTag(f"t{i}", "1") for i in range(101)]),
    "store: 1001 entities": lambda c, r, _e: _store(c).log_batch(
        r, _metrics(900), [Param("p", "1")], [RunTag(f"t{i}", "1") for i in range(100)]),
    "store: log_batch with a bad run id": lambda c, _r, _e: _store(c).log_batch("../zz", _metrics(1), [], []),
    "client splits 150 params into batches": lambda c, r, _e: (
        c.log_batch(r, params=[Param(f"q{i}", "1") for i in range(150)]), len(c.get_run(r).data.params)),
    "unknown run": lambda c, _r, _e: c.log_param("0" * 32, "a", 1),
    "experiment tag key of 251": lambda c, _r, e: c.set_experiment_tag(e, "k" * 251, "v"),
    "experiment tag with a bad key": lambda c, _r, e: c.set_experiment_tag(e, "../k", "v"),
    "experiment tag value of 20001": lambda c, _r, e: c.set_experiment_tag(e, "k", "v" * 20001),
    "experiment name of 501": lambda c, _r, _e: c.create_experiment("e" * 501),
    "experiment renamed to 501 characters": lambda c, _r, e: c.rename_experiment(e, "e" * 501),
    "create_run keeps its tags unchecked": lambda c, _r, e: sorted(
        k for k in c.create_run(e, tags={"../x": "1"}).data.tags if not k.startswith("mlflow.")),
    "create_run with run_name and a different runName tag": lambda c, _r, e: c.create_run(
        e, run_name="a", tags={"mlflow.runName": "b"}),
    "create_run named by its runName tag": lambda c, _r, e: c.create_run(e, tags={"mlflow.runName": "b"}).info.run_name,
    "a run name of 9000 characters is cut": lambda c, r, _e: (
        c.set_tag(r, "mlflow.runName", "n" * 9000), len(c.get_run(r).info.run_name)),
})


def _try(call: Callable[[], Any]) -> Any:
    try:
        call()
    except mlflow.MlflowException as exc:
        return exc.error_code
    return None


def _store(client: Any) -> Any:
    return client._tracking_client.store


def _outcome(client: Any, experiment_id: str, case: Case) -> tuple[Any, ...]:
    run_id = client.create_run(experiment_id).info.run_id
    try:
        kept = case(client, run_id, experiment_id)
    except mlflow.MlflowException as exc:
        return ("raised", exc.error_code, exc.message.replace(run_id, "<run>"))
    return ("ok", kept)


def _outcomes(uri: str, names: list[str]) -> dict[str, tuple[Any, ...]]:
    client = mlflow.MlflowClient(uri)
    experiment_id = client.create_experiment("checks")
    return {name: _outcome(client, experiment_id, CASES[name]) for name in names}


@pytest.fixture(scope="module")
def mlflows(tmp_path_factory) -> dict[str, tuple[Any, ...]]:
    """Every case's outcome on MLflow's own SQL store."""
    return _outcomes(f"sqlite:///{tmp_path_factory.mktemp('sql') / 'mlflow.db'}", list(CASES))


@pytest.mark.parametrize("name", list(CASES))
def test_outcome_is_mlflows_sql_stores(name, mlflows, tmp_path) -> None:
    assert _outcomes(f"tracklog:{tmp_path / 'ws'}", [name])[name] == mlflows[name]


def test_a_cut_value_warns_as_mlflow_does(tmp_path, caplog) -> None:
    client = mlflow.MlflowClient(f"tracklog:{tmp_path / 'ws'}")
    run_id = client.create_run(client.create_experiment("cut")).info.run_id
    with caplog.at_level(logging.WARNING, logger="mlflow.utils.validation"):
        client.log_param(run_id, "long", "x" * 6001)
    assert "is truncated to 6000 characters" in caplog.text
    assert client.get_run(run_id).data.params["long"] == "x" * 6000


def test_long_values_refused_when_mlflow_truncation_is_off(tmp_path, monkeypatch) -> None:
    """MLFLOW_TRUNCATE_LONG_VALUES=false: a param over 6000 characters is MLflow's error instead."""
    monkeypatch.setenv("MLFLOW_TRUNCATE_LONG_VALUES", "false")
    client = mlflow.MlflowClient(f"tracklog:{tmp_path / 'ws'}")
    run_id = client.create_run(client.create_experiment("strict")).info.run_id
    with pytest.raises(mlflow.MlflowException, match="'Param value' exceeds the maximum length of 6000"):
        client.log_param(run_id, "long", "x" * 6001)
