"""``import tracklog as mlflow``: MLflow's signatures and semantics for the tracking calls."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

import tracklog as mlflow
from tests.mlflow_swap.conftest import clean_env
from tracklog.entities import Metric, Param, RunTag, ViewType
from tracklog.exceptions import MlflowException


@pytest.fixture
def ws(tmp_path) -> Path:
    path = tmp_path / "ws"
    mlflow.set_tracking_uri(f"tracklog:{path}")
    return path


def test_start_run_returns_mlflow_entities_in_mlflows_words_and_units(ws):
    """``.info``: run_id, RUNNING then FINISHED, start/end in ms, file:// artifact URI; ``.data``."""
    before = time.time() * 1000
    with mlflow.start_run(run_name="first", tags={"team": "a"}) as run:
        mlflow.log_param("p", 1)
        mlflow.log_metric("m", 0.5)
        info = run.info
        assert info.status == "RUNNING" and info.end_time is None
        assert info.run_id == run.id and info.run_uuid == run.id and info.run_name == "first"
        assert before - 1000 <= info.start_time <= time.time() * 1000 + 1000
        assert info.lifecycle_stage == "active" and info.experiment_id
        assert info.artifact_uri == (ws / "runs" / run.id).as_uri()
        assert run.data.params == {"p": "1"} and run.data.metrics == {"m": 0.5}
        assert run.data.tags["team"] == "a" and run.data.tags["mlflow.runName"] == "first"
    done = mlflow.get_run(run.info.run_id)
    assert done.info.status == "FINISHED" and done.info.end_time >= done.info.start_time
    assert run.status == "Completed"  # the tracklog Run behind it keeps its own vocabulary
    assert run.run.get_metrics() == {"m": 0.5}


def test_a_with_block_ends_failed_on_an_exception_and_killed_on_ctrl_c(ws):
    """As MLflow's ActiveRun: an escaping exception marks FAILED; Ctrl-C is KILLED (tracklog's Canceled)."""
    with pytest.raises(ValueError), mlflow.start_run() as failed:
        raise ValueError("boom")
    with pytest.raises(KeyboardInterrupt), mlflow.start_run() as killed:
        raise KeyboardInterrupt
    assert mlflow.get_run(failed.info.run_id).info.status == "FAILED"
    assert mlflow.get_run(killed.info.run_id).info.status == "KILLED"


def test_log_metric_without_a_step_logs_step_zero_and_takes_ms_timestamps(ws):
    """MLflow logs step 0 when none is given (not 0, 1, 2); ``timestamp`` is in milliseconds."""
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 3.0)
        mlflow.log_metric("loss", 2.0)
        mlflow.log_metric("loss", 1.0, step=5, timestamp=1_600_000_000_000)
        mlflow.log_metrics({"a": 1, "b": 2}, step=2)
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 3.0), (0, 2.0), (5, 1.0)]
    assert history[2].timestamp == 1_600_000_000_000
    assert [p.step for p in run.run.get_metric_history("a")] == [2]


def test_a_logging_call_without_a_run_starts_an_active_run(ws):
    """log_metric with no run starts one that active_run() returns and end_run() ends; a
    start_run() meanwhile is refused, as in MLflow."""
    mlflow.log_metric("x", 1)
    active = mlflow.active_run()
    assert active is not None and active.info.status == "RUNNING"
    with pytest.raises(mlflow.ActiveRunError, match=f"Run with UUID {active.id} is already active"):
        mlflow.start_run()
    mlflow.end_run()
    assert mlflow.active_run() is None
    assert mlflow.last_active_run().info.status == "FINISHED"
    assert mlflow.get_run(active.id).data.metrics == {"x": 1.0}


def test_a_run_a_logging_record_started_is_adopted_not_doubled(ws):
    """A run tracklog started for a logging record becomes the active run of the next MLflow call."""
    import logging

    from tracklog.handlers import RunHandler

    log = logging.getLogger("swap.adopt")
    handler = RunHandler()
    log.addHandler(handler)
    try:
        log.warning("metric", extra={"metric": "from_logging", "value": 1})
        mlflow.log_metric("from_mlflow", 2)
        run = mlflow.active_run()
        mlflow.end_run()
    finally:
        log.removeHandler(handler)
    assert set(mlflow.get_run(run.id).data.metrics) == {"from_logging", "from_mlflow"}
    assert len(list(mlflow.Workspace(ws).get_runs())) == 1


