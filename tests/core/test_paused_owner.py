"""A run whose owner was only paused (SIGSTOP, Ctrl-Z, a sleeping laptop) comes back to Running."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import tracklog

VICTIM = textwrap.dedent(
    """
    import sys, time, tracklog
    run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), "paused").start_logging("victim")
    open(sys.argv[2], "w").write(run.id)
    for step in range(40):
        run.log("loss", 1 / (step + 1), step=step)
        time.sleep(0.25)
    run.complete()
    """
)


def _wait_for(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_run_marked_crashed_while_its_owner_was_stopped_is_running_again_when_it_beats(tmp_path: Path):
    """Stopped past the heartbeat timeout, the run reads Crashed; once its process continues and
    beats again it is Running, and it ends Completed with every point."""
    ws_path, ids = tmp_path / "ws", tmp_path / "run_id.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKLOG_", "MLFLOW_"))}
    proc = subprocess.Popen([sys.executable, "-c", VICTIM, str(ws_path), str(ids)], env=env)
    try:
        _wait_for(lambda: ids.exists() and bool(ids.read_text()), 120)
        run_id = ids.read_text()
        proc.send_signal(signal.SIGSTOP)
        # The pause outlasts the timeout: its last heartbeat is an hour old.
        with sqlite3.connect(ws_path / "tracklog.db") as db:
            db.execute("UPDATE runs SET heartbeat = ? WHERE run_id = ?", (time.time() - 3600, run_id))
        ws = tracklog.Workspace(ws_path)
        assert ws.get_run(run_id).status == "Crashed"
        proc.send_signal(signal.SIGCONT)
        _wait_for(lambda: ws.get_run(run_id).status == "Running", 30)
        assert ws.get_run(run_id).info.end_time is None
        assert proc.wait(120) == 0
    finally:
        proc.kill()
        proc.wait()
    run = ws.get_run(run_id)
    assert run.status == "Completed"
    assert [p.step for p in run.get_metric_history("loss")] == list(range(40))


def test_a_failed_run_stays_failed_when_its_owner_beats(tmp_path: Path):
    """Only the liveness check's Crashed is undone by a heartbeat: a real failure stays Failed."""
    ws = tracklog.Workspace(tmp_path / "ws")
    run = tracklog.Experiment(ws, "failing").start_logging("f")
    run.fail("boom")
    ws.store.heartbeat([run.id], time.time())
    assert ws.get_run(run.id).status == "Failed"
