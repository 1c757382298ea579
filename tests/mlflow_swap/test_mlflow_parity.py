"""``import tracklog as mlflow`` where a red-team pass found it parted from real MLflow 3:
signatures, missing tracking names, error codes, artifact_location, and logged-model folders."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tracklog as mlflow
from tests.mlflow_swap.conftest import clean_env
from tracklog.exceptions import MlflowException


@pytest.fixture
def ws(tmp_path) -> Path:
    path = tmp_path / "ws"
    mlflow.set_tracking_uri(f"tracklog:{path}")
    yield path
    while mlflow.active_run() is not None:
        mlflow.end_run()


def _parameters(function) -> list[tuple[str, str, object]]:
    return [(p.name, p.kind.name, p.default) for p in inspect.signature(function).parameters.values()]


_FLUENT = ["log_metric", "log_metrics", "log_param", "log_params", "set_tag", "set_tags", "delete_tag",
           "start_run", "log_artifact", "log_artifacts", "log_text", "log_dict", "log_figure", "log_image",
           "log_table", "create_experiment", "set_experiment", "get_experiment", "get_experiment_by_name",
           "search_runs", "search_experiments", "get_run", "get_parent_run", "delete_run", "restore_run",
           "delete_experiment", "restore_experiment", "set_experiment_tag", "set_experiment_tags",
           "delete_experiment_tag", "is_tracking_uri_set", "end_run", "get_artifact_uri"]
_CLIENT = ["log_metric", "log_param", "set_tag", "delete_tag", "log_batch", "create_experiment", "get_experiment",
           "search_experiments", "search_runs", "create_run", "get_run", "get_parent_run", "delete_run",
           "restore_run", "rename_experiment", "delete_experiment", "restore_experiment", "set_experiment_tag",
           "delete_experiment_tag", "set_terminated", "list_artifacts", "download_artifacts", "log_artifact",
           "log_text", "log_dict", "log_image", "get_metric_history"]


@pytest.mark.parametrize("name", _FLUENT)
def test_fluent_signatures_are_mlflows(name):
    """Every parameter in MLflow's order with MLflow's defaults: positional calls mean the same."""
    real = pytest.importorskip("mlflow")
    assert _parameters(getattr(mlflow, name)) == _parameters(getattr(real, name))


@pytest.mark.parametrize("name", _CLIENT)
def test_client_signatures_are_mlflows(name):
    real = pytest.importorskip("mlflow")
    assert _parameters(getattr(mlflow.MlflowClient, name)) == _parameters(getattr(real.MlflowClient, name))


def test_log_metric_positional_synchronous_then_timestamp(ws):
    """``log_metric(key, value, step, synchronous, timestamp)``: the 5th positional is the timestamp."""
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 0.5, 3, False, 1_600_000_000_000)
        mlflow.log_metrics({"acc": 0.9}, 1, None, None, 1_600_000_001_000)
    (point,) = mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss")
    assert (point.step, point.value, point.timestamp) == (3, 0.5, 1_600_000_000_000)
    (acc,) = mlflow.MlflowClient().get_metric_history(run.info.run_id, "acc")
    assert (acc.step, acc.timestamp) == (1, 1_600_000_001_000)


def test_a_model_or_dataset_link_keeps_the_point(ws, caplog):
    """model_id=/dataset= are MLflow 3's: the swap logs the point and warns once that the link is not kept."""
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0, model_id="m-123")
        mlflow.MlflowClient().log_metric(run.info.run_id, "n", 2.0, model_id="m-123")
    assert mlflow.get_run(run.info.run_id).data.metrics == {"m": 1.0, "n": 2.0}
    assert "model_id" in caplog.text


def test_delete_run_hides_it_from_search_and_restore_run_brings_it_back(ws):
    with mlflow.start_run() as kept:
        pass
    with mlflow.start_run() as gone:
        pass
    mlflow.delete_run(gone.info.run_id)
    assert [r.info.run_id for r in mlflow.search_runs(output_format="list")] == [kept.info.run_id]
    assert mlflow.get_run(gone.info.run_id).info.lifecycle_stage == "deleted"
    assert list(mlflow.search_runs(run_view_type=mlflow.entities.ViewType.DELETED_ONLY)["run_id"]) == [gone.info.run_id]
    with pytest.raises(MlflowException, match="must be in the 'active' state") as refused:
        mlflow.MlflowClient().log_metric(gone.info.run_id, "late", 1.0)
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    mlflow.restore_run(gone.info.run_id)
    assert len(mlflow.search_runs(output_format="list")) == 2


def test_experiment_tags_of_the_active_experiment_read_back(ws):
    experiment = mlflow.set_experiment("tagged")
    mlflow.set_experiment_tag("team", "vision")
    mlflow.set_experiment_tags({"stage": 2, "owner": None})
    assert mlflow.get_experiment(experiment.experiment_id).tags == {"team": "vision", "stage": "2", "owner": "None"}
    mlflow.delete_experiment_tag("owner")
    assert mlflow.get_experiment_by_name("tagged").tags == {"team": "vision", "stage": "2"}
    with pytest.raises(MlflowException) as missing:
        mlflow.delete_experiment_tag("owner")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_get_parent_run_is_the_nested_runs_parent(ws):
    with mlflow.start_run() as parent, mlflow.start_run(nested=True) as child:
        pass
    assert mlflow.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
    assert mlflow.MlflowClient().get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
    assert mlflow.get_parent_run(parent.info.run_id) is None