def test_nesting_rules_are_mlflows(ws):
    """nested=True makes a child with mlflow.parentRunId; parent_run_id must match the active run."""
    with mlflow.start_run() as parent:
        with mlflow.start_run(nested=True) as child:
            assert mlflow.active_run().id == child.id
        assert mlflow.active_run().id == parent.id
        with pytest.raises(MlflowException, match="does not match the specified parent_run_id"):
            mlflow.start_run(parent_run_id=child.id, nested=True)
    assert mlflow.get_run(child.id).data.tags["mlflow.parentRunId"] == parent.id
    assert child.run.parent.id == parent.id
    with mlflow.start_run(parent_run_id=parent.id) as late:
        pass
    assert late.run.parent.id == parent.id


def test_description_becomes_the_note_tag_and_cannot_be_given_twice(ws):
    """``description=`` is MLflow's ``mlflow.note.content`` tag; giving both is refused."""
    with mlflow.start_run(description="why") as run:
        pass
    assert mlflow.get_run(run.id).data.tags["mlflow.note.content"] == "why"
    with pytest.raises(MlflowException, match="Description is already set"):
        mlflow.start_run(description="a", tags={"mlflow.note.content": "b"})


def test_start_run_by_id_resumes_and_mlflow_run_id_is_used_once(ws, monkeypatch):
    """start_run(run_id=...) and MLFLOW_RUN_ID resume a run; MLflow consumes the variable."""
    with mlflow.start_run() as first:
        mlflow.log_metric("x", 1)
    monkeypatch.setenv("MLFLOW_RUN_ID", first.id)
    with mlflow.start_run() as again:
        assert again.id == first.id and again.info.status == "RUNNING"
    assert "MLFLOW_RUN_ID" not in os.environ
    with mlflow.start_run() as fresh:
        pass
    assert fresh.id != first.id


def test_experiments_create_get_set_and_the_environment(ws, monkeypatch):
    """create_experiment refuses a taken name; set_experiment by name or id; MLFLOW_EXPERIMENT_NAME
    is honoured until set_experiment is called."""
    exp_id = mlflow.create_experiment("made", tags={"k": "v"})
    assert mlflow.get_experiment(exp_id).tags == {"k": "v"}
    with pytest.raises(MlflowException, match=r"Experiment\(name=made\) already exists"):
        mlflow.create_experiment("made")
    with pytest.raises(MlflowException, match="No Experiment with id=999"):
        mlflow.set_experiment(experiment_id="999")
    with pytest.raises(MlflowException, match="exactly one of"):
        mlflow.set_experiment()
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    with mlflow.start_run() as run:
        pass
    assert mlflow.get_experiment(run.info.experiment_id).name == "from-env"
    assert mlflow.set_experiment(experiment_id=exp_id).name == "made"
    with mlflow.start_run() as run:
        pass
    assert run.info.experiment_id == exp_id
    assert mlflow.get_experiment("0").name == "Default"  # MLflow's id of its default experiment


def test_mlflow_backend_uris_are_refused_and_never_become_folders(tmp_path):
    """sqlite:, file:, databricks and the like are MLflow's own stores: a clear error, no folder."""
    before = set(os.listdir(tmp_path))
    for uri in ["sqlite:///x.db", "sqlite:///" + str(tmp_path / "y.db"), "file:///tmp/mlruns", "file:./mlruns",
                "databricks", "databricks://profile", "databricks-uc", "postgresql://u@h/db", "mysql://h/db"]:
        with pytest.raises(mlflow.WorkspaceError, match="one of MLflow's own backends"):
            mlflow.set_tracking_uri(uri)
        with pytest.raises(mlflow.WorkspaceError):
            mlflow.MlflowClient(uri)
    assert set(os.listdir(tmp_path)) == before


def test_tracklog_uris_name_workspace_folders(tmp_path):
    """tracklog:PATH and tracklog:///abs name a folder; bare tracklog: the default workspace."""
    mlflow.set_tracking_uri("tracklog:./rel")
    assert mlflow.get_tracking_uri() == str(tmp_path / "rel")
    mlflow.set_tracking_uri(f"tracklog://{tmp_path / 'abs'}")
    assert mlflow.get_tracking_uri() == str(tmp_path / "abs")
    mlflow.set_tracking_uri("tracklog:")
    assert mlflow.get_tracking_uri() == str(tmp_path / ".tracklog")
    mlflow.set_tracking_uri(str(tmp_path / "plain"))
    assert mlflow.get_tracking_uri() == str(tmp_path / "plain")


