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


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_multiprocessing_children_that_just_return_lose_no_point(tmp_path, workspace, method):
    """multiprocessing ends a child with os._exit, past atexit: its finalizers run first,
    and ours flushes, so 4 x 5,000 points are all stored. A spawned child imports the main
    module (and tracklog with it) before its bootstrap, which runs no after-fork hook."""
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


@pytest.mark.parametrize(("method", "opt_in"), [("fork", False), ("fork", True), ("spawn", False), ("forkserver", False)])
def test_a_pool_left_by_its_with_block_loses_no_point(tmp_path, workspace, method, opt_in):
    """``with Pool() as p`` ends with terminate(), which SIGTERMs the workers idle since
    their last task: each flushes first, then dies of the signal, so every point is kept
    (here the tasks return at once, well inside the writer's flush interval), and the
    block never hangs, with or without end_runs_on in the parent."""
    run = _run_script(tmp_path, workspace, """
        if __name__ == "__main__":
            ws = sys.argv[1]
            if sys.argv[3] == "1":
                tracklog.end_runs_on(signal.SIGTERM)
            run = tracklog.Experiment(tracklog.Workspace(ws), "mp").start_logging()
            with mp.get_context(sys.argv[2]).Pool(4) as pool:
                pool.map(task, [(run.id, ws, f"t{k}") for k in range(4)], chunksize=1)
            run.complete()
            print(run.id)
    """, method, "1" if opt_in else "0")
    assert _counts(run) == {f"t{k}": list(range(5000)) for k in range(4)}
    assert run.status == "Completed"


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_sigterm_the_main_thread_missed_still_flushes_and_ends_the_child(tmp_path, workspace, method):
    """The race behind a Pool that never ends: a SIGTERM taken by another thread of the
    program (or landing just before the main thread blocks in sem_wait) only sets Python's
    flag, and the main thread, blocked on a multiprocessing lock, never runs the handler.
    Ours sees the signal on the wakeup fd and sends it to the main thread again: the child
    flushes its points and dies of SIGTERM, as it would without tracklog."""
    run = _run_script(tmp_path, workspace, """
        import threading

        def stuck(run_id, ws):
            log_points(run_id, ws, "m")
            def stray():  # a program's thread, signals unblocked, takes the process's SIGTERM
                time.sleep(0.2)
                signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
            threading.Thread(target=stray, daemon=True).start()
            lock = mp.get_context("fork").Lock()
            lock.acquire()
            lock.acquire()  # blocked in sem_wait: the stray thread's signal does not interrupt it

        if __name__ == "__main__":
            ws = sys.argv[1]
            run = tracklog.Experiment(tracklog.Workspace(ws), "mp").start_logging()
            child = mp.get_context(sys.argv[2]).Process(target=stuck, args=(run.id, ws))
            child.start()
            child.join(60)
            assert child.exitcode == -signal.SIGTERM, child.exitcode
            run.complete()
            print(run.id)
    """, method)
    assert _counts(run) == {"m": list(range(5000))}


#: A child that logs 1,000 points, says so, then waits to be terminated.
TERMINATED_CHILD = """
def logs_then_waits(run_id, ws, ready, setup):
    exec(setup, globals())
    run = tracklog.Workspace(ws).get_run(run_id)
    for i in range(1000):
        run.log("m", i, step=i)
    ready.set()
    while True:
        time.sleep(0.01)

if __name__ == "__main__":
    ws = sys.argv[1]
    ctx = mp.get_context(sys.argv[2])
    run = tracklog.Experiment(tracklog.Workspace(ws), "mp").start_logging()
    ready = ctx.Event()
    child = ctx.Process(target=logs_then_waits, args=(run.id, ws, ready, sys.argv[3]))
    child.start()
    assert ready.wait(60)
    started = time.monotonic()
    child.terminate()
    child.join(60)
    print("took", time.monotonic() - started, "exitcode", child.exitcode)
    run.complete()
    print(run.id)
"""


def _terminated(tmp_path, workspace, method: str, setup: str) -> tuple[float, int, tracklog.Run]:
    """Run TERMINATED_CHILD: how long terminate() and join() took, the exitcode, the run."""
    path = tmp_path / "mp_script.py"
    path.write_text(MP_HEAD + TERMINATED_CHILD)
    done = subprocess.run(
        [sys.executable, str(path), workspace.path, method, setup],
        env=python_env(), capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    _, took, _, exitcode, run_id = done.stdout.split()
    return float(took), int(exitcode), tracklog.Workspace(workspace.path).get_run(run_id)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_terminate_flushes_then_dies_of_sigterm(tmp_path, workspace, method):
    """Process.terminate() on a child that logged and went on working: what it logged is
    stored, and it still dies of SIGTERM (exitcode -15)."""
    took, exitcode, run = _terminated(tmp_path, workspace, method, "pass")
    assert exitcode == -signal.SIGTERM
    assert _counts(run) == {"m": list(range(1000))}
    assert took < 30


def test_a_terminated_child_whose_flush_hangs_dies_within_the_bound(tmp_path, workspace):
    """A sink that never returns: the SIGTERMed child waits TERMINATION_FLUSH_WAIT for its
    flush (here set to 0.5 s), then dies of the signal all the same: terminate() never hangs."""
    setup = (
        "from tracklog import _lifecycle\n"
        "from tracklog.pipeline import registry\n"
        "_lifecycle.TERMINATION_FLUSH_WAIT = 0.5\n"
        "class Hangs:\n"
        "    def write(self, batch): time.sleep(3600)\n"
        "    def flush(self): pass\n"
        "    def close(self): pass\n"
        "registry.add_global_sink_factory(lambda pipeline: Hangs())\n"
    )
    took, exitcode, _ = _terminated(tmp_path, workspace, "fork", setup)
    assert exitcode == -signal.SIGTERM
    assert took < 5.0


def test_a_childs_own_sigterm_handler_is_left_alone(tmp_path, workspace):
    """A child that set its own SIGTERM handler keeps it: ours is set only over the default."""
    _, exitcode, _ = _terminated(tmp_path, workspace, "fork", "signal.signal(signal.SIGTERM, lambda *a: os._exit(7))")
    assert exitcode == 7


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
