"""The Azure-ML style run vocabulary, end to end against the real SQLite store."""

from __future__ import annotations

import io
import math
import os

import numpy as np
import pytest

import tracklog
from tracklog import ParamConflictError, RunClosedError, RunNotFoundError


def test_issue_tour_reads_back_as_azure_users_expect(workspace, tmp_path):
    """Every call of the Azure ML tour lands in the run and reads back in Azure's shapes."""
    exp = tracklog.Experiment(workspace, "logging-api-test")
    run = exp.start_logging()
    run.log("Category", "Red")
    run.log("accuracy", 0.95)
    run.log("loss", 0.31, step=10)
    run.log_list("Fibonacci", (i * 2 for i in [0, 1, 1, 2, 3]))
    run.log_row("Cosine Wave", angle=0.5, cos=np.cos(0.5))
    run.log_row("Cosine Wave", angle=0.6, cos=np.cos(0.6))
    run.log_table("Sine Wave", {"angle": [1, 2, 3], "sine": [0.8, 0.9, 0.1]})
    (tmp_path / "roc.png").write_bytes(b"\x89PNG fake image bytes")
    run.log_image("ROC", path=str(tmp_path / "roc.png"))
    run.tag("My Favorite Run")
    run.tag("Competition Rank", 1)
    run.log_param("alpha", 0.03)
    (tmp_path / "myfile.txt").write_text("hello")
    run.upload_file("outputs/myfile.txt", str(tmp_path / "myfile.txt"))
    child = run.child_run("fold-1")
    assert child.parent.id == run.id
    child.complete()
    run.complete()

    fetched = tracklog.Run(exp, run.id)
    metrics = fetched.get_metrics()
    assert metrics["Category"] == "Red"
    assert metrics["accuracy"] == 0.95
    assert metrics["loss"] == 0.31
    assert metrics["Fibonacci"] == [0, 2, 2, 4, 6]
    assert metrics["Cosine Wave"] == {"angle": [0.5, 0.6], "cos": [float(np.cos(0.5)), float(np.cos(0.6))]}
    assert metrics["Sine Wave"] == {"angle": [1, 2, 3], "sine": [0.8, 0.9, 0.1]}
    assert metrics["ROC"].startswith("images/")
    assert fetched.get_metrics("loss") == {"loss": 0.31}
    (point,) = fetched.get_metric_history("loss")
    assert (point.step, point.value) == (10, 0.31) and point.timestamp > 0
    user_tags = {k: v for k, v in fetched.get_tags().items() if not k.startswith("tracklog.")}
    assert user_tags == {"My Favorite Run": "", "Competition Rank": "1"}
    assert fetched.get_params() == {"alpha": "0.03"}
    assert fetched.status == "Completed"
    assert [c.id for c in fetched.get_children()] == [child.id]
    names = fetched.get_file_names()
    assert "outputs/myfile.txt" in names and metrics["ROC"] in names
    dest = fetched.download_file("outputs/myfile.txt", str(tmp_path / "back.txt"))
    assert open(dest).read() == "hello"


def test_repeated_log_is_a_series_over_steps_0_1_2(run):
    """A name logged repeatedly without a step gets steps 0, 1, 2 and reads back as a list."""
    for value in (0.9, 0.8, 0.7):
        run.log("loss", value)
    assert run.get_metrics()["loss"] == [0.9, 0.8, 0.7]
    assert [p.step for p in run.get_metric_history("loss")] == [0, 1, 2]


def test_a_second_log_list_of_one_name_adds_to_the_first(run):
    run.log_list("l", [1, 2])
    run.log_list("l", [3, 4, 5])
    run.flush()
    assert run.get_metrics()["l"] == [1, 2, 3, 4, 5]


def test_explicit_steps_are_kept_and_history_is_ordered_by_step(run):
    """Out-of-order explicit steps read back sorted; equal steps keep arrival order."""
    run.log("m", 3, step=5)
    run.log("m", 1, step=2)
    run.log("m", 2, step=2)
    run.log("m", 4)  # next after the highest explicit step
    assert [(p.step, p.value) for p in run.get_metric_history("m")] == [(2, 1), (2, 2), (5, 3), (6, 4)]


def test_values_keep_their_type_nan_and_inf(run):
    """int stays int, float float, str str; NaN and +/-inf read back as such."""
    run.log("i", 3)
    run.log("f", 2.5)
    run.log("s", "text")
    run.log("nan", float("nan"))
    run.log("pinf", float("inf"))
    run.log("ninf", float("-inf"))
    m = run.get_metrics()
    assert type(m["i"]) is int and type(m["f"]) is float and m["s"] == "text"
    assert math.isnan(m["nan"]) and m["pinf"] == math.inf and m["ninf"] == -math.inf


def test_bool_and_numpy_scalars_become_python_numbers(run):
    """bool becomes int; numpy scalars and 0-d arrays become Python numbers."""
    run.log("b", True)
    run.log("f32", np.float32(0.5))
    run.log("i64", np.int64(7))
    run.log("arr", np.array(1.25))
    m = run.get_metrics()
    assert m == {"b": 1, "f32": 0.5, "i64": 7, "arr": 1.25}
    assert type(m["i64"]) is int


def test_torch_scalars_become_python_numbers(run):
    """A one-element torch tensor is logged as its Python number."""
    torch = pytest.importorskip("torch")
    run.log("t", torch.tensor(0.25))
    assert run.get_metrics()["t"] == 0.25


