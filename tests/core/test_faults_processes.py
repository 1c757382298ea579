"""Processes that end without atexit, and SIGTERM: multiprocessing children (fork, forkserver),
Pools, DataLoader-style workers, and ``tracklog.end_runs_on`` (real processes and signals)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import tracklog
from tests.conftest import python_env
from tracklog import _lifecycle
from tracklog._lifecycle import Terminated

TIMEOUT = 120

#: The head of every multiprocessing script: a run, and a worker that logs N points and returns.
MP_HEAD = """
import multiprocessing as mp, os, signal, sys, time, tracklog
N = 5000

def log_points(run_id, ws, name, pause=0.0):
    run = tracklog.Workspace(ws).get_run(run_id)
    for i in range(N):
        run.log(name, i, step=i)
    time.sleep(pause)
    return name

def task(args):
    return log_points(*args)
"""


def _run_script(tmp_path, workspace, body: str, *args: str) -> tracklog.Run:
    """Run MP_HEAD + ``body`` as __main__ (it prints its run's id last); the run, reopened."""
    path = tmp_path / "mp_script.py"
    path.write_text(MP_HEAD + textwrap.dedent(body))
    done = subprocess.run(
        [sys.executable, str(path), workspace.path, *args],
        env=python_env(), capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    return tracklog.Workspace(workspace.path).get_run(run_id)


def _counts(run: tracklog.Run) -> dict[str, list[int]]:
    return {name: [p.step for p in run.get_metric_history(name)] for name in run.get_metrics()}


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_multiprocessing_children_that_just_return_lose_no_point(tmp_path, workspace, method):
    """multiprocessing ends a fork or forkserver child with os._exit, past atexit: its
    finalizers run first, and ours flushes, so 4 x 5,000 points are all stored."""
    run = _run_script(tmp_path, workspace, """
        if __name__ == "__main__":
            ws = sys.argv[1]
            ctx = mp.get_context(sys.argv[2])
            run = tracklog.Experiment(tracklog.Workspace(ws), "mp").start_logging()
            children = [ctx.Process(target=log_points, args=(run.id, ws, f"w{k}")) for k in range(4)]
            for child in children:
                child.start()
            for child in children:
                child.join()
            assert [c.exitcode for c in children] == [0] * 4
            run.complete()
            print(run.id)
    """, method)
    assert _counts(run) == {f"w{k}": list(range(5000)) for k in range(4)}
    assert run.status == "Completed"


def test_a_pool_closed_and_joined_loses_no_point(tmp_path, workspace):
    """pool.close(); pool.join(): each worker gets its stop sentinel and returns: nothing lost."""
    run = _run_script(tmp_path, workspace, """
        if __name__ == "__main__":
            ws = sys.argv[1]
            run = tracklog.Experiment(tracklog.Workspace(ws), "mp").start_logging()
            pool = mp.get_context("fork").Pool(4)
            pool.map(task, [(run.id, ws, f"t{k}") for k in range(8)], chunksize=1)
            pool.close()
            pool.join()
            run.complete()
            print(run.id)
    """)
    assert _counts(run) == {f"t{k}": list(range(5000)) for k in range(8)}


@pytest.mark.parametrize("opt_in", [False, True])
def test_a_pool_left_by_its_with_block_keeps_points_older_than_the_flush_interval(tmp_path, workspace, opt_in):
    """``with Pool() as p`` ends with terminate(): a worker still idle then dies of SIGTERM and
    loses what it logged in its last flush interval; points older than that (here: every
    one, the tasks pause 3 s) are kept, and the block never hangs, with or without
    end_runs_on in the parent (forked workers start with SIGTERM at its default)."""
    run = _run_script(tmp_path, workspace, """
        if __name__ == "__main__":
            ws = sys.argv[1]
            if sys.argv[2] == "1":
                tracklog.end_runs_on(signal.SIGTERM)
            run = tracklog.Experiment(tracklog.Workspace(ws), "mp").start_logging()
            with mp.get_context("fork").Pool(4) as pool:
                pool.map(task, [(run.id, ws, f"t{k}", 3.0) for k in range(4)], chunksize=1)
            run.complete()
            print(run.id)
    """, "1" if opt_in else "0")
    assert _counts(run) == {f"t{k}": list(range(5000)) for k in range(4)}
    assert run.status == "Completed"


def test_dataloader_style_workers_lose_no_point(tmp_path, workspace):
    """Daemon workers fed indices through a queue, stopped with None and joined (as a torch
    DataLoader shuts its workers down): every point a worker logged is stored."""
    run = _run_script(tmp_path, workspace, """
        def loader_worker(run_id, ws, rank, indices, results):
            run = tracklog.Workspace(ws).get_run(run_id)
            while True:
                index = indices.get()
                if index is None:
                    return
                run.log(f"sample{rank}", index, step=index)
                results.put(index)

        if __name__ == "__main__":
            ws = sys.argv[1]
            ctx = mp.get_context("fork")
            run = tracklog.Experiment(tracklog.Workspace(ws), "mp").start_logging()
            results = ctx.Queue()
            queues = [ctx.Queue() for _ in range(2)]
            workers = [ctx.Process(target=loader_worker, args=(run.id, ws, r, q, results), daemon=True)
                       for r, q in enumerate(queues)]
            for worker in workers:
                worker.start()
            for i in range(2000):
                queues[i % 2].put(i)
            got = sorted(results.get(timeout=60) for _ in range(2000))
            assert got == list(range(2000))
            for q in queues:
                q.put(None)
            for worker in workers:
                worker.join(timeout=60)
            run.complete()
            print(run.id)
    """)
    counts = _counts(run)
    assert counts == {"sample0": list(range(0, 2000, 2)), "sample1": list(range(1, 2000, 2))}


def test_a_run_started_in_a_multiprocessing_child_ends_with_it(tmp_path, workspace):
    """A child's own run ends when the child does: Completed, or Failed with the traceback
    of the exception that escaped its target (no excepthook sees that one)."""
    path = tmp_path / "own_run.py"
    path.write_text(textwrap.dedent("""
        import multiprocessing as mp, sys, tracklog
        def child(ws, name, fail):
            run = tracklog.Experiment(tracklog.Workspace(ws), "own").start_logging(name)
            run.log("x", 1)
            if fail:
                raise RuntimeError("the child's own failure")
        if __name__ == "__main__":
            ctx = mp.get_context("fork")
            for name, fail in (("ok", False), ("bad", True)):
                p = ctx.Process(target=child, args=(sys.argv[1], name, fail))
                p.start()
                p.join()
    """))
    done = subprocess.run([sys.executable, str(path), workspace.path], env=python_env(),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    runs = {r.name: r for r in tracklog.Workspace(workspace.path).get_runs()}
    assert runs["ok"].status == "Completed" and runs["ok"].get_metrics() == {"x": 1}
    assert runs["bad"].status == "Failed" and runs["bad"].get_metrics() == {"x": 1}
    assert "the child's own failure" in runs["bad"].info.error


# -- SIGTERM in library use --------------------------------------------------------------

SIGTERM_SCRIPT = """
import signal, sys, tracklog
if sys.argv[2] == "opt-in":
    tracklog.end_runs_on(signal.SIGTERM)
run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), "term").start_logging()
print(run.id, flush=True)
n = 0
def loop():
    global n
    while True:
        run.log("loss", n, step=n)
        n += 1
        if n == 20_000:
            print("ready", flush=True)
try:
    if sys.argv[3] == "with":
        with run:
            loop()
    else:
        loop()
finally:
    print("logged", n, flush=True)
"""


def _terminate(tmp_path, workspace, *mode: str) -> tuple[int, list[str], tracklog.Run]:
    path = tmp_path / "term.py"
    path.write_text(SIGTERM_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(path), workspace.path, *mode], env=python_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_id = proc.stdout.readline().strip()
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    return proc.returncode, out.split(), tracklog.Workspace(workspace.path).get_run(run_id)


@pytest.mark.parametrize("shape", ["with", "plain"])
def test_end_runs_on_sigterm_stores_every_point_and_cancels_the_run(tmp_path, workspace, shape):
    """With ``tracklog.end_runs_on(signal.SIGTERM)``, SIGTERM unwinds the program (finally
    runs), the run ends Canceled, every point logged before it is stored, exit status 143."""
    code, out, run = _terminate(tmp_path, workspace, "opt-in", shape)
    assert code == 128 + signal.SIGTERM
    assert out[-2] == "logged"
    logged = int(out[-1])
    steps = [p.step for p in run.get_metric_history("loss")]
    assert steps == list(range(len(steps)))
    assert logged <= len(steps) <= logged + 1  # the signal may land between log() and n += 1
    assert run.status == "Canceled"


def test_without_the_opt_in_sigterm_kills_and_the_run_reads_crashed(tmp_path, workspace):
    """By default SIGTERM kills as before: no finally, the last moments lost, and the run
    reads Crashed once its owner's pid is gone."""
    code, out, run = _terminate(tmp_path, workspace, "default", "plain")
    assert code == -signal.SIGTERM
    assert "logged" not in out
    assert run.status == "Crashed"


def test_end_runs_on_chains_to_the_previous_handler_and_gives_it_back():
    """A Python handler set before end_runs_on runs first; after the signal it is back."""
    calls = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    try:
        tracklog.end_runs_on(signal.SIGTERM)
        tracklog.end_runs_on(signal.SIGTERM)  # twice is once
        with pytest.raises(Terminated) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs in here
        assert caught.value.code == 128 + signal.SIGTERM
        assert isinstance(caught.value, KeyboardInterrupt)  # with blocks cancel their runs
        assert calls == [signal.SIGTERM]
        os.kill(os.getpid(), signal.SIGTERM)  # the previous handler alone now
        time.sleep(0.1)
        assert calls == [signal.SIGTERM, signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)
        _lifecycle.set_uncaught(None)
