"""A process whose environment names a run that has ended (TRACKLOG_RUN_ID of a run its
parent completed, a worker still logging after its parent ended the run) never takes the
run over: every route refuses its data with one warning naming the run, the run keeps the
status its owner gave it, and only an explicit resume (start_run(run_id=...)) reopens it,
as MLflow's does, ending it Completed at a clean exit (real processes, no mocks)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import tracklog
from tests.conftest import python_env
from tracklog import _config

TIMEOUT = 120


def _ended_run(workspace: tracklog.Workspace) -> str:
    run = tracklog.Experiment(workspace, "train").start_logging("parent")
    run.log("before", 1.0)
    run.complete()
    return run.id


def _child(tmp_path, workspace, rid: str, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "child.py"
    path.write_text(textwrap.dedent(code))
    done = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path,
        env=python_env(TRACKLOG_RUN_ID=rid, TRACKLOG_WORKSPACE=workspace.path, **env),
    )
    assert done.returncode == 0, done.stderr
    return done


def _warnings(stderr: str, rid: str) -> list[str]:
    return [line for line in stderr.splitlines() if f"run {rid}" in line and "has ended" in line]


def _runs(workspace: tracklog.Workspace) -> list[tuple[str, str]]:
    return sorted((r.name, r.get_status()) for r in workspace.get_runs())


def test_mlflow_names_into_the_environments_ended_run_are_refused_and_it_stays_completed(tmp_path, workspace):
    """The red team's reproducer, and the other MLflow names: nothing is stored, one
    warning names the run, and it stays Completed after the child's clean exit (before,
    log_metric reopened it, stored the points and left it Crashed)."""
    rid = _ended_run(workspace)
    done = _child(tmp_path, workspace, rid, """
        import tracklog
        tracklog.log_metric("a", 1.0, step=0)
        tracklog.log_metric("a", 2.0, step=1)
        tracklog.log_metric("a", 3.0, step=2, timestamp=1_700_000_000_000)
        tracklog.log_metrics({"b": 1.0})
        tracklog.log_param("p", 1)
        tracklog.set_tag("t", "x")
        tracklog.log_text("hello", "note.txt")
        assert tracklog.active_run() is None
        tracklog.end_run()
    """)
    assert len(_warnings(done.stderr, rid)) == 1, done.stderr
    run = workspace.get_run(rid)
    assert run.get_status() == "Completed"
    assert run.get_metrics() == {"before": 1.0}
    assert run.get_params() == {} and "t" not in run.get_tags()
    assert "note.txt" not in run.get_file_names()
    assert _runs(workspace) == [("parent", "Completed")]


def test_records_calls_and_run_get_context_are_refused_alike(tmp_path, workspace):
    """A RunHandler's records, tracklog.log_metric and Run.get_context().log mixed: no
    step of any metric is kept (before, the first record was refused, the call reopened
    the run and later records were kept: step 0 missing, the run Crashed), one warning,
    the records' lines still in the run's log file, the run Completed."""
    rid = _ended_run(workspace)
    done = _child(tmp_path, workspace, rid, """
        import logging, tracklog
        from tracklog.handlers import RunHandler
        logging.basicConfig(level=logging.INFO, handlers=[logging.StreamHandler(), RunHandler()])
        context = tracklog.Run.get_context()
        for step in range(3):
            logging.info("record %d", step, extra={"metric": "by_record", "value": step, "step": step})
            tracklog.log_metric("by_call", step, step=step)
            context.log("by_context", step, step=step)
        context.log_param("q", 2)
        context.tag("u", "v")
        assert context.id == tracklog.Run.get_context().id
    """)
    assert len(_warnings(done.stderr, rid)) == 1, done.stderr
    run = workspace.get_run(rid)
    assert run.get_status() == "Completed"
    assert run.get_metrics() == {"before": 1.0}
    assert run.get_params() == {} and "u" not in run.get_tags()
    lines = [r["message"] for r in run.get_logs() if r["message"].startswith("record")]
    assert lines == ["record 0", "record 1", "record 2"]
    assert _runs(workspace) == [("parent", "Completed")]


#: A parent that completes its run while a spawn Pool's worker, made during the run, has
#: not logged yet; the worker then logs through logging and through the swap calls.
POOL_SCRIPT = """
import logging, multiprocessing as mp, os, sys, time, tracklog
from tracklog.handlers import RunHandler

logging.basicConfig(level=logging.INFO, handlers=[logging.StreamHandler(), RunHandler()])

def late(flag):
    while not os.path.exists(flag):
        time.sleep(0.05)
    for step in range(3):
        logging.getLogger("w").info("late %d", step, extra={"metric": "w", "value": step, "step": step})
        tracklog.log_metric("s", step, step=step)
    return os.environ["TRACKLOG_RUN_ID"]

if __name__ == "__main__":
    ws, flag = sys.argv[1:3]
    run = tracklog.Experiment(tracklog.Workspace(ws), "train").start_logging("parent")
    with mp.get_context("spawn").Pool(1) as pool:
        pending = pool.apply_async(late, (flag,))
        run.complete()
        open(flag, "w").close()
        assert pending.get(timeout=60) == run.id
    assert run.get_status() == "Completed", run.get_status()
    print(run.id)