def test_unloggable_value_warns_once_and_logs_nothing(run, caplog):
    """A list value is skipped with one warning on the tracklog logger, never an exception."""
    with caplog.at_level("WARNING", logger="tracklog"):
        run.log("bad", [1, 2])
        run.log("bad", [3])
        run.log("bad", {"a": 1})
    warnings = [r for r in caplog.records if r.name == "tracklog" and "bad" in r.getMessage()]
    assert len(warnings) == 2  # one for list, one for dict
    assert "bad" not in run.get_metrics()


def test_param_conflict_is_refused_and_same_value_accepted(run):
    """Params are immutable: a different value raises, the same value again is fine."""
    run.log_param("lr", 0.1)
    run.log_param("lr", 0.1)
    with pytest.raises(ParamConflictError, match="already"):
        run.log_param("lr", 0.2)
    assert run.get_params() == {"lr": "0.1"}


def test_logging_into_a_completed_run_is_a_clear_error(run):
    """run.log after complete() raises RunClosedError and the data logged before stays."""
    run.log("x", 1)
    run.complete()
    with pytest.raises(RunClosedError, match="ended"):
        run.log("x", 2)
    assert run.get_metrics() == {"x": 1}


def test_with_block_completes_or_fails(experiment):
    """A with block completes the run, or fails it (with the error text) when an exception escapes."""
    with experiment.start_logging("ok") as good:
        good.log("a", 1)
    assert good.status == "Completed"
    with pytest.raises(ZeroDivisionError):
        with experiment.start_logging("bad") as bad:
            1 / 0
    assert bad.status == "Failed"
    assert "ZeroDivisionError" in bad.info.error


def test_fail_and_cancel_set_their_status(experiment):
    """fail(error=...) keeps the error text; cancel() marks Canceled."""
    failed = experiment.start_logging()
    failed.fail(error="out of memory")
    assert (failed.status, failed.info.error) == ("Failed", "out of memory")
    canceled = experiment.start_logging()
    canceled.cancel()
    assert canceled.status == "Canceled"


def test_get_runs_newest_first_and_get_run_by_id_or_prefix(workspace, experiment):
    """exp.get_runs() is newest first; ws.get_run accepts the id or a unique prefix."""
    runs = [experiment.start_logging(f"r{i}") for i in range(3)]
    for r in runs:
        r.complete()
    assert [r.name for r in experiment.get_runs()] == ["r2", "r1", "r0"]
    assert workspace.get_run(runs[1].id).name == "r1"
    assert workspace.get_run(runs[1].id[:10]).id == runs[1].id
    with pytest.raises(RunNotFoundError, match="tracklog ls"):
        workspace.get_run("0" * 32)


def test_get_context_is_the_innermost_active_run(experiment):
    """Run.get_context() returns the innermost run started and not ended."""
    outer = experiment.start_logging("outer")
    assert tracklog.Run.get_context().id == outer.id
    child = outer.child_run("inner")
    assert tracklog.Run.get_context().id == child.id
    child.complete()
    assert tracklog.Run.get_context().id == outer.id
    outer.complete()


def test_get_context_without_a_run_starts_one_in_default(tmp_path):
    """With no active run and no TRACKLOG_RUN_ID, get_context starts a run in experiment Default."""
    run = tracklog.Run.get_context()
    assert run.experiment.name == "Default"
    assert run.status == "Running"
    assert tracklog.Run.get_context().id == run.id
    assert os.path.isdir(os.path.join(str(tmp_path), ".tracklog"))


def test_get_context_uses_the_run_named_by_the_environment(workspace, experiment, monkeypatch):
    """TRACKLOG_RUN_ID and TRACKLOG_WORKSPACE name the current run (a parent process started it)."""
    parent = experiment.start_logging()
    from tracklog.pipeline import current as _context

    _context.reset()
    monkeypatch.setenv("TRACKLOG_RUN_ID", parent.id)
    monkeypatch.setenv("TRACKLOG_WORKSPACE", workspace.path)
    assert tracklog.Run.get_context().id == parent.id


def test_upload_file_accepts_a_stream_and_lists_files(run, tmp_path):
    """upload_file takes a binary stream; get_file_names lists it; download into a folder keeps its name."""
    run.upload_file("outputs/data.bin", io.BytesIO(b"\x00\x01\x02"))
    assert "outputs/data.bin" in run.get_file_names()
    dest = run.download_file("outputs/data.bin", str(tmp_path))
    assert open(dest, "rb").read() == b"\x00\x01\x02"


def test_log_image_from_a_figure_like_object(run):
    """plot= accepts a matplotlib Figure (anything with savefig) or pyplot (gcf)."""

    class Figure:
        def savefig(self, buffer, format):
            buffer.write(b"\x89PNG figure")

    class Pyplot:
        def gcf(self):
            return Figure()

    run.log_image("fig", plot=Figure())
    run.log_image("fig", plot=Pyplot())
    files = run.get_metrics("fig")["fig"]
    assert len(files) == 2 and all(name.endswith(".png") for name in files)
    assert all(name in run.get_file_names() for name in files)


def test_runs_and_files_live_under_the_workspace(workspace, run):
    """Run files live under <workspace>/runs/<run_id>/ and the database is tracklog.db in WAL mode."""
    import sqlite3

    run.upload_file("a.txt", io.BytesIO(b"a"))
    assert os.path.isfile(os.path.join(workspace.path, "runs", run.id, "a.txt"))
    conn = sqlite3.connect(os.path.join(workspace.path, "tracklog.db"))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
