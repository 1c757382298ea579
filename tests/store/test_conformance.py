"""One suite, every store: the Run API and the Store interface behave alike on SQLite and MLflow."""

from __future__ import annotations

import logging
import math
import os
import time
import struct
import zlib

import pytest

import tracklog
from tracklog import ParamConflictError, RunClosedError, RunNotFoundError
from tracklog._types import NO_OWNER
from tracklog.handlers import RunHandler

from .conftest import unique


@pytest.fixture(params=["sqlite", "mlflow"])
def ws(request, tmp_path) -> tracklog.Workspace:
    """A workspace on each store: an embedded folder, then the real MLflow server."""
    if request.param == "sqlite":
        return tracklog.Workspace(tmp_path / "ws")
    return tracklog.Workspace(request.getfixturevalue("mlflow_uri"))


@pytest.fixture
def exp(ws) -> tracklog.Experiment:
    return tracklog.Experiment(ws, unique())


def _png(path) -> None:
    raw = b"\x00\xff\x00\x00"
    chunks = [(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)), (b"IDAT", zlib.compress(raw)), (b"IEND", b"")]
    data = b"\x89PNG\r\n\x1a\n"
    for kind, body in chunks:
        data += struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    path.write_bytes(data)


def test_series_steps_and_scalars_read_back(exp):
    """Repeated logs form a series over steps 0..n-1; a single log reads back as a scalar."""
    run = exp.start_logging("series")
    for i in range(5):
        run.log("loss", 1.0 / (i + 1))
    run.log("acc", 0.5, step=10)
    run.log("acc", 0.75, step=20)
    run.log("single", 42)
    history = run.get_metric_history("loss")
    assert [p.step for p in history] == [0, 1, 2, 3, 4]
    assert [p.value for p in history] == pytest.approx([1.0, 0.5, 1 / 3, 0.25, 0.2])
    assert all(p.timestamp > 1e9 for p in history)
    assert [(p.step, p.value) for p in run.get_metric_history("acc")] == [(10, 0.5), (20, 0.75)]
    metrics = run.get_metrics()
    assert metrics["single"] == 42
    assert metrics["acc"] == [0.5, 0.75]
    assert set(metrics) == {"loss", "acc", "single"}
    run.complete()


def test_special_floats_and_text_values_round_trip(exp):
    """NaN and +-inf survive; string values read back as strings."""
    run = exp.start_logging("special")
    run.log("nan", float("nan"))
    run.log("pinf", float("inf"))
    run.log("ninf", float("-inf"))
    run.log("note", "hello")
    run.log("note", "world")
    metrics = run.get_metrics()
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == math.inf and metrics["ninf"] == -math.inf
    assert metrics["note"] == ["hello", "world"]
    assert [p.step for p in run.get_metric_history("note")] == [0, 1]
    last = run.workspace.store.last_values(run.id)
    assert last["note"] == "world" and last["pinf"] == math.inf
    run.complete()


def test_list_metric_reads_back_as_a_list(exp):
    """log_list keeps the list, in order, as one list metric."""
    run = exp.start_logging("lists")
    run.log_list("accuracies", [0.1, 0.5, 0.9])
    assert run.get_metrics("accuracies") == {"accuracies": [0.1, 0.5, 0.9]}
    assert run.workspace.store.metric_kinds(run.id)["accuracies"] == "list"
    run.complete()


def test_rows_and_tables_read_back_as_columns(exp):
    """log_row and log_table read back as a dict of columns, NaN and missing cells kept."""
    run = exp.start_logging("tables")
    run.log_row("Wave", angle=0.0, sin=0.0, label="a")
    run.log_row("Wave", angle=1.5, sin=float("nan"), label="b")
    run.log_table("Grid", {"x": [1, 2, 3], "y": [10.0, 20.0]})
    wave = run.get_metrics("Wave")["Wave"]
    assert wave["angle"] == [0.0, 1.5] and wave["label"] == ["a", "b"]
    assert wave["sin"][0] == 0.0 and math.isnan(wave["sin"][1])
    assert run.get_metrics("Grid")["Grid"] == {"x": [1, 2, 3], "y": [10.0, 20.0, None]}
    kinds = run.workspace.store.metric_kinds(run.id)
    assert kinds == {"Wave": "row", "Grid": "row"}
    run.complete()


def test_images_are_files_named_by_the_image_metric(exp, tmp_path):
    """log_image stores the file and a metric naming it."""
    image = tmp_path / "plot.png"
    _png(image)
    run = exp.start_logging("images")
    run.log_image("confusion", path=image)
    assert run.get_metrics("confusion") == {"confusion": "images/confusion_0.png"}
    assert "images/confusion_0.png" in run.get_file_names()
    with run.workspace.store.open_file(run.id, "images/confusion_0.png") as handle:
        assert handle.read() == image.read_bytes()
    run.complete()


