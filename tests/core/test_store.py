"""The embedded SQLite store: location, schema versioning, backpressure, bad names."""

from __future__ import annotations

import io
import os
import sqlite3
import threading

import pytest

import tracklog
from tracklog import InvalidNameError, WorkspaceError
from tracklog.pipeline import Pipeline
from tracklog.store import SQLiteStore
from tracklog.store._schema import SCHEMA_VERSION


def test_default_workspace_is_dot_tracklog_and_env_overrides(tmp_path, monkeypatch):
    """Workspace() is ./.tracklog; TRACKLOG_WORKSPACE overrides it; an argument beats both."""
    assert tracklog.Workspace().path == str(tmp_path / ".tracklog")
    monkeypatch.setenv("TRACKLOG_WORKSPACE", str(tmp_path / "env-ws"))
    assert tracklog.Workspace().path == str(tmp_path / "env-ws")
    assert tracklog.Workspace(tmp_path / "arg").path == str(tmp_path / "arg")
    assert os.path.isfile(tmp_path / "env-ws" / "tracklog.db")


def test_a_file_as_workspace_is_a_clear_error(tmp_path):
    """A workspace path that is a file raises WorkspaceError saying so."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkspaceError, match="is a file"):
        tracklog.Workspace(tmp_path / "file")


def test_schema_version_is_recorded_and_old_workspaces_migrate(tmp_path):
    """A new database carries the schema version; a version-0 database is migrated on open."""
    store = SQLiteStore(str(tmp_path / "ws"))
    conn = sqlite3.connect(store.db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    empty = tmp_path / "old"
    empty.mkdir()
    sqlite3.connect(empty / "tracklog.db").close()  # version 0: no tables yet
    migrated = SQLiteStore(str(empty))
    assert migrated.get_or_create_experiment("e").name == "e"


def test_a_newer_schema_is_refused_with_advice(tmp_path):
    """A workspace written by a newer tracklog is refused with a message to upgrade."""
    folder = tmp_path / "new"
    folder.mkdir()
    conn = sqlite3.connect(folder / "tracklog.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(WorkspaceError, match="upgrade tracklog"):
        SQLiteStore(str(folder))


def test_backpressure_blocks_the_caller_and_drops_nothing(workspace, experiment):
    """With a tiny queue the caller waits for the writer; all 50,000 points arrive."""
    run = experiment.start_logging()
    engine = run.workspace.engine
    engine.pipeline.close()  # its writer already stored the run's start; one writer per store
    engine.pipeline = run.target.pipeline = Pipeline(engine.pipeline.sinks, capacity=500, batch_size=100)
    for i in range(50_000):
        run.log("m", i)
    run.complete()
    values = [p.value for p in run.get_metric_history("m")]
    assert values == list(range(50_000))


def test_threads_logging_at_once_lose_nothing(run):
    """Eight threads logging the same run keep every point."""

    def work(k):
        for i in range(2000):
            run.log(f"t{k}", i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k in range(8):
        assert len(run.get_metric_history(f"t{k}")) == 2000


@pytest.mark.parametrize("name", ["", None])
def test_empty_metric_name_is_refused(run, name):
    """An empty (or None) metric name raises InvalidNameError from the run API."""
    with pytest.raises(InvalidNameError):
        run.log(name, 1)


def test_a_10kb_metric_name_is_refused_with_the_limit(run):
    """A 10 kB name is refused with a message naming the limit."""
    with pytest.raises(InvalidNameError, match="limit is 4096"):
        run.log("n" * 10_000, 1)


@pytest.mark.parametrize("name", ["train/loss", "ロス", "loss 🚀", "a.b:c[d]", "x" * 4096])
def test_odd_metric_names_are_kept_verbatim(run, name):
    """Names with '/', unicode, emoji, punctuation, or at the limit are kept as given."""
    run.log(name, 1.5)
    assert run.get_metrics() == {name: 1.5}


@pytest.mark.parametrize("name", ["../../x", "/etc/passwd", "a/../../b", "..", "C:\\x", ""])
def test_upload_file_refuses_names_that_escape_the_run(run, tmp_path, name):
    """upload_file refuses '..', absolute and empty names, and nothing is written outside."""
    source = tmp_path / "src.txt"
    source.write_text("x")
    with pytest.raises(InvalidNameError):
        run.upload_file(name, str(source))
    assert not (tmp_path / "x").exists()


def test_upload_file_with_a_missing_source_is_a_clear_error(run, tmp_path):
    """A source path that does not exist raises FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        run.upload_file("outputs/x.txt", str(tmp_path / "nope.txt"))


def test_upload_file_refuses_a_symlink_leading_outside(run, tmp_path):
    """A run folder symlink pointing outside the run is not followed for writing."""
    run_dir = run.workspace.store.run_dir(run.id)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, os.path.join(run_dir, "link"))
    with pytest.raises(InvalidNameError, match="outside"):
        run.upload_file("link/x.txt", io.BytesIO(b"x"))
    assert not (outside / "x.txt").exists()


def test_download_of_a_missing_file_names_it(run, tmp_path):
    """download_file of a name the run lacks raises FileNotFoundError with the name."""
    with pytest.raises(FileNotFoundError, match="nothing.txt"):
        run.download_file("nothing.txt", str(tmp_path / "d"))


def test_events_after_close_are_written_inline_not_queued(workspace, experiment):
    """put() on a closed pipeline writes the event at once instead of queueing it forever."""
    run = experiment.start_logging()
    pipeline = run.target.pipeline
    pipeline.close()
    run.log("late", 1)
    assert pipeline.pending == 0
    assert run.get_metrics() == {"late": 1}
    assert pipeline._thread is None or not pipeline._thread.is_alive()
