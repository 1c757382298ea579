"""The caller never waits on the network: a remote store against servers that fail for real.

Each case runs a real Python process logging to a real server that fails (a tiny HTTP
server answering 500, a socket that never answers, a real ``mlflow server`` stopped and
started again) and measures the slowest call, the time ``complete()`` and exit take, what
is printed, and that every point arrives in the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import tracklog

from ..conftest import python_env

#: The README's first example with TRACKLOG_TRACKING_URI set, plus run data and plain
#: records with and without a current run; times every call and counts RunHandler nesting.
SCRIPT = r'''
import json, logging, sys, threading, time
import tracklog
from tracklog.handlers import RunHandler

depth = threading.local()
deepest = [0]
_emit = RunHandler.emit
def emit(self, record):  # counts how deep RunHandler.emit nests on one thread
    depth.n = getattr(depth, "n", 0) + 1
    deepest[0] = max(deepest[0], depth.n)
    try:
        _emit(self, record)
    finally:
        depth.n -= 1
RunHandler.emit = emit

worst = [0.0, ""]
def timed(what, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    took = time.perf_counter() - start
    if took > worst[0]:
        worst[:] = [took, what]
    return result

POINTS = int(sys.argv[1])
logging.basicConfig(level=logging.DEBUG, handlers=[logging.StreamHandler(), RunHandler()])
log = logging.getLogger("train")
timed("plain record, no run", log.info, "plain before any run")
start = time.perf_counter()
log.info("epoch %d", 3, extra={"metrics": {"loss": 0.3, "acc": 0.91}, "step": 3})  # starts a run
first_use = time.perf_counter() - start
timed("metric record", log.info, "lr", extra={"metric": "lr", "value": 1e-3})
timed("tags record", log.info, "chosen", extra={"tags": {"model": "ridge"}})
timed("params record", log.debug, "config", extra={"params": {"alpha": 0.1}})
auto = tracklog.Run.get_context()
for i in range(POINTS):
    timed("metric record", log.info, "step %d", i, extra={"metric": "seen", "value": i})
timed("log_param", auto.log_param, "beta", 2)
timed("set_tag", auto.set_tag, "stage", "auto")
start = time.perf_counter()
auto.complete()
first_complete = time.perf_counter() - start
timed("plain record, no run", log.info, "between runs")
exp = timed("Experiment()", tracklog.Experiment, tracklog.Workspace(), "second-" + sys.argv[2])
run = timed("start_logging", exp.start_logging, "explicit")
for i in range(POINTS):
    timed("run.log", run.log, "m", float(i))
timed("plain record, current run", log.info, "inside the explicit run")
timed("log_param", run.log_param, "gamma", 3)
print(json.dumps({"auto": auto.id, "run": run.id, "worst": worst, "deepest": deepest[0],
                  "first_complete": first_complete, "first_use": first_use}), flush=True)
start = time.perf_counter()
run.complete()
print(json.dumps({"complete": time.perf_counter() - start, "at": time.time()}), flush=True)
'''

POINTS = 300


def _run_script(uri: str, tmp_path, wait: float, name: str) -> tuple[dict, float, float, str, str]:
    """Run SCRIPT against ``uri``: (its figures, complete()'s seconds, exit's seconds, stdout, stderr)."""
    env = python_env(
        TRACKLOG_TRACKING_URI=uri,
        TRACKLOG_SPOOL_DIR=str(tmp_path / "spool"),
        TRACKLOG_REMOTE_WAIT=str(wait),
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(POINTS), name], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        out, err = child.communicate(timeout=240)
        exited = time.time()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    figures, ended = (lines + [{}, {}])[:2]
    exit_took = exited - ended.get("at", exited)
    assert child.returncode == 0 and figures and ended, err.decode()[-3000:]
    return figures, ended["complete"], exit_took, out.decode(), err.decode()


def _assert_no_call_waited(figures: dict) -> None:
    """No call waited on the server: microseconds each; the record that starts the first run
    pays for local work only (importing requests, git for provenance, the spool folder)."""
    assert figures["worst"][0] < 0.5, figures  # generous, for a busy CI machine
    assert figures["first_use"] < 3.0, figures
    assert figures["deepest"] <= 2, figures  # tracklog's own "started run" note passes through once


def _sync_pending(tmp_path, to: str) -> str:
    env = python_env(TRACKLOG_SPOOL_DIR=str(tmp_path / "spool"), MLFLOW_DISABLE_TELEMETRY="true")
    done = subprocess.run(
        [sys.executable, "-m", "tracklog", "sync", "--pending", "--to", to, "--timeout", "120"],
        env=env, capture_output=True, timeout=240, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    return done.stdout.decode()


def _assert_everything_arrived(uri: str, figures: dict) -> None:
    """Both runs, read by tracklog's ids in this (another) process: every point, param, tag."""
    ws = tracklog.Workspace(uri)
    auto = ws.get_run(figures["auto"])
    assert auto.status == "Completed"
    assert [p.step for p in auto.get_metric_history("seen")] == list(range(POINTS))
    assert auto.get_metrics("lr") == {"lr": 1e-3} and auto.get_metrics("loss") == {"loss": 0.3}
    assert auto.get_params() == {"alpha": "0.1", "beta": "2"}
    assert auto.get_tags()["model"] == "ridge" and auto.get_tags()["stage"] == "auto"
    messages = [r["message"] for r in auto.get_logs()]
    assert messages[0] == "plain before any run" and "step 299" in messages
    run = ws.get_run(figures["run"])
    assert [p.value for p in run.get_metric_history("m")] == [float(i) for i in range(POINTS)]
    assert run.get_params() == {"gamma": "3"} and run.status == "Completed"
    for r in (auto, run):
        loggers = {line["logger"] for line in r.get_logs()}
        assert not any(name.startswith(("urllib3", "requests")) for name in loggers), loggers


