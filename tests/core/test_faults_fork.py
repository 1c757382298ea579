"""Plain os.fork() while the parent writes: no SQLite state crosses the fork (real forks)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import python_env

pytestmark = pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")

CHILDREN = 24
POINTS = 300

FORK_WHILE_WRITING = textwrap.dedent(
    """
    import json, os, sys, threading, time, tracklog
    run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), "fork").start_logging()
    children, points = int(sys.argv[2]), int(sys.argv[3])
    stop = threading.Event()
    logged = [0]

    def stream():  # the parent's steady stream: its writer is mid-transaction often
        while not stop.is_set():
            run.log("parent", logged[0])
            logged[0] += 1
            if logged[0] % 200 == 0:
                time.sleep(0.001)

    thread = threading.Thread(target=stream)
    thread.start()
    time.sleep(0.5)  # until the writer commits big batches, one after another
    pids = []
    for c in range(children):
        time.sleep(0.03)
        pid = os.fork()
        if pid == 0:
            for j in range(points):
                run.log(f"child{c}", j)
            if c % 2:
                run.flush()
                os._exit(0)
            sys.exit(0)  # the exit phases flush
        pids.append(pid)
    hung, failed = [], []
    deadline = time.monotonic() + 60
    for c, pid in enumerate(pids):
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                if os.waitstatus_to_exitcode(status) != 0:
                    failed.append(c)
                break
            if time.monotonic() > deadline:
                hung.append(c)
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                break
            time.sleep(0.02)
    stop.set()
    thread.join()
    run.complete()
    print(json.dumps({"run": run.id, "hung": hung, "failed": failed, "parent": logged[0]}))
    """
)


def test_children_forked_mid_transaction_all_finish_and_lose_nothing(workspace, tmp_path):
    """24 children forked while the parent's writer commits: none hangs, every point lands."""
    script = tmp_path / "fork_while_writing.py"
    script.write_text(FORK_WHILE_WRITING)
    out = subprocess.run(
        [sys.executable, str(script), workspace.path, str(CHILDREN), str(POINTS)],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["hung"] == [] and result["failed"] == [], (result, out.stderr[-3000:])
    run = workspace.get_run(result["run"])
    assert run.status == "Completed"
    for c in range(CHILDREN):
        steps = [p.step for p in run.get_metric_history(f"child{c}")]
        assert steps == list(range(POINTS)), f"child{c}"
    parent = [p.value for p in run.get_metric_history("parent")]
    assert parent == list(range(result["parent"]))
    with sqlite3.connect(workspace.path + "/tracklog.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