def test_tags_and_params_and_param_conflicts(exp):
    """Tags change freely; a param set again with another value raises ParamConflictError."""
    run = exp.start_logging("tags")
    run.tag("stage", "one")
    run.tag("stage", "two")
    run.tag("flag")
    run.log_param("lr", 0.01)
    run.log_param("lr", 0.01)  # the same value again is fine
    with pytest.raises(ParamConflictError, match="already '0.01'"):
        run.log_param("lr", 0.02)
    tags = {k: v for k, v in run.get_tags().items() if not k.startswith(("mlflow.", "tracklog."))}
    assert tags == {"stage": "two", "flag": ""}
    assert run.get_params() == {"lr": "0.01"}
    run.complete()


def test_names_mlflow_refuses_read_back_unchanged(exp):
    """Metric, tag and param names with any characters read back as given."""
    run = exp.start_logging("names")
    odd = ["loss (train)", "a/../b", "x" * 300, "ünï €"]
    for name in odd:
        run.log(name, 1.0)
    run.tag("tag@home", "v")
    run.log_param("param#1", "p")
    assert set(run.get_metrics()) == set(odd)
    assert run.get_metric_history("loss (train)")[0].value == 1.0
    assert run.get_tags()["tag@home"] == "v"
    assert run.get_params() == {"param#1": "p"}
    run.complete()


def test_files_upload_list_and_download(exp, tmp_path):
    """upload_file and upload_folder store files; download_file gets them back."""
    source = tmp_path / "model.bin"
    source.write_bytes(b"\x00\x01weights")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("a")
    run = exp.start_logging("files")
    run.upload_file("outputs/model.bin", str(source))
    run.upload_folder("outputs/data", str(folder))
    names = run.get_file_names()
    assert {"outputs/model.bin", "outputs/data/sub/a.txt"} <= set(names)
    target = run.download_file("outputs/model.bin", str(tmp_path / "back.bin"))
    assert open(target, "rb").read() == b"\x00\x01weights"
    with pytest.raises(FileNotFoundError):
        run.download_file("outputs/none.bin", str(tmp_path / "none.bin"))
    run.complete()


def test_run_handler_records_become_logs_metrics_tags_params(exp):
    """RunHandler sends every record to logs/python.log and its conventions to the run."""
    run = exp.start_logging("handler")
    logger = logging.getLogger(unique("app"))
    logger.setLevel(logging.DEBUG)
    handler = RunHandler(run)
    logger.addHandler(handler)
    try:
        logger.info("epoch done", extra={"metric": "loss", "value": 0.5, "step": 3})
        logger.info("tagged", extra={"tags": {"phase": "train"}, "params": {"batch": 32}})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed step")
    finally:
        logger.removeHandler(handler)
    logs = run.get_logs()
    assert [r["message"] for r in logs] == ["epoch done", "tagged", "failed step"]
    assert "ValueError: boom" in logs[2]["exc_text"]
    assert [r["message"] for r in run.get_logs(level="ERROR")] == ["failed step"]
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(3, 0.5)]
    assert run.get_tags()["phase"] == "train"
    assert run.get_params() == {"batch": "32"}
    run.complete()


def test_child_runs_know_their_parent(exp):
    """child_run makes a run whose parent is the run; get_children lists it."""
    parent = exp.start_logging("parent")
    child = parent.child_run("child")
    child.log("x", 1)
    child.complete()
    assert child.parent == parent
    assert [c.id for c in parent.get_children()] == [child.id]
    assert parent.parent is None
    parent.complete()


def test_ending_a_run_sets_its_status(exp):
    """complete, fail (with the error text) and cancel end runs; logging after raises."""
    done = exp.start_logging("done")
    done.log("x", 1)
    done.complete()
    assert done.status == "Completed" and done.info.end_time >= done.info.start_time
    with pytest.raises(RunClosedError):
        done.log("x", 2)
    failed = exp.start_logging("failed")
    failed.fail(RuntimeError("it broke"))
    assert failed.status == "Failed" and "it broke" in failed.info.error
    canceled = exp.start_logging("canceled")
    canceled.cancel()
    assert canceled.status == "Canceled"
    with exp.start_logging("ctx") as ctx:
        ctx.log("y", 1)
    assert ctx.status == "Completed"


