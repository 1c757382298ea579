"""Active runs are per thread, as MLflow's; a thread with no run of its own logs into the
run another thread made active (a thread pool, a DataLoader thread), never a stray one."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import tracklog
from tests.conftest import python_env
from tracklog.handlers import RunHandler


def _in_threads(*targets):
    errors: list[BaseException] = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)
        return run

    threads = [threading.Thread(target=guarded(fn)) for fn in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors


def test_two_threads_each_in_their_own_run_keep_their_points_apart(tmp_path):
    """Each thread's start_run is its own active run: not refused, not mixed."""
    tracklog.set_tracking_uri(str(tmp_path / "ws"))
    both_started = threading.Barrier(2)
    ids: dict[str, str] = {}

    def worker(name):
        def body():
            with tracklog.start_run(run_name=name) as run:
                ids[name] = run.id
                both_started.wait(10)  # both runs are active at once
                for step in range(50):
                    tracklog.log_metric("loss", float(step), step=step)
                    tracklog.log_metric(name, 1.0, step=step)
                assert tracklog.active_run().id == run.id
        return body

    _in_threads(worker("a"), worker("b"))
    assert tracklog.active_run() is None
    ws = tracklog.Workspace(tmp_path / "ws")
    for name, other in (("a", "b"), ("b", "a")):
        metrics = ws.get_run(ids[name]).get_metrics()
        assert metrics["loss"] == [float(s) for s in range(50)]
        assert name in metrics and other not in metrics
        assert ws.get_run(ids[name]).status == "Completed"
    assert len(list(ws.get_experiment("Default").get_runs())) == 2


def test_a_thread_pool_logs_into_the_run_the_main_thread_started(tmp_path):
    """Workers with no run of their own log (fluent calls and logging records) into the
    main thread's run; it is not their active run, so their end_run() leaves it alone."""
    tracklog.set_tracking_uri(str(tmp_path / "ws"))
    logging.getLogger().addHandler(RunHandler())
    logging.getLogger().setLevel(logging.INFO)
    log = logging.getLogger("worker")

    def work(i):
        tracklog.log_metric("fluent", float(i), step=i)
        log.info("batch done", extra={"metric": "logged", "value": float(i), "step": i})
        seen = tracklog.active_run()
        tracklog.end_run()
        return seen

    with tracklog.start_run() as run:
        with ThreadPoolExecutor(4) as pool:
            seen = list(pool.map(work, range(20)))
        assert tracklog.active_run().id == run.id
    assert seen == [None] * 20
    ws = tracklog.Workspace(tmp_path / "ws")
    fetched = ws.get_run(run.id)
    assert fetched.status == "Completed"
    metrics = fetched.get_metrics()
    assert sorted(metrics["fluent"]) == [float(i) for i in range(20)]
    assert sorted(metrics["logged"]) == [float(i) for i in range(20)]
    assert len(list(ws.get_experiment("Default").get_runs())) == 1


def test_a_run_ended_by_its_thread_is_current_nowhere(tmp_path):
    """A run its own thread ended is no other thread's fallback; the next one started is."""
    tracklog.set_tracking_uri(str(tmp_path / "ws"))
    started = threading.Event()
    finish = threading.Event()
    ids = {}

    def owner():
        with tracklog.start_run(run_name="owner") as run:
            ids["owner"] = run.id
            started.set()
            finish.wait(10)

    thread = threading.Thread(target=owner)
    thread.start()
    started.wait(10)
    assert tracklog.active_run() is None  # another thread's run is not this thread's
    with tracklog.start_run(run_name="main") as mine:  # and does not refuse one of its own
        tracklog.log_metric("m", 1.0)
    finish.set()
    thread.join(10)
    assert tracklog.Run.get_context(allow_offline=True).id not in (ids["owner"], mine.id)
    ws = tracklog.Workspace(tmp_path / "ws")
    assert ws.get_run(mine.id).get_metrics() == {"m": 1.0}
    assert ws.get_run(ids["owner"]).get_metrics() == {}


def _blocked_signals(native_id: int) -> int:
    with open(f"/proc/self/task/{native_id}/status") as status:
        line = next(line for line in status if line.startswith("SigBlk:"))
    return int(line.split()[1], 16)


def test_tracklogs_threads_leave_process_signals_to_the_main_thread(tmp_path):
    """A SIGTERM or SIGINT sent to the process is never taken by a thread of ours (which
    would leave a main thread blocked in C, a Pool worker on its queue's lock, never
    running its handler): the writer and the capture thread block them, the main thread
    does not, and a thread the program starts later has its usual mask."""
    import signal
    import sys

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    run = tracklog.Experiment(tracklog.Workspace(str(tmp_path / "ws")), "signals").start_logging()
    with tracklog.capture_output(fd=True):
        run.log("m", 1.0)
        run.flush()
        ours = [t for t in threading.enumerate() if t.name in ("tracklog-writer", "tracklog-fd-capture")]
        assert {t.name for t in ours} == {"tracklog-writer", "tracklog-fd-capture"}
        for thread in ours:
            mask = _blocked_signals(thread.native_id)
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
                assert mask & (1 << (signum - 1)), (thread.name, signum)
            assert not mask & (1 << (signal.SIGSEGV - 1))
        main_mask = _blocked_signals(threading.main_thread().native_id)
        assert not main_mask & (1 << (signal.SIGTERM - 1))
        masks: list[int] = []
        later = threading.Thread(target=lambda: masks.append(_blocked_signals(threading.get_native_id())))
        later.start()
        later.join()
        assert masks == [main_mask]
    run.complete()


_DAEMON_AT_EXIT = """
import logging, sys, threading, time, tracklog
from tracklog.handlers import RunHandler
tracklog.set_tracking_uri(sys.argv[1])
logging.basicConfig(level=logging.INFO, handlers=[RunHandler()])
log = logging.getLogger("prefetch")
run = tracklog.start_run(run_name="train")
def heartbeat():
    i = 0
    while True:
        log.info("beat", extra={"metric": "beat", "value": i, "step": i})
        i += 1
        time.sleep(0.001)
threading.Thread(target=heartbeat, daemon=True).start()
time.sleep(0.3)
"""


def test_a_daemon_thread_logging_through_exit_starts_no_other_run(tmp_path):
    """Once exit has ended the process's runs, a daemon thread's records start no run on
    first use (nobody would end it: it would read Crashed); they go nowhere."""
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", _DAEMON_AT_EXIT, str(tmp_path / "ws")],
                              env=python_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    runs = tracklog.Workspace(tmp_path / "ws", create=False).get_runs()
    assert sorted((r.name, r.get_status()) for r in runs) == [("train", "Completed")] * 3
    assert all(r.get_metric_history("beat") for r in runs)