def test_readme_example_at_debug_with_a_tracking_uri_finishes_and_keeps_urllib3_out_of_runs(
    mlflow_uri, tmp_path
):
    """logging.basicConfig(DEBUG, [StreamHandler(), RunHandler()]) with TRACKLOG_TRACKING_URI:
    the process finishes, RunHandler never nests, urllib3's own records (printed by the
    StreamHandler) never enter a run, and every point arrives."""
    figures, _complete, _exit, _out, err = _run_script(mlflow_uri, tmp_path, 60.0, "readme")
    assert figures["deepest"] <= 2, figures  # tracklog's own "started run" note passes through once
    assert "urllib3.connectionpool" in err  # the user's StreamHandler still shows them
    assert "Traceback" not in err, err[-3000:]
    assert "could not be delivered" not in err
    _assert_everything_arrived(mlflow_uri, figures)
    assert os.listdir(tmp_path / "spool") == []


def test_a_server_answering_500_costs_the_caller_nothing_and_loses_nothing(
    error_server, mlflow_uri, tmp_path
):
    """Every call returns at once against a server answering 500; no traceback, one warning
    while it lasts and one summary at exit; complete() and exit together wait
    TRACKLOG_REMOTE_WAIT once; `tracklog sync --pending` then delivers every point."""
    wait = 6.0
    figures, complete, exit_took, _out, err = _run_script(error_server.uri, tmp_path, wait, "e500")
    print(f"500: first use {figures['first_use']:.3f}s, worst call {figures['worst']}, complete {figures['first_complete']:.2f}s + {complete:.2f}s, exit {exit_took:.2f}s")
    _assert_no_call_waited(figures)
    assert error_server.requests > 0  # the sender really tried
    assert "Traceback" not in err, err[-3000:]
    assert err.count("keeping data in") == 1 and err.count("could not be delivered") == 1, err[-3000:]
    waited = figures["first_complete"] + complete + exit_took
    assert waited < wait + 4.0, (figures, complete, exit_took)  # the figure once, not at every flush

    assert "delivered" in _sync_pending(tmp_path, mlflow_uri)
    _assert_everything_arrived(mlflow_uri, figures)


def test_a_server_that_never_answers_costs_the_caller_nothing_and_loses_nothing(
    silent_server, mlflow_uri, tmp_path
):
    """Against a socket that accepts and never answers, start_logging() and the first record
    return at once, complete() and exit wait TRACKLOG_REMOTE_WAIT once in all, and
    `tracklog sync --pending` later delivers everything."""
    wait = 6.0
    figures, complete, exit_took, _out, err = _run_script(silent_server.uri, tmp_path, wait, "hang")
    print(f"hang: first use {figures['first_use']:.3f}s, worst call {figures['worst']}, complete {figures['first_complete']:.2f}s + {complete:.2f}s, exit {exit_took:.2f}s")
    _assert_no_call_waited(figures)
    assert silent_server.accepted  # the sender really connected
    assert "Traceback" not in err, err[-3000:]
    assert err.count("could not be delivered") == 1, err[-3000:]
    waited = figures["first_complete"] + complete + exit_took
    assert waited < wait + 4.0, (figures, complete, exit_took)

    assert "delivered" in _sync_pending(tmp_path, mlflow_uri)
    _assert_everything_arrived(mlflow_uri, figures)


def test_a_run_started_while_the_server_is_down_is_created_when_it_returns(mlflow_server, tmp_path):
    """A real mlflow server killed before the run starts: starting and logging return at once;
    started again, the sender creates the run and delivers every point, in the same process."""
    uri = mlflow_server.uri
    name = "down-" + os.urandom(4).hex()
    mlflow_server.stop()
    try:
        started = time.perf_counter()
        run = tracklog.Experiment(tracklog.Workspace(uri), name).start_logging("offline-start")
        run.log_param("lr", 0.1)
        for step in range(1000):
            run.log("loss", float(step))
        logged = time.perf_counter() - started
    finally:
        mlflow_server.start()
    run.complete()
    assert logged < 5.0, logged  # nothing waited on the server (a warm process takes milliseconds)
    again = tracklog.Workspace(uri).get_run(run.id)
    assert again.status == "Completed" and again.get_params() == {"lr": "0.1"}
    assert [p.step for p in again.get_metric_history("loss")] == list(range(1000))
    assert run.info.extra["mlflow_run_id"] != run.id  # the server picked its own id, tagged with ours