def test_delete_experiment_deletes_its_runs_and_restore_brings_both_back(ws):
    experiment_id = mlflow.create_experiment("doomed")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        pass
    mlflow.delete_experiment(experiment_id)
    assert mlflow.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert "doomed" not in [e.name for e in mlflow.search_experiments()]
    assert mlflow.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(MlflowException, match="must be in the 'active' state"):
        mlflow.start_run(experiment_id=experiment_id)
    with pytest.raises(MlflowException) as again:
        mlflow.delete_experiment(experiment_id)
    assert again.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    mlflow.restore_experiment(experiment_id)
    assert mlflow.get_run(run.info.run_id).info.lifecycle_stage == "active"
    assert [r.info.run_id for r in mlflow.search_runs([experiment_id], output_format="list")] == [run.info.run_id]


def test_rename_experiment_reads_back_renamed(ws):
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("old")
    client.create_experiment("taken")
    client.rename_experiment(experiment_id, "new")
    assert client.get_experiment(experiment_id).name == "new"
    assert client.get_experiment_by_name("new").experiment_id == experiment_id
    assert client.get_experiment_by_name("old") is None
    with pytest.raises(MlflowException) as taken:
        client.rename_experiment(experiment_id, "taken")
    assert taken.value.error_code == "BAD_REQUEST"  # MLflow's SQL store: a UNIQUE constraint
    client.delete_experiment(experiment_id)
    with pytest.raises(MlflowException) as deleted:
        client.rename_experiment(experiment_id, "newer")
    assert deleted.value.error_code == "INVALID_STATE"


def test_is_tracking_uri_set_as_mlflow_answers_it(tmp_path):
    """False in a fresh process with no URI in the environment; True after set_tracking_uri or with one."""
    code = "import tracklog as mlflow\nprint(mlflow.is_tracking_uri_set())\nmlflow.set_tracking_uri('ws')\n" \
           "print(mlflow.is_tracking_uri_set())\n"
    plain = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env(), capture_output=True,
                           text=True, timeout=120, check=True)
    assert plain.stdout.split() == ["False", "True"]
    named = subprocess.run([sys.executable, "-c", "import tracklog as m; print(m.is_tracking_uri_set())"],
                           cwd=tmp_path, env=clean_env(MLFLOW_TRACKING_URI="tracklog:./ws"), capture_output=True,
                           text=True, timeout=120, check=True)
    assert named.stdout.split() == ["True"]


def test_flush_async_logging_makes_points_readable(ws):
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0, synchronous=False)
        mlflow.flush_async_logging()
        mlflow.flush_artifact_async_logging()
        assert run.run.get_metrics() == {"m": 1.0}


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: mlflow.get_run("f" * 32), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: mlflow.start_run(run_id="f" * 32), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: mlflow.delete_run("f" * 32), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: mlflow.get_experiment("12345"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: mlflow.get_experiment("abc"), "INVALID_PARAMETER_VALUE"),
        (lambda: mlflow.set_experiment(experiment_id="12345"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: mlflow.MlflowClient().log_param("f" * 32, "a", 1), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: mlflow.search_runs(filter_string="metrics.a > 1 or metrics.a < 0"), "INVALID_PARAMETER_VALUE"),
        (lambda: mlflow.set_experiment(), "INVALID_PARAMETER_VALUE"),
        (lambda: mlflow.set_tracking_uri("sqlite:///x.db"), "INVALID_PARAMETER_VALUE"),
    ],
)
def test_errors_carry_mlflows_error_code(ws, call, code):
    """``except MlflowException as e: e.error_code`` reads the code MLflow 3 gives in that case."""
    with pytest.raises(MlflowException) as caught:
        call()
    assert caught.value.error_code == code and caught.value.message == str(caught.value)


def test_a_param_overwrite_and_a_taken_name_carry_mlflows_codes_and_keep_their_types(ws):
    mlflow.create_experiment("once")
    with pytest.raises(MlflowException) as taken:
        mlflow.create_experiment("once")
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with mlflow.start_run() as run:
        mlflow.log_param("lr", 0.1)
        with pytest.raises(mlflow.ParamConflictError) as changed:
            mlflow.log_param("lr", 0.2)
        assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
        with pytest.raises(MlflowException) as client_changed:
            mlflow.MlflowClient().log_param(run.info.run_id, "lr", 0.3)
        assert client_changed.value.error_code == "INVALID_PARAMETER_VALUE"
        with pytest.raises(MlflowException) as bad_name:
            mlflow.log_metric("", 1.0)
        assert bad_name.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as prefix:  # tracklog's id prefixes are not MLflow's
        mlflow.get_run(run.info.run_id[:8])
    assert prefix.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert prefix.value.get_http_status_code() == 404


