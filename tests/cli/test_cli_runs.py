"""The read-only CLI: tracklog ls, show, metrics, logs (run as a real subprocess)."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import python_env
from tracklog.handlers import RunHandler


def cli(workspace, *args, timeout=60):
    """Run `tracklog --workspace W args...` and return the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "tracklog", "--workspace", workspace.path, *args],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=timeout,
    )


@pytest.fixture
def finished(experiment):
    """A completed run with metrics, tags, params, a log record, a file and a child."""
    run = experiment.start_logging("demo")
    for i in range(3):
        run.log("loss", 1.0 / (i + 1))
    run.log("note", "ok")
    run.tag("model", "ridge")
    run.log_param("lr", 0.1)
    logger = logging.getLogger("demo")
    logger.addHandler(RunHandler(run))
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.debug("quiet detail")
    logger.warning("loud warning")
    run.child_run("fold-1").complete()
    run.complete()
    return run


def test_ls_lists_runs_newest_first(workspace, finished):
    """ls shows id, experiment, name, status; children are indented under the run list."""
    out = cli(workspace, "ls")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:4] == ["RUN", "ID", "EXPERIMENT", "NAME"]
    assert "fold-1" in lines[1] and "demo" in lines[2] and "Completed" in lines[2]


def test_ls_filters_by_experiment_and_rejects_unknown(workspace, finished):
    """ls --experiment E lists its runs; an unknown experiment is a one-line error."""
    assert "demo" in cli(workspace, "ls", "--experiment", "test-exp").stdout
    out = cli(workspace, "ls", "--experiment", "nope")
    assert out.returncode == 1 and out.stderr.strip() == f"tracklog: no experiment 'nope' in workspace {workspace.path}"


def test_show_prints_status_tags_params_metrics_files_children(workspace, finished):
    """show RUN prints the run's whole summary, by full id, prefix or 'latest'."""
    for ref in (finished.id, finished.id[:8]):
        out = cli(workspace, "show", ref)
        assert out.returncode == 0, out.stderr
        text = out.stdout
        for expected in ("status     Completed", "model = ridge", "lr = 0.1", "loss", "0.333333", "note",
                         "logs/python.log", "fold-1"):
            assert expected in text


def test_metrics_lists_names_and_points_and_csv(workspace, finished):
    """metrics RUN lists each metric; metrics RUN NAME prints points; --csv is machine-readable."""
    summary = cli(workspace, "metrics", finished.id).stdout
    assert "loss" in summary and "3" in summary
    csv_text = cli(workspace, "metrics", finished.id, "loss", "--csv").stdout.splitlines()
    assert csv_text[0] == "step,value,time,epoch_seconds,rank"
    assert [line.split(",")[:2] for line in csv_text[1:]] == [["0", "1.0"], ["1", "0.5"], ["2", repr(1 / 3)]]
    missing = cli(workspace, "metrics", finished.id, "nope")
    assert missing.returncode == 1 and "no metric 'nope'" in missing.stderr


def test_logs_renders_records_and_filters_by_level(workspace, finished):
    """logs RUN prints text lines; --level WARNING hides the debug record."""
    everything = cli(workspace, "logs", finished.id).stdout
    assert "DEBUG" in everything and "quiet detail" in everything
    warnings = cli(workspace, "logs", finished.id, "--level", "WARNING").stdout
    assert "loud warning" in warnings and "quiet detail" not in warnings


def test_logs_follow_tails_a_live_run_until_it_ends(workspace, experiment):
    """logs --follow prints records as they arrive and exits once the run has ended."""
    run = experiment.start_logging("live")
    logger = logging.getLogger("live")
    logger.addHandler(RunHandler(run))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.info("first line")
    run.flush()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracklog", "--workspace", workspace.path, "logs", run.id, "--follow"],
        stdout=subprocess.PIPE,
        text=True,
        env=python_env(),
    )

    def later():
        time.sleep(1.0)
        logger.info("second line")
        run.complete()

    thread = threading.Thread(target=later)
    thread.start()
    out, _ = proc.communicate(timeout=60)
    thread.join()
    assert proc.returncode == 0
    assert "first line" in out and "second line" in out


def test_unknown_run_and_empty_workspace_are_one_line_errors(workspace, tmp_path):
    """An unknown id, an empty workspace and a missing workspace each give one line and exit 1."""
    empty = cli(workspace, "ls")
    assert empty.returncode == 1 and empty.stderr.strip() == f"tracklog: no runs in workspace {workspace.path}"
    unknown = cli(workspace, "show", "abc123")
    assert unknown.returncode == 1 and len(unknown.stderr.strip().splitlines()) == 1
    assert "no run 'abc123'" in unknown.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "tracklog", "--workspace", str(tmp_path / "none"), "ls"],
        capture_output=True, text=True, env=python_env(), timeout=60,
    )
    assert missing.returncode == 1 and "no tracklog workspace" in missing.stderr
    assert not (tmp_path / "none").exists()


def test_console_script_is_installed():
    """The `tracklog` console script exists and prints help."""
    import shutil

    exe = shutil.which("tracklog")
    if exe is None:
        pytest.skip("tracklog console script not on PATH (package not installed)")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "ls" in out.stdout
