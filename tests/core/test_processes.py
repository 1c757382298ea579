"""Several processes on one workspace, ranks, and a process killed mid-run (real subprocesses)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import tracklog
from tests.conftest import python_env

RANK_SCRIPT = textwrap.dedent(
    """
    import logging, tracklog
    from tracklog.handlers import RunHandler
    run = tracklog.Run.get_context()
    logging.basicConfig(level=logging.INFO, handlers=[RunHandler()])
    log = logging.getLogger("rank")
    for i in range({n}):
        run.log("loss", i * 0.5, step=i)
        log.info("step %d", i, extra={{"metric": "acc", "value": i, "step": i}})
    """
)


def test_four_ranks_write_one_run_without_losing_a_point(workspace, experiment, tmp_path):
    """4 processes (RANK 0-3) log into the same run at once: every point and line is kept, by rank."""
    run = experiment.start_logging("ddp")
    n = 3000
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT.format(n=n))
    procs = [
        subprocess.Popen(
            [sys.executable, str(script)],
            env=python_env(
                TRACKLOG_RUN_ID=run.id,
                TRACKLOG_WORKSPACE=workspace.path,
                RANK=str(rank),
                LOCAL_RANK=str(rank),
                TRACKLOG_FLUSH_INTERVAL="0.05",
            ),
            stderr=subprocess.PIPE,
        )
        for rank in range(4)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert b"locked" not in err
    history = run.get_metric_history("loss")
    assert len(history) == 4 * n
    for rank in range(4):
        points = run.get_metric_history("loss", rank=rank)
        assert [p.step for p in points] == list(range(n))
        assert len(run.get_metric_history("acc", rank=rank)) == n
    records = run.get_logs(logger="rank")
    assert len(records) == 4 * n
    assert {r["rank"] for r in records} == {0, 1, 2, 3}
    assert run.status == "Running"  # ranks attach to the run; they do not end it
    run.complete()


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys, time, tracklog
    run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), "crash").start_logging("victim")
    print(run.id, flush=True)
    for i in range(100):
        run.log("early", i)
    time.sleep(1.5)          # more than the flush interval: these points must survive
    print("ready", flush=True)
    i = 0
    while True:
        run.log("late", i)
        i += 1
    """
)


def test_sigkill_mid_run_keeps_flushed_points_and_reads_as_crashed(workspace, tmp_path):
    """Points logged over a second before SIGKILL are kept; the run reads Crashed, not Running."""
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), workspace.path],
        env=python_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    run_id = proc.stdout.readline().strip()
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    reopened = tracklog.Workspace(workspace.path)
    run = reopened.get_run(run_id)
    assert [p.value for p in run.get_metric_history("early")] == list(range(100))
    assert run.status == "Crashed"
    assert run.info.end_time is not None
    # the workspace is still fully usable afterwards
    fresh = tracklog.Experiment(reopened, "after").start_logging()
    fresh.log("x", 1)
    fresh.complete()
    assert fresh.get_metrics() == {"x": 1}


BURST_SCRIPT = textwrap.dedent(
    """
    import logging, sys, time, tracklog
    from tracklog.handlers import RunHandler
    run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), "crash").start_logging("burst")
    log = logging.getLogger("burst")
    log.propagate = False
    log.addHandler(RunHandler(run))
    log.setLevel(logging.INFO)
    print(run.id, flush=True)
    start, i, marked = time.monotonic(), 0, False
    while True:  # never idle: the writer gets no pause to write in
        log.info("step", extra={"metric": "loss", "value": i, "step": i})
        i += 1
        if not marked and i % 1000 == 0 and time.monotonic() - start > 0.5:
            print(i, flush=True)
            marked = True
    """
)


def test_sigkill_during_a_burst_keeps_what_was_logged_seconds_before(workspace, tmp_path):
    """A caller that never pauses delays the writer at most about a second, so a kill
    loses only the last moments: points (and their log lines) from 0.5 s in survive a
    kill 3 s later."""
    script = tmp_path / "burst.py"
    script.write_text(BURST_SCRIPT)
    # A queue too big to fill in time: only the writer's one-second bound saves the points.
    proc = subprocess.Popen(
        [sys.executable, str(script), workspace.path],
        env={**python_env(), "TRACKLOG_QUEUE_CAPACITY": "100000000"},
        stdout=subprocess.PIPE,
        text=True,
    )
    run_id = proc.stdout.readline().strip()
    marked = int(proc.stdout.readline().strip())
    time.sleep(3.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    run = tracklog.Workspace(workspace.path).get_run(run_id)
    steps = [p.step for p in run.get_metric_history("loss")]
    assert steps[:marked] == list(range(marked))
    assert len(run.get_logs(logger="burst")) >= marked
    assert run.status == "Crashed"


def test_stale_heartbeat_reads_as_crashed(workspace, experiment, monkeypatch):
    """A Running run whose owner is on another host and silent past the timeout reads Crashed."""
    run = experiment.start_logging()
    store = workspace.store
    store._tx(
        lambda conn: conn.execute(
            "UPDATE runs SET owner_host = 'elsewhere', heartbeat = ? WHERE run_id = ?",
            (time.time() - 3600, run.id),
        )
    )
    run.target.closed = True  # this process pretends it is not the owner any more
    assert store.get_run(run.id).status == "Crashed"


UNCAUGHT_SCRIPT = textwrap.dedent(
    """
    import sys, tracklog
    tracklog.set_tracking_uri(sys.argv[1])
    run = tracklog.Run.get_context()
    print(run.id, flush=True)
    run.log("x", 1)
    if sys.argv[2] == "raise":
        raise RuntimeError("boom at the top level")
    """
)


def test_auto_run_is_completed_at_exit_or_failed_by_an_uncaught_exception(workspace, tmp_path):
    """A run started on first use completes at exit, or fails when an exception escapes."""
    script = tmp_path / "auto.py"
    script.write_text(UNCAUGHT_SCRIPT)
    statuses = {}
    for mode in ("ok", "raise"):
        out = subprocess.run(
            [sys.executable, str(script), workspace.path, mode],
            env=python_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        run = workspace.get_run(out.stdout.strip())
        statuses[mode] = (run.status, run.get_metrics(), run.info.error or "")
    assert statuses["ok"][:2] == ("Completed", {"x": 1})
    assert statuses["raise"][:2] == ("Failed", {"x": 1})
    assert "boom at the top level" in statuses["raise"][2]


FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys, tracklog
    run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), "fork").start_logging()
    run.log("parent", 1)
    pid = os.fork()
    if pid == 0:
        run.log("child", 2)
        run.flush()
        os._exit(0)
    os.waitpid(pid, 0)
    run.log("parent", 3)
    run.complete()
    print(run.id)
    """
)


def test_forked_child_logs_into_the_run_with_its_own_writer(workspace, tmp_path):
    """After os.fork() the child gets a fresh writer and connection; parent and child points all land."""
    script = tmp_path / "fork.py"
    script.write_text(FORK_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), workspace.path],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    run = workspace.get_run(out.stdout.strip())
    assert run.get_metrics() == {"parent": [1, 3], "child": 2}
    assert run.status == "Completed"


def test_background_writer_flushes_within_a_second(workspace, experiment):
    """Without any flush call, logged points are in the store within about a second."""
    run = experiment.start_logging()
    run.log("x", 1)
    other = tracklog.store.SQLiteStore(workspace.path)  # a second reader, as another process
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "x" not in other.metric_kinds(run.id):
        time.sleep(0.05)
    assert other.metric_history(run.id, "x")[0].value == 1
    run.complete()