def test_an_experiments_artifact_location_reads_back_and_holds_its_runs_artifacts(ws, tmp_path, monkeypatch):
    """As in MLflow: a relative location is made absolute; runs' artifacts go to <location>/<run_id>/artifacts."""
    monkeypatch.chdir(tmp_path)
    experiment_id = mlflow.create_experiment("placed", artifact_location="elsewhere")
    place = str(tmp_path / "elsewhere")
    assert mlflow.get_experiment(experiment_id).artifact_location == place
    assert mlflow.get_experiment_by_name("placed").artifact_location == place
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_text("hi", "notes/a.txt")
        mlflow.log_dict({"k": 1}, "c.json")
        assert mlflow.get_artifact_uri() == f"{place}/{run.info.run_id}/artifacts"
    folder = Path(place, run.info.run_id, "artifacts")
    assert (folder / "notes" / "a.txt").read_text() == "hi"
    assert mlflow.get_run(run.info.run_id).info.artifact_uri == str(folder)
    client = mlflow.MlflowClient()
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run.info.run_id)] == [("c.json", False), ("notes", True)]
    out = client.download_artifacts(run.info.run_id, "notes/a.txt", str(tmp_path / "dl"))
    assert Path(out).read_text() == "hi"
    uri_id = mlflow.create_experiment("by-uri", artifact_location=(tmp_path / "viauri").as_uri())
    with mlflow.start_run(experiment_id=uri_id) as second:
        mlflow.log_text("x", "x.txt")
    assert (tmp_path / "viauri" / second.info.run_id / "artifacts" / "x.txt").read_text() == "x"


def test_a_logged_models_files_are_not_listed_as_the_runs_artifacts(tmp_path):
    """MLflow 3 lists a logged model's files under the model, never in the run's list_artifacts:
    a run that logged a model and a text file lists the text file only."""
    pytest.importorskip("mlflow")
    script = tmp_path / "log_model.py"
    script.write_text(
        "import mlflow\n"
        "from mlflow.pyfunc import PythonModel\n"
        "class Echo(PythonModel):\n"
        "    def predict(self, context, model_input):\n"
        "        return model_input\n"
        "mlflow.set_tracking_uri('tracklog:./ws')\n"
        "with mlflow.start_run() as run:\n"
        "    mlflow.log_text('x', 'a.txt')\n"
        "    mlflow.pyfunc.log_model(name='model', python_model=Echo())\n"
        "print(run.info.run_id)\n"
    )
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=clean_env(), capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = done.stdout.split()[-1]
    assert (tmp_path / "ws" / "runs" / run_id / "models").is_dir()  # the plugin route keeps the model there
    client = mlflow.MlflowClient(f"tracklog:{tmp_path / 'ws'}")
    assert [f.path for f in client.list_artifacts(run_id)] == ["a.txt"]
    assert os.listdir(client.download_artifacts(run_id, "", str(tmp_path / "dl"))) == ["a.txt"]


def test_the_default_experiment_is_id_0_as_mlflows(ws):
    """A script comparing against MLflow's default experiment id "0" finds it: a run with
    no experiment set is in "0", named Default; experiments made after it count from 1."""
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 0.5)
    assert run.info.experiment_id == "0"
    assert mlflow.get_experiment_by_name("Default").experiment_id == "0"
    assert mlflow.get_experiment("0").name == "Default"
    assert mlflow.create_experiment("sweep") == "1"
    assert [r.info.run_id for r in mlflow.search_runs(experiment_ids=["0"], output_format="list")] == [run.info.run_id]


def test_entities_iterate_as_mlflows_into_dicts(ws):
    """``dict(entity)`` works as on MLflow's entities (its search_runs docstring does it): each
    yields (property, value) pairs, with keys that are MLflow's properties, and a Run's values
    are the nested entities, themselves iterable."""
    real = pytest.importorskip("mlflow.entities")
    experiment = mlflow.set_experiment("dicts")
    with mlflow.start_run() as started:
        mlflow.log_metric("m", 1.55)
        mlflow.log_param("p", "v")
    run = mlflow.get_run(started.info.run_id)
    (point,) = mlflow.MlflowClient().get_metric_history(run.info.run_id, "m")
    param = mlflow.entities.Param("p", "v")
    for ours, theirs in [(mlflow.get_experiment_by_name("dicts"), real.Experiment), (run, real.Run),
                         (run.info, real.RunInfo), (run.data, real.RunData), (point, real.Metric),
                         (param, real.Param), (run.inputs, real.RunInputs)]:
        as_dict = dict(ours)
        assert set(as_dict) <= set(theirs._properties()), type(ours).__name__
        assert list(as_dict) == sorted(as_dict)
        assert as_dict == {key: getattr(ours, key) for key in as_dict}
    assert set(dict(run.info)) == set(real.RunInfo._properties())
    assert dict(experiment)["name"] == "dicts"
    assert dict(dict(run)["info"])["run_id"] == run.info.run_id
    assert dict(dict(run)["data"])["params"] == {"p": "v"}
    assert dict(point) == {"key": "m", "value": 1.55, "step": 0, "timestamp": point.timestamp}
