"""`tracklog ui` and `tracklog metrics RUN NAME --plot`, run as real subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

import tracklog
from tests.conftest import python_env


def _start_ui(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracklog", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=python_env(),
    )
    line = proc.stdout.readline()  # the server prints its URL once it listens
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not match:
        proc.kill()
        raise AssertionError(f"no URL printed: {line!r} {proc.stderr.read()!r}")
    return proc, match.group(0)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.parametrize("where", ["after", "before"])
def test_tracklog_ui_on_port_0_prints_its_url_and_serves_the_workspace(workspace, where):
    """`tracklog ui --workspace W --port 0` (or `tracklog --workspace W ui`) picks a free port and serves W."""
    run = tracklog.Experiment(workspace, "cli").start_logging("served")
    run.log("m", 1.0)
    run.complete()
    args = (["ui", "--workspace", workspace.path] if where == "after"
            else ["--workspace", workspace.path, "ui"]) + ["--port", "0"]
    proc, url = _start_ui(*args)
    try:
        with urllib.request.urlopen(url + "api/runs", timeout=60) as answer:
            runs = json.load(answer)["runs"]
        assert [r["id"] for r in runs] == [run.id]
        with urllib.request.urlopen(url, timeout=60) as answer:
            assert b"uPlot" in answer.read()
    finally:
        _stop(proc)


def test_tracklog_ui_without_a_workspace_says_so(tmp_path):
    """Pointing the UI at a folder with no workspace is a one-line error, exit 1."""
    done = subprocess.run(
        [sys.executable, "-m", "tracklog", "ui", "--workspace", str(tmp_path / "none"), "--port", "0"],
        capture_output=True, text=True, env=python_env(), timeout=60,
    )
    assert done.returncode == 1
    assert "no tracklog workspace" in done.stderr and "Traceback" not in done.stderr


def test_a_busy_port_is_a_clear_error(workspace):
    """A port already in use gives a one-line error suggesting --port 0."""
    proc, url = _start_ui("ui", "--workspace", workspace.path, "--port", "0")
    try:
        port = url.rsplit(":", 1)[1].strip("/")
        done = subprocess.run(
            [sys.executable, "-m", "tracklog", "ui", "--workspace", workspace.path, "--port", port],
            capture_output=True, text=True, env=python_env(), timeout=60,
        )
        assert done.returncode == 1
        assert "--port 0" in done.stderr and "Traceback" not in done.stderr
    finally:
        _stop(proc)


def _cli(workspace, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tracklog", "--workspace", workspace.path, *args],
        capture_output=True, text=True, env=env or python_env(), timeout=120,
    )


def test_metrics_plot_writes_a_png(workspace, tmp_path):
    """`tracklog metrics RUN NAME --plot out.png` draws a series, and a table with x = its first column."""
    pytest.importorskip("matplotlib")
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    for i in range(20_000):
        run.log("loss", 1 / (i + 1))
    for a in range(20):
        run.log_row("wave", angle=a / 10, cos=a * 0.5)
    run.complete()
    out = tmp_path / "loss.png"
    done = _cli(workspace, "metrics", run.id, "loss", "--plot", str(out))
    assert done.returncode == 0, done.stderr
    assert "20000 points" in done.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    table = tmp_path / "wave.png"
    done = _cli(workspace, "metrics", run.id, "wave", "--plot", str(table))
    assert done.returncode == 0, done.stderr
    assert table.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_plot_refuses_strings_with_a_message(workspace, tmp_path):
    """Plotting a string metric is a one-line error, not a traceback."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    run.log("phase", "train")
    run.complete()
    done = _cli(workspace, "metrics", run.id, "phase", "--plot", str(tmp_path / "x.png"))
    assert done.returncode == 1
    assert "only numbers can be plotted" in done.stderr and "Traceback" not in done.stderr


def test_metrics_plot_without_matplotlib_says_how_to_install_it(workspace, tmp_path):
    """When matplotlib cannot be imported, --plot says to install the 'plot' extra."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    run.log("loss", 1.0)
    run.log("loss", 0.5)
    run.complete()
    blocker = tmp_path / "block"
    (blocker / "matplotlib").mkdir(parents=True)
    (blocker / "matplotlib" / "__init__.py").write_text("raise ImportError('matplotlib hidden by the test')\n")
    env = python_env()
    env["PYTHONPATH"] = str(blocker) + os.pathsep + env["PYTHONPATH"]
    done = _cli(workspace, "metrics", run.id, "loss", "--plot", str(tmp_path / "x.png"), env=env)
    assert done.returncode == 1
    assert "pip install 'tracklog[plot]'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.png").exists()
