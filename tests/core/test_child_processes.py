"""Processes a run's process starts (multiprocessing with spawn or forkserver, a plain
``python worker.py``) log into its current run without owning it, and the environment
that tells them so is put back when the run ends (real processes, no mocks)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import tracklog
from tests.conftest import python_env
from tracklog import _config

TIMEOUT = 120

#: A training script: a RunHandler on root, a run in the workspace argv[1], a with-Pool of
#: workers (its terminate() ends them) that log through logging or through the swap calls.
POOL_SCRIPT = """
import logging, multiprocessing as mp, sys, tracklog
from tracklog.handlers import RunHandler

logging.basicConfig(level=logging.INFO, handlers=[RunHandler()])

def by_logging(i):
    logging.getLogger("w").info("b", extra={"metric": "w", "value": i, "step": i})

def by_swap(i):
    tracklog.log_metric("w", i, step=i)

if __name__ == "__main__":
    ws, method, how = sys.argv[1:4]
    work = by_logging if how == "logging" else by_swap
    ctx = mp.get_context(method)
    for name in sys.argv[4:]:
        run = tracklog.Experiment(tracklog.Workspace(ws), "train").start_logging(name)
        with ctx.Pool(2) as pool:
            pool.map(work, range(10))
        assert run.get_status() == "Running", run.get_status()
        run.complete()
