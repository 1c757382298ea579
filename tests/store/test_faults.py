"""Faults: a server that goes away, throttles, refuses data, or is gone at exit."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import pytest

import tracklog
from tracklog.handlers import RunHandler

from ..conftest import python_env
from .conftest import mlflow_id, unique


def test_server_outage_mid_run_loses_nothing_and_never_blocks_the_caller(mlflow_server, mlflow_client, caplog):
    """Stop the server mid-run, keep logging, start it again: every point arrives, no call waits."""
    ws = tracklog.Workspace(mlflow_server.uri)
    run = tracklog.Experiment(ws, unique()).start_logging("outage")
    logger = logging.getLogger(unique("outage"))
    logger.setLevel(logging.INFO)
    logger.addHandler(RunHandler(run))
    for step in range(500):
        run.log("loss", float(step))
    run.flush()

    mlflow_server.stop()
    slowest = 0.0
    started = time.perf_counter()
    for step in range(500, 3500):
        before = time.perf_counter()
        run.log("loss", float(step))
        if step % 10 == 0:
            logger.info("step %d", step, extra={"metric": "seen", "value": step})
        slowest = max(slowest, time.perf_counter() - before)
    run.tag("during", "outage")
    logged_in = time.perf_counter() - started
    time.sleep(1.0)  # let the sender find the server gone and start retrying
    mlflow_server.start()
    run.complete()

    assert slowest < 1.0 and logged_in < 15.0, (slowest, logged_in)  # enqueue only, never the network
    history = mlflow_client.get_metric_history(mlflow_id(mlflow_client, run.id), "loss")
    assert sorted(m.step for m in history) == list(range(3500))
    assert len(mlflow_client.get_metric_history(mlflow_id(mlflow_client, run.id), "seen")) == 300
    seen = mlflow_client.get_run(mlflow_id(mlflow_client, run.id))
    assert seen.info.status == "FINISHED" and seen.data.tags["during"] == "outage"
    assert len(run.get_logs()) == 300
    assert any("keeping data in" in r.getMessage() for r in caplog.records)


def test_complete_after_an_outage_a_flush_gave_up_on_waits_until_the_server_has_the_run(
    mlflow_server, mlflow_client
):
    """A flush during an outage gives up after its capped wait; once the server is back,
    complete() returns only when the server holds every point and the run's end, as
    MLflow's synchronous client would (before, it gave up after 0.5 s: RUNNING, half the points)."""
    ws = tracklog.Workspace(mlflow_server.uri)
    run = tracklog.Experiment(ws, unique()).start_logging("back")
    logger = logging.getLogger(unique("back"))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(RunHandler(run))
    run.log("a", 0.0)
    run.flush()

    mlflow_server.stop()
    try:
        for step in range(1, 300):
            run.log("a", float(step))
            logger.info("step %d", step, extra={"metric": "seen", "value": step, "step": step})
        started = time.perf_counter()
        run.flush()  # the server is down: the documented capped wait, then the data stays spooled
        down_flush = time.perf_counter() - started
    finally:
        mlflow_server.start()  # /health answers again
    slowest = 0.0
    for step in range(300, 600):  # logged after the restart, behind the backlog
        before = time.perf_counter()
        run.log("a", float(step))
        logger.info("step %d", step, extra={"metric": "seen", "value": step, "step": step})
        slowest = max(slowest, time.perf_counter() - before)
    run.complete()

    sid = mlflow_id(mlflow_client, run.id)  # read at once, with MLflow's own client
    seen = mlflow_client.get_run(sid)
    assert seen.info.status == "FINISHED", seen.info
    assert [m.step for m in sorted(mlflow_client.get_metric_history(sid, "a"), key=lambda m: m.step)] == list(range(600))
    assert len(mlflow_client.get_metric_history(sid, "seen")) == 599
    assert down_flush < 5.0, down_flush  # DOWN_GRACE, not TRACKLOG_REMOTE_WAIT
    assert slowest < 1.0, slowest  # logging after the outage still only enqueues