def test_mlflow_vocabulary_writes_the_same_runs(ws):
    """start_run / log_metric / log_param / set_tag / end_run work on the store."""
    tracklog.set_tracking_uri(ws.path)
    name = unique()
    tracklog.set_experiment(name)
    with tracklog.start_run(run_name="fluent") as run:
        tracklog.log_metric("m", 1.5, step=2)
        tracklog.log_metrics({"a": 1, "b": 2})
        tracklog.log_param("p", "x")
        tracklog.set_tags({"t": "v"})
        with tracklog.start_run(nested=True) as child:
            tracklog.log_metric("c", 3)
        assert child.parent == run
    assert tracklog.active_run() is None
    again = ws.get_run(run.id)
    assert again.status == "Completed" and again.name == "fluent"
    assert again.get_metrics() == {"m": 1.5, "a": 1, "b": 2}
    assert again.get_params() == {"p": "x"} and again.get_tags()["t"] == "v"
    assert again.get_tags()["mlflow.runName"] == "fluent"
    assert [r.id for r in ws.get_experiment(name).get_runs(include_children=True)] == [child.id, run.id]
    assert [r.id for r in ws.get_experiment(name).get_runs()] == [run.id]  # Azure's default


def test_store_reads_runs_by_id_prefix_experiment_and_parent(exp):
    """get_run takes an id prefix; search_runs filters by experiment and parent."""
    store = exp.workspace.store
    first = exp.start_logging("first")
    second = first.child_run("second")
    second.complete()
    first.complete()
    assert store.get_run(first.id[:10]).run_id == first.id
    with pytest.raises(RunNotFoundError):
        store.get_run("f" * 32)
    assert [i.run_id for i in store.search_runs(experiment_id=exp.id)] == [second.id, first.id]
    assert [i.run_id for i in store.search_runs(parent_run_id=first.id)] == [second.id]
    info = store.get_run(second.id)
    assert (info.experiment_name, info.name, info.parent_run_id) == (exp.name, "second", first.id)
    assert exp.name in {e.name for e in store.list_experiments()}
    assert store.get_experiment(exp.name).experiment_id == exp.id
    assert store.get_experiment(unique("missing")) is None


def test_ended_run_reopened_by_id_takes_more_data(ws):
    """start_run(run_id=...) resumes an ended run, which then takes more points."""
    tracklog.set_tracking_uri(ws.path)
    tracklog.set_experiment(unique())
    with tracklog.start_run() as run:
        tracklog.log_metric("m", 1, step=0)
    with tracklog.start_run(run_id=run.id):
        tracklog.log_metric("m", 2, step=1)
    assert [p.value for p in ws.get_run(run.id).get_metric_history("m")] == [1, 2]
    assert ws.get_run(run.id).status == "Completed"


def test_store_primitive_write_batch_and_control_plane_round_trip(exp):
    """write_batch, set_status and the reads behave alike when called on the store directly."""
    from tracklog.pipeline.event import LOG, METRIC, PARAM, TAG, Event
    from tracklog._logfile import decode_record

    store = exp.workspace.store
    info = store.create_run(exp.id, "direct")
    assert (info.status, info.name, info.experiment_name) == ("Running", "direct", exp.name)
    run_id = info.run_id
    now = time.time()
    store.write_batch(
        [
            Event(run_id, METRIC, "m", 1.5, 0, now),
            Event(run_id, METRIC, "m", 2.5, 1, now + 1),
            Event(run_id, TAG, "k", "v", None, now),
            Event(run_id, PARAM, "p", "1", None, now),
            Event(run_id, LOG, "python.log", None, None, now, logging.INFO, "lg", "hello", None),
        ]
    )
    store.heartbeat([run_id], time.time())
    store.flush()
    assert [(p.step, p.value) for p in store.metric_history(run_id, "m")] == [(0, 1.5), (1, 2.5)]
    assert store.metric_kinds(run_id) == {"m": "metric"} and store.last_values(run_id) == {"m": 2.5}
    assert store.metric_counts(run_id)["m"] in (2, None)  # None: a store that cannot count cheaply
    assert store.get_tags(run_id)["k"] == "v" and store.get_params(run_id) == {"p": "1"}
    records = [decode_record(line) for line in store.iter_log_lines(run_id, "python.log")]
    assert [(r["logger"], r["message"], r["level"]) for r in records] == [("lg", "hello", "INFO")]
    assert list(store.iter_log_lines(run_id, "missing.log")) == []
    store.set_status(run_id, "Completed", time.time())
    store.flush()
    done = store.get_run(run_id)
    assert done.status == "Completed" and done.end_time is not None


def test_a_reopened_run_is_held_by_the_process_that_reopened_it(exp):
    """Running again, a run's owner is the caller (or none, NO_OWNER), not the process that made it."""
    store = exp.workspace.store
    info = store.create_run(exp.id, "client-made", owner_pid=NO_OWNER)
    assert store.get_run(info.run_id).owner_pid == NO_OWNER
    store.set_status(info.run_id, "Completed", time.time())
    store.set_status(info.run_id, "Running", None)
    store.flush()
    reopened = store.get_run(info.run_id)
    assert (reopened.status, reopened.owner_pid, reopened.end_time) == ("Running", os.getpid(), None)
    store.set_status(info.run_id, "Running", None, owner_pid=NO_OWNER)
    store.flush()
    assert store.get_run(info.run_id).owner_pid == NO_OWNER
