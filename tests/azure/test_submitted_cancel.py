"""run.cancel() on a submitted script stops the script, as Azure stops the job."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

from tracklog import Experiment, ScriptRunConfig, Workspace

LONG = textwrap.dedent(
    """
    import os, signal, sys, time
    from azureml.core import Run
    if sys.argv[1] == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    run = Run.get_context()
    open("script.pid", "w").write(str(os.getpid()))
    for i in range(600):
        run.log("tick", i)
        time.sleep(0.1)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _submit_and_cancel(tmp_path: Path, mode: str) -> tuple[object, int, float]:
    (tmp_path / "long.py").write_text(LONG)
    run = Experiment(Workspace(), "cancel").submit(
        ScriptRunConfig(source_directory=str(tmp_path), script="long.py", arguments=[mode])
    )
    pid_file = tmp_path / "script.pid"
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) or not run.get_metrics().get("tick"):
        assert time.monotonic() < deadline, "the script did not start"
        time.sleep(0.1)
    started = time.monotonic()
    run.cancel()
    return run, int(pid_file.read_text()), time.monotonic() - started


def test_cancel_stops_the_script_and_the_run_ends_canceled(tmp_path):
    """SIGTERM: the script is gone when cancel() returns; the run is Canceled and takes no more ticks."""
    run, pid, took = _submit_and_cancel(tmp_path, "plain")
    assert not _alive(pid) and took < 5
    assert run.get_status() == "Canceled"
    ticks = len(run.get_metrics()["tick"])
    time.sleep(0.5)
    assert len(run.get_metrics()["tick"]) == ticks
    assert run.wait_for_completion()["status"] == "Canceled"


def test_a_script_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    """A script that ignores SIGTERM gets SIGKILL after TERM_GRACE (5 s); the run is Canceled."""
    run, pid, took = _submit_and_cancel(tmp_path, "ignore")
    assert not _alive(pid) and 4.5 < took < 15
    assert run.get_status() == "Canceled"