@pytest.mark.parametrize("name", ["sklearn", "pytorch", "autolog", "log_model", "register_model", "pyfunc"])
def test_names_tracklog_lacks_say_to_use_mlflow_with_the_tracklog_uri(name):
    """``mlflow.sklearn`` and every other missing name: an AttributeError naming the plugin route."""
    with pytest.raises(AttributeError, match=r"MLFLOW_TRACKING_URI=tracklog:") as caught:
        getattr(mlflow, name)
    assert f"'{name}'" in str(caught.value)


@pytest.mark.parametrize("name", ["search_registered_models", "create_model_version", "search_traces"])
def test_client_calls_tracklog_lacks_say_to_use_mlflow_with_the_tracklog_uri(name):
    """``MlflowClient().search_registered_models`` and the rest beyond tracking: the same advice."""
    with pytest.raises(AttributeError, match=r"MLFLOW_TRACKING_URI=tracklog:") as caught:
        getattr(mlflow.MlflowClient(), name)
    assert f"'{name}'" in str(caught.value)


def test_from_import_of_a_missing_name_says_so_too():
    """``from tracklog import autolog`` is an ImportError that carries the same advice."""
    with pytest.raises(ImportError, match="autolog"):
        exec("from tracklog import autolog", {})


def test_search_runs_speaks_mlflows_filter_and_order_grammar(ws):
    """Comparisons on metrics/params/tags/attributes, LIKE, IN, IS NULL, AND; order_by, missing last."""
    mlflow.set_experiment("search")
    for i, (model, acc) in enumerate([("cnn", 0.9), ("rnn", 0.7), ("cnn", 0.8)]):
        with mlflow.start_run(run_name=f"run-{i}", tags={"model": model} if i != 1 else {}):
            mlflow.log_param("model", model)
            if i != 2:
                mlflow.log_metric("acc", acc)
        time.sleep(0.005)  # start times in milliseconds: two runs of one millisecond tie (MLflow orders ties by uuid)

    def names(**kwargs):
        return [r.info.run_name for r in mlflow.search_runs(output_format="list", **kwargs)]

    assert names(filter_string="metrics.acc > 0.8") == ["run-0"]
    assert names(filter_string="params.model = 'cnn' and attributes.status = 'FINISHED'") == ["run-2", "run-0"]
    assert names(filter_string="tags.model LIKE 'c%'", order_by=["attributes.run_name"]) == ["run-0", "run-2"]
    assert names(filter_string="run_name IN ('run-1', 'run-2')", order_by=["start_time ASC"]) == ["run-1", "run-2"]
    assert names(filter_string="tags.model IS NULL") == ["run-1"]
    assert names(order_by=["metrics.acc DESC"]) == ["run-0", "run-1", "run-2"]
    assert names(order_by=["metrics.acc ASC"]) == ["run-1", "run-0", "run-2"]
    assert names(filter_string="metrics.`acc` >= 0.7", max_results=1) == ["run-1"]
    with pytest.raises(MlflowException, match="AND only"):
        mlflow.search_runs(filter_string="metrics.acc > 1 or metrics.acc < 0")


def test_search_runs_is_a_dataframe_with_mlflows_columns(ws):
    """pandas output: MLflow's fixed columns first, times as UTC datetimes, NaN for a missing metric."""
    pandas = pytest.importorskip("pandas")
    with mlflow.start_run():
        mlflow.log_metric("a", 1)
        mlflow.log_param("p", "x")
    with mlflow.start_run():
        mlflow.log_metric("b", 2)
    frame = mlflow.search_runs()
    assert list(frame.columns[:6]) == ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    assert {"metrics.a", "metrics.b", "params.p", "tags.mlflow.runName"} <= set(frame.columns)
    assert str(frame["start_time"].dtype).startswith("datetime64") and str(frame["start_time"].dt.tz) == "UTC"
    assert frame["status"].tolist() == ["FINISHED", "FINISHED"]
    assert pandas.isna(frame.loc[0, "metrics.a"]) and frame.loc[1, "metrics.a"] == 1.0  # newest first