"""


def _run(tmp_path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(script))
    done = subprocess.run(
        [sys.executable, str(path), *args], env=python_env(), capture_output=True, text=True,
        timeout=TIMEOUT, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return done


def _all_runs(workspace: tracklog.Workspace) -> list[tuple[str, str, str]]:
    return sorted(
        (r.experiment.name, r.name, r.get_status())
        for name in [e.name for e in workspace.experiments.values()]
        for r in tracklog.Experiment(workspace, name).get_runs(include_children=True)
    )


@pytest.mark.parametrize("how", ["logging", "swap"])
@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_pool_workers_log_into_the_parents_run_and_make_no_run(tmp_path, method, how):
    """A spawn or forkserver Pool's workers log into the run their parent started (in a
    workspace that is not the default): all 10 points, no stray run, and the pool's
    terminate() leaves the run Running for its parent to complete."""
    ws = tmp_path / "elsewhere"
    _run(tmp_path, POOL_SCRIPT, str(ws), method, how, "train-run")
    workspace = tracklog.Workspace(ws)
    assert _all_runs(workspace) == [("train", "train-run", "Completed")]
    run = tracklog.Experiment(workspace, "train").get_runs().__next__()
    assert [p.step for p in run.get_metric_history("w")] == list(range(10))
    assert not (tmp_path / ".tracklog").exists()


def test_a_forkserver_started_in_an_earlier_run_sends_workers_to_the_current_one(tmp_path):
    """The forkserver keeps the environment it started with (the first run's); each worker
    still logs into the run current when its Process was made, and the first run, ended,
    is neither written to nor reopened."""
    ws = tmp_path / "ws"
    _run(tmp_path, POOL_SCRIPT, str(ws), "forkserver", "swap", "first", "second")
    workspace = tracklog.Workspace(ws)
    assert _all_runs(workspace) == [("train", "first", "Completed"), ("train", "second", "Completed")]
    for run in tracklog.Experiment(workspace, "train").get_runs():
        assert [p.step for p in run.get_metric_history("w")] == list(range(10))


def test_a_worker_that_starts_a_run_gets_a_child_of_the_parents_run(tmp_path):
    """As under ``tracklog run``: a spawned worker's start_run() makes a child of its
    parent's run; its end completes that child only."""
    ws = tmp_path / "ws"
    _run(tmp_path, """
        import multiprocessing as mp, sys, tracklog

        def work(i):
            with tracklog.start_run(run_name=f"worker-{i}"):
                tracklog.log_metric("own", i)

        if __name__ == "__main__":
            run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), "train").start_logging("parent")
            with mp.get_context("spawn").Pool(2) as pool:
                pool.map(work, range(2))
            run.complete()
    """, str(ws))
    workspace = tracklog.Workspace(ws)
    parent = tracklog.Experiment(workspace, "train").get_runs().__next__()
    children = sorted(parent.get_children(), key=lambda r: r.name)
    assert [(c.name, c.get_status(), c.get_metrics()) for c in children] == [
        ("worker-0", "Completed", {"own": 0}), ("worker-1", "Completed", {"own": 1}),
    ]
    assert parent.get_status() == "Completed"
    assert _all_runs(workspace) == [
        ("train", "parent", "Completed"), ("train", "worker-0", "Completed"), ("train", "worker-1", "Completed"),
    ]


def test_a_workers_end_run_leaves_its_parents_run_running(tmp_path):
    """MLflow-style worker code (log_metric, then end_run()) in spawned workers: end_run()
    only leaves the parent's run, which is not the worker's to end; every worker's point
    lands, and the run is Running until its parent completes it."""
    ws = tmp_path / "ws"
    _run(tmp_path, """
        import multiprocessing as mp, sys, tracklog

        def work(i):
            tracklog.log_metric("w", i, step=i)
            tracklog.end_run()

        if __name__ == "__main__":
            run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), "train").start_logging("parent")
            with mp.get_context("spawn").Pool(2) as pool:
                pool.map(work, range(6))
            assert tracklog.Workspace(sys.argv[1]).get_run(run.id).get_status() == "Running"
            run.complete()
    """, str(ws))
    workspace = tracklog.Workspace(ws)
    assert _all_runs(workspace) == [("train", "parent", "Completed")]
    run = tracklog.Experiment(workspace, "train").get_runs().__next__()
    assert sorted(p.step for p in run.get_metric_history("w")) == list(range(6))


def test_a_plain_python_subprocess_logs_into_the_current_run(tmp_path, workspace):
    """``python worker.py`` started while a run is current logs into it, and does not end it."""
    worker = tmp_path / "worker.py"
    worker.write_text("import tracklog\ntracklog.log_metric('sub', 7)\n")
    run = tracklog.Experiment(workspace, "train").start_logging("parent")
    env = dict(os.environ, PYTHONPATH=python_env()["PYTHONPATH"])
    done = subprocess.run([sys.executable, str(worker)], env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert run.get_status() == "Running"
    run.complete()
    assert run.get_metrics() == {"sub": 7}
    assert _all_runs(workspace) == [("train", "parent", "Completed")]


def test_the_environment_follows_the_current_run_and_is_put_back(tmp_path, monkeypatch, workspace):
    """TRACKLOG_RUN_ID and TRACKLOG_WORKSPACE name the innermost run while one is current,
    the outer one when it ends, and what was there before once none is, also when the run
    ends by an exception. The process's own default workspace does not change meanwhile."""
    monkeypatch.setenv("TRACKLOG_WORKSPACE", str(tmp_path / "mine"))
    experiment = tracklog.Experiment(workspace, "train")
    outer = experiment.start_logging("outer")
    assert (os.environ["TRACKLOG_RUN_ID"], os.environ["TRACKLOG_WORKSPACE"]) == (outer.id, workspace.path)
    assert tracklog.Workspace().path == str(tmp_path / "mine")
    with pytest.raises(ValueError):
        with tracklog.start_run(run_name="nested", nested=True) as nested:
            assert os.environ["TRACKLOG_RUN_ID"] == nested.info.run_id
            raise ValueError("boom")
    assert os.environ["TRACKLOG_RUN_ID"] == outer.id
    outer.complete()
    assert "TRACKLOG_RUN_ID" not in os.environ
    assert os.environ["TRACKLOG_WORKSPACE"] == str(tmp_path / "mine")


def test_a_value_changed_while_the_run_is_current_is_left_alone(monkeypatch, workspace):
    """Setting TRACKLOG_RUN_ID yourself during a run wins: the run's end leaves it."""
    run = tracklog.Experiment(workspace, "train").start_logging("r")
    monkeypatch.setenv("TRACKLOG_RUN_ID", "mine")
    assert _config.env("TRACKLOG_RUN_ID") == "mine"
    run.complete()
    assert os.environ["TRACKLOG_RUN_ID"] == "mine"