"""


def test_a_pool_worker_logging_after_its_parent_completed_the_run_is_refused(tmp_path, workspace):
    """A spawn Pool's worker still logging after its parent completed the run: its
    points are refused with one warning, the run stays Completed (also after the Pool's
    terminate()), and no other run is started."""
    script = tmp_path / "train.py"
    script.write_text(POOL_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), workspace.path, str(tmp_path / "flag")], env=python_env(),
        capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    rid = done.stdout.strip()
    assert len(_warnings(done.stderr, rid)) == 1, done.stderr
    run = workspace.get_run(rid)
    assert run.get_status() == "Completed"
    assert run.get_metrics() == {}
    assert _runs(workspace) == [("parent", "Completed")]


@pytest.mark.parametrize("how", ["with", "at_exit", "mlflow_run_id"])
def test_an_explicit_resume_reopens_the_run_and_a_clean_exit_completes_it(tmp_path, workspace, how):
    """start_run(run_id=...) in the child (in a with block, or ended at exit), or
    MLFLOW_RUN_ID and a logging call, resumes the ended run as MLflow does: its points are
    kept, no warning, and it ends Completed (MLflow's FINISHED), never Crashed."""
    rid = _ended_run(workspace)
    code = {
        "with": f"with tracklog.start_run(run_id={rid!r}):\n    tracklog.log_metric('a', 1.0)\n",
        "at_exit": f"tracklog.start_run(run_id={rid!r})\ntracklog.log_metric('a', 1.0)\n",
        "mlflow_run_id": "tracklog.log_metric('a', 1.0)\n",
    }[how]
    env = {"MLFLOW_RUN_ID": rid} if how == "mlflow_run_id" else {}
    if how == "mlflow_run_id":  # MLflow's variable alone, as MLflow's own child would have it
        done = subprocess.run(
            [sys.executable, "-c", "import tracklog\n" + code], capture_output=True, text=True, timeout=TIMEOUT,
            cwd=tmp_path, env=python_env(TRACKLOG_WORKSPACE=workspace.path, **env),
        )
        assert done.returncode == 0, done.stderr
    else:
        done = _child(tmp_path, workspace, rid, "import tracklog\n" + code)
    assert _warnings(done.stderr, rid) == []
    run = workspace.get_run(rid)
    assert run.get_status() == "Completed"
    assert run.get_metrics() == {"before": 1.0, "a": 1.0}
    assert _runs(workspace) == [("parent", "Completed")]


def test_start_run_makes_a_child_and_a_client_naming_the_run_logs_into_it(tmp_path, workspace):
    """In the same child, start_run() makes a child run of the ended run (its own, which
    it completes), and MlflowClient.log_metric on the ended run's id is kept, as MLflow's
    client logs into an ended run, without reopening it."""
    rid = _ended_run(workspace)
    done = _child(tmp_path, workspace, rid, f"""
        import tracklog
        with tracklog.start_run(run_name="own") as own:
            tracklog.log_metric("mine", 1.0)
            assert own.info.run_id != {rid!r}
        tracklog.MlflowClient().log_metric({rid!r}, "named", 2.0)
    """)
    assert _warnings(done.stderr, rid) == []
    run = workspace.get_run(rid)
    assert run.get_status() == "Completed"
    assert run.get_metrics() == {"before": 1.0, "named": 2.0}
    (child,) = run.get_children()
    assert (child.name, child.get_status(), child.get_metrics()) == ("own", "Completed", {"mine": 1.0})


_PARENT_ENDS_FIRST = """
import os, subprocess, sys, time, tracklog
run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), "train").start_logging("parent")
worker = subprocess.Popen([sys.executable, "-c", sys.argv[2]], stderr=subprocess.PIPE, text=True)
time.sleep(1.5)  # the worker logs into the running run
run.complete()
print(run.id, time.time())
sys.stderr.write(worker.communicate(timeout=60)[1])
"""

_WORKER = """
import logging, time
from tracklog.handlers import RunHandler
log = logging.getLogger("worker")
log.addHandler(RunHandler())
log.setLevel(logging.INFO)
for i in range(200):  # ten seconds
    log.info("tick", extra={"metric": "tick", "value": float(i), "step": i})
    time.sleep(0.05)
"""


def test_a_worker_logging_while_its_parent_completes_the_run_stops_within_a_heartbeat(tmp_path):
    """A worker that opened the run while it ran reads its status again each heartbeat
    (HEARTBEAT_INTERVAL): its points stop within about that after the parent completed
    the run, with one warning, and the run stays Completed."""
    done = subprocess.run([sys.executable, "-c", _PARENT_ENDS_FIRST, str(tmp_path / "ws"), _WORKER],
                          capture_output=True, text=True, timeout=TIMEOUT, env=python_env())
    assert done.returncode == 0, done.stderr
    rid, ended_at = done.stdout.split()
    run = tracklog.Workspace(tmp_path / "ws", create=False).get_run(rid)
    assert run.get_status() == "Completed"
    times = [p.timestamp for p in run.get_metric_history("tick")]
    assert times, "the worker logged into the running run"
    assert max(times) <= float(ended_at) + _config.HEARTBEAT_INTERVAL + 2.0
    assert len(times) < 150  # it did not go on for the whole ten seconds
    assert len(_warnings(done.stderr, rid)) == 1