def test_client_log_batch_takes_entities_and_tuples_and_logs_into_an_ended_run(ws):
    """log_batch: Metric/Param/RunTag or tuples; MLflow lets a client log into a FINISHED run."""
    client = mlflow.tracking.MlflowClient()
    run = client.create_run("0", run_name="by-hand")
    rid = run.info.run_id
    client.log_batch(rid, metrics=[Metric("m", 1.0, 1_000, 3), ("t", 2.0)], params=[Param("p", "1"), ("q", 2)],
                     tags=[RunTag("a", "b"), ("c", 3)])
    client.set_terminated(rid)
    client.log_metric(rid, "late", 9.0)
    got = client.get_run(rid)
    assert got.info.status == "FINISHED"
    assert got.data.metrics == {"m": 1.0, "t": 2.0, "late": 9.0}
    assert got.data.params == {"p": "1", "q": "2"}
    assert got.data.tags["a"] == "b" and got.data.tags["c"] == "3"
    assert [(m.step, m.timestamp) for m in client.get_metric_history(rid, "m")] == [(3, 1_000)]
    with pytest.raises(MlflowException, match="No tag with name: nope"):
        client.delete_tag(rid, "nope")
    client.delete_run(rid)
    assert client.search_runs(["0"]) == []
    assert [r.info.run_id for r in client.search_runs(["0"], run_view_type=ViewType.DELETED_ONLY)] == [rid]


def test_params_are_immutable_as_in_mlflow(ws):
    """A param logged again with another value raises; MlflowException catches it."""
    with mlflow.start_run():
        mlflow.log_param("lr", 0.1)
        with pytest.raises(MlflowException):
            mlflow.log_param("lr", 0.2)


def _png_size(data: bytes) -> tuple[int, int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, _depth, color = struct.unpack(">IIBB", data[16:26])
    assert zlib.decompress(data[data.index(b"IDAT") + 4:])  # a real deflate stream
    return width, height, color


def test_log_image_of_a_numpy_array_is_a_png_with_its_pixels(ws):
    """A numpy array becomes a PNG (no Pillow needed): floats 0-1 scaled to 0-255, as MLflow does."""
    np = pytest.importorskip("numpy")
    with mlflow.start_run() as run:
        mlflow.log_image(np.full((3, 4, 3), 255, dtype=np.uint8), "white.png")
        mlflow.log_image(np.linspace(0, 1, 12).reshape(3, 4), "ramp.png")
        with pytest.raises(ValueError, match=r"\[0, 255\]"):
            mlflow.log_image(np.full((2, 2), 300), "bad.png")
    folder = ws / "runs" / run.id
    assert _png_size((folder / "white.png").read_bytes()) == (4, 3, 2)
    assert _png_size((folder / "ramp.png").read_bytes()) == (4, 3, 0)
    image = pytest.importorskip("PIL.Image")
    with image.open(folder / "ramp.png") as ramp:
        assert ramp.getpixel((0, 0)) == 0 and ramp.getpixel((3, 2)) == 255


def test_log_image_with_a_key_is_an_image_series_tracklog_shows(ws):
    """``key=``/``step=`` files go under images/ as MLflow names them, and into tracklog's image series."""
    np = pytest.importorskip("numpy")
    with mlflow.start_run() as run:
        for step in range(2):
            mlflow.log_image(np.zeros((2, 2), dtype=np.uint8), key="samples/a", step=step)
    files = [f for f in run.run.get_file_names() if f.startswith("images/")]
    assert len(files) == 2 and all(f.startswith("images/samples~a+step+") and f.endswith(".png") for f in files)
    assert sorted(run.run.get_metrics()["samples/a"]) == sorted(files)
    assert mlflow.get_run(run.id).data.tags["mlflow.loggedImages"] == "True"


def test_log_table_appends_and_lists_the_table_in_mlflows_tag(ws):
    """log_table writes pandas' split JSON without the index, appends, and lists it in mlflow.loggedArtifacts."""
    pytest.importorskip("pandas")
    with mlflow.start_run() as run:
        mlflow.log_table({"q": ["a", "b"], "score": [1, 2]}, "t.json")
        mlflow.log_table({"q": "c", "score": 3}, "t.json")
        with pytest.raises(ValueError, match=".json"):
            mlflow.log_table({"q": [1]}, "t.csv")
    table = json.loads((ws / "runs" / run.id / "t.json").read_text())
    assert table == {"columns": ["q", "score"], "data": [["a", 1], ["b", 2], ["c", 3]]}
    assert json.loads(mlflow.get_run(run.id).data.tags["mlflow.loggedArtifacts"]) == [{"path": "t.json", "type": "table"}]


def test_artifacts_list_download_and_uri(ws, tmp_path):
    """log_artifact(s)/log_text/log_dict land as run files; list_artifacts is one level; download copies."""
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "x.txt").write_text("x")
    (tmp_path / "d" / "sub" / "y.txt").write_text("y")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "d" / "x.txt"), artifact_path="one")
        mlflow.log_artifacts(str(tmp_path / "d"))
        mlflow.log_text("t", "notes.md")
        mlflow.log_dict({"a": [1]}, "c.json")
        assert mlflow.get_artifact_uri("one/x.txt") == mlflow.get_artifact_uri() + "/one/x.txt"
        with pytest.raises(FileNotFoundError):
            mlflow.log_artifact(str(tmp_path / "missing.txt"))
    client = mlflow.MlflowClient()
    listed = [(f.path, f.is_dir, f.file_size) for f in client.list_artifacts(run.id)]
    size = len(json.dumps({"a": [1]}, indent=2))
    assert listed == [("c.json", False, size), ("notes.md", False, 1), ("one", True, None), ("sub", True, None),
                      ("x.txt", False, 1)]
    out = client.download_artifacts(run.id, "sub", str(tmp_path / "out"))
    assert Path(out, "y.txt").read_text() == "y"
    assert (ws / "runs" / run.id / "c.json").read_text() == json.dumps({"a": [1]}, indent=2)