def test_throttling_and_server_errors_are_retried(proxy, mlflow_client):
    """429 and 503 answers to log-batch are retried with backoff until the data is taken."""
    run = tracklog.Experiment(tracklog.Workspace(proxy.uri), unique()).start_logging("throttled")
    proxy.fail_next["runs/log-batch"] = [429, 503, 503, 502, 429, 500]
    for step in range(100):
        run.log("m", float(step))
    run.complete()
    assert proxy.fail_next["runs/log-batch"] == []
    assert len(mlflow_client.get_metric_history(mlflow_id(mlflow_client, run.id), "m")) == 100
    assert mlflow_client.get_run(mlflow_id(mlflow_client, run.id)).info.status == "FINISHED"


def test_a_refused_point_is_reported_and_the_rest_delivered(proxy, mlflow_client, caplog):
    """When the server refuses one item of a batch (HTTP 400), only that item is skipped."""
    run = tracklog.Experiment(tracklog.Workspace(proxy.uri), unique()).start_logging("refused")
    proxy.refuse_containing = b'"poison"'
    for step in range(200):
        run.log("good", float(step))
        if step == 77:
            run.log("poison", 1.0)
    with caplog.at_level(logging.WARNING, logger="tracklog"):
        run.complete()
    proxy.refuse_containing = None
    assert len(mlflow_client.get_metric_history(mlflow_id(mlflow_client, run.id), "good")) == 200
    assert mlflow_client.get_metric_history(mlflow_id(mlflow_client, run.id), "poison") == []
    assert any("refused 1 metric points" in r.getMessage() for r in caplog.records)