def test_import_mlflow_after_the_swap_rebinds_the_name_to_the_real_package(tmp_path):
    """The trap: ``import tracklog as mlflow`` then ``import mlflow.sklearn`` binds ``mlflow`` to the
    real package (Python's import statement does), and the rest of the script is real MLflow's."""
    pytest.importorskip("mlflow")
    script = tmp_path / "trap.py"
    script.write_text("import tracklog as mlflow\nimport mlflow.sklearn\nprint(mlflow.__name__, mlflow.__file__)\n")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=clean_env(), capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    name, path = done.stdout.split()
    assert name == "mlflow" and "tracklog" not in path


def test_params_and_tags_are_strings_as_mlflow_spells_them(ws):
    """MLflow keeps str(value): a model's get_params() (True, None, big ints) is searchable as such."""
    numpy = pytest.importorskip("numpy")
    with mlflow.start_run() as run:
        mlflow.log_params({"fit_intercept": True, "random_state": None, "big": 10**30, "alpha": 0.5})
        mlflow.log_param("n", 3)
        mlflow.set_tag("flag", False)
        mlflow.set_tags({"f32": numpy.float32(0.1)})
    data = mlflow.get_run(run.info.run_id).data
    assert {k: data.params[k] for k in ("fit_intercept", "random_state", "big", "alpha", "n")} == {
        "fit_intercept": "True", "random_state": "None", "big": "1" + "0" * 30, "alpha": "0.5", "n": "3"}
    assert (data.tags["flag"], data.tags["f32"]) == ("False", "0.1")
    found = mlflow.search_runs(filter_string="params.fit_intercept = 'True'", output_format="list")
    assert [r.info.run_id for r in found] == [run.info.run_id]
    client = mlflow.MlflowClient()
    client.log_param(run.info.run_id, "late", None)
    client.set_tag(run.info.run_id, "t", True)
    data = client.get_run(run.info.run_id).data
    assert (data.params["late"], data.tags["t"]) == ("None", "True")


def test_a_tracklog_mlflow_tracking_uri_names_the_workspace_of_a_swapped_script(tmp_path):
    """MLFLOW_TRACKING_URI=tracklog:PATH, as docs/mlflow.md gives it, is where the swap logs too."""
    script = tmp_path / "s.py"
    script.write_text("import tracklog as mlflow\nwith mlflow.start_run():\n    mlflow.log_metric('m', 1)\n")
    environment = clean_env(MLFLOW_TRACKING_URI="tracklog:./ws")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=environment, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ws" / "tracklog.db").exists() and not (tmp_path / ".tracklog").exists()
    (run,) = mlflow.Workspace(tmp_path / "ws").get_runs()
    assert run.get_metrics() == {"m": 1}


def test_client_searches_page_as_mlflow_s_paged_list_does(ws):
    """MLflow's pagination loop: max_results per page, .token for the next, None on the last."""
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("paged")
    made = {client.create_run(experiment_id).info.run_id for _ in range(5)}
    seen, token, pages = [], None, 0
    while True:
        page = client.search_runs([experiment_id], max_results=2, page_token=token)
        seen.extend(run.info.run_id for run in page)
        pages += 1
        token = page.token
        if not token:
            break
    assert pages == 3 and len(seen) == 5 and set(seen) == made
    with pytest.raises(MlflowException):
        client.search_runs([experiment_id], page_token="not a token")
    client.create_experiment("another")
    first = client.search_experiments(max_results=1)
    rest = client.search_experiments(max_results=1, page_token=first.token)
    assert first.token is not None and len(first) == len(rest) == 1 and first[0].name != rest[0].name


def test_mlflow_exception_is_a_top_level_name_as_in_mlflow(ws):
    with pytest.raises(mlflow.MlflowException):
        mlflow.get_run("0" * 32)