def test_undelivered_data_is_reported_at_exit_and_sync_pending_sends_it(proxy, mlflow_client, tmp_path):
    """A process exiting while the server is down says what is kept; `tracklog sync --pending` sends it."""
    spool = tmp_path / "exit-spool"
    script = (
        "import sys, tracklog\n"
        f"exp = tracklog.Experiment(tracklog.Workspace({proxy.uri!r}), 'exit-' + sys.argv[1])\n"
        "run = exp.start_logging('kept')\n"
        "for step in range(100): run.log('m', float(step))\n"
        "run.flush()\n"
        "print(run.id, flush=True)\n"
        "sys.stdin.readline()\n"
        "for step in range(100, 300): run.log('m', float(step))\n"
        "run.log_row('T', a=1)\n"
        "run.tag('late', 'yes')\n"
    )
    env = python_env(TRACKLOG_SPOOL_DIR=str(spool), MLFLOW_DISABLE_TELEMETRY="true")
    name = unique()
    child = subprocess.Popen(
        [sys.executable, "-c", script, name], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, cwd=tmp_path,
    )
    try:
        run_id = child.stdout.readline().decode().strip()
        proxy.stop()
        started = time.monotonic()
        _out, err = child.communicate(b"go\n", timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err.decode()
    assert time.monotonic() - started < 60
    stderr = err.decode()
    assert "could not be delivered to the MLflow server" in stderr, stderr
    assert "201 metric points" in stderr and "tracklog sync --pending" in stderr, stderr
    (kept,) = os.listdir(spool)
    assert str(spool / kept) in stderr
    assert len(mlflow_client.get_metric_history(mlflow_id(mlflow_client, run_id), "m")) == 100

    proxy.start()
    result = subprocess.run(
        [sys.executable, "-m", "tracklog", "sync", "--pending", "--timeout", "60"],
        env=env, capture_output=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert "delivered" in result.stdout.decode() and "100%" in result.stderr.decode()
    assert os.listdir(spool) == []
    assert sorted(m.step for m in mlflow_client.get_metric_history(mlflow_id(mlflow_client, run_id), "m")) == list(range(300))
    seen = mlflow_client.get_run(mlflow_id(mlflow_client, run_id))
    assert seen.info.status == "FINISHED" and seen.data.tags["late"] == "yes"
    assert [a.path for a in mlflow_client.list_artifacts(mlflow_id(mlflow_client, run_id), "tables")] == ["tables/T.json"]


def test_full_spool_drops_log_lines_before_metrics(proxy, mlflow_client, monkeypatch, caplog):
    """Over its bound the spool keeps metrics and drops log lines first, counting them; no call blocks."""
    monkeypatch.setenv("TRACKLOG_SPOOL_MAX_BYTES", "200000")
    ws = tracklog.Workspace(proxy.uri)
    run = tracklog.Experiment(ws, unique()).start_logging("full")
    logger = logging.getLogger(unique("full"))
    logger.setLevel(logging.INFO)
    logger.addHandler(RunHandler(run))
    run.log("m", 0.0)
    run.flush()
    proxy.stop()
    started = time.perf_counter()
    for i in range(3000):
        logger.info("a fairly long log line number %d %s", i, "x" * 100)
    run.flush()
    for step in range(1, 1001):
        run.log("m", float(step))
    run.flush()
    assert time.perf_counter() - started < 30
    store = ws.store
    assert store._spool.dropped["log lines"] > 0
    assert "metric points" not in store._spool.dropped
    proxy.start()
    with caplog.at_level(logging.WARNING, logger="tracklog"):
        run.complete()
        store.close()
    assert len(mlflow_client.get_metric_history(mlflow_id(mlflow_client, run.id), "m")) == 1001
    messages = [r.getMessage() for r in caplog.records]
    assert any("log lines were dropped because the spool was full" in m for m in messages), messages
    assert 0 < len(run.get_logs()) < 3000


def test_files_too_big_for_the_spool_are_sent_at_once_or_refused_loudly(proxy, mlflow_client, monkeypatch, tmp_path):
    """A file larger than the spool's room is uploaded directly; with the server down that raises."""
    import io

    monkeypatch.setenv("TRACKLOG_SPOOL_MAX_BYTES", "100000")
    big = tmp_path / "model.bin"
    big.write_bytes(b"w" * 150_000)
    run = tracklog.Experiment(tracklog.Workspace(proxy.uri), unique()).start_logging("big-files")
    run.upload_file("outputs/model.bin", str(big))
    run.upload_file("outputs/stream.bin", io.BytesIO(b"s" * 150_000))
    sizes = {a.path: a.file_size for a in mlflow_client.list_artifacts(mlflow_id(mlflow_client, run.id), "outputs")}
    assert sizes == {"outputs/model.bin": 150_000, "outputs/stream.bin": 150_000}
    proxy.stop()
    with pytest.raises(tracklog.TracklogError, match="does not fit in the spool"):
        run.upload_file("outputs/late.bin", str(big))
    proxy.start()
    run.complete()
    assert os.listdir(run.workspace.store.spool_path + "/files") == []


def test_killed_process_leaves_a_spool_that_sync_pending_delivers(proxy, mlflow_client, tmp_path):
    """SIGKILL during an outage: the spooled points survive on disk; the run reads as Crashed."""
    spool = tmp_path / "killed-spool"
    script = (
        "import sys, time, tracklog\n"
        f"exp = tracklog.Experiment(tracklog.Workspace({proxy.uri!r}), sys.argv[1])\n"
        "run = exp.start_logging('killed')\n"
        "print(run.id, flush=True)\n"
        "sys.stdin.readline()\n"
        "for step in range(500): run.log('m', float(step))\n"
        "run.flush()\n"
        "print('spooled', flush=True)\n"
        "time.sleep(600)\n"
    )
    env = python_env(TRACKLOG_SPOOL_DIR=str(spool), MLFLOW_DISABLE_TELEMETRY="true")
    child = subprocess.Popen([sys.executable, "-c", script, unique()], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        run_id = child.stdout.readline().decode().strip()
        proxy.stop()
        child.stdin.write(b"go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == b"spooled"
    finally:
        child.kill()
        child.wait(30)
    proxy.start()
    assert mlflow_client.get_metric_history(mlflow_id(mlflow_client, run_id), "m") == []
    result = subprocess.run([sys.executable, "-m", "tracklog", "sync", "--pending"], env=env,
                            capture_output=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert len(mlflow_client.get_metric_history(mlflow_id(mlflow_client, run_id), "m")) == 500
    assert tracklog.Workspace(proxy.uri).get_run(run_id).status == "Crashed"
    assert mlflow_client.get_run(mlflow_id(mlflow_client, run_id)).info.status == "FAILED"
