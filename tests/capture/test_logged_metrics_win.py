"""A metric the job logs in-process wins over the same name read from its printed output."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.capture.capture_support import TIMEOUT, env, only_run, output_lines, script, tracklog_run

import tracklog


def _series(ws) -> dict[str, list[tuple[int, object]]]:
    run = only_run(ws)
    store = run.workspace.store
    return {name: [(p.step, p.value) for p in store.metric_history(run.id, name)] for name in store.metric_kinds(run.id)}


def test_structlog_logfmt_on_stdout_is_recorded_once(tmp_path):
    """RunProcessor records loss and acc; the logfmt lines it renders to stdout add nothing."""
    job = script(tmp_path, "job.py", """
        import structlog
        from tracklog.handlers import RunProcessor
        structlog.configure(processors=[RunProcessor(metrics=["loss", "acc"]), structlog.processors.LogfmtRenderer()])
        for s in range(3):
            structlog.get_logger().info("epoch", loss=0.3, acc=0.9, step=s)
    """)
    done = tracklog_run(tmp_path / "ws", sys.executable, job, options=("--quiet",))
    assert done.returncode == 0, done.stderr
    assert _series(tmp_path / "ws") == {"loss": [(0, 0.3), (1, 0.3), (2, 0.3)], "acc": [(0, 0.9), (1, 0.9), (2, 0.9)]}
    lines = [line.data for line in output_lines(only_run(tmp_path / "ws"), "stdout")]
    assert len(lines) == 3 and all(b"loss=0.3" in line for line in lines)  # the output stays as printed


def test_the_mlflow_swap_s_precise_value_wins_over_the_printed_one(tmp_path):
    """log_metric's full-precision value is kept; the rounded printed copy is not recorded."""
    job = script(tmp_path, "job.py", """
        import tracklog as mlflow
        for e in range(3):
            l = 1 / (e + 3)
            mlflow.log_metric("loss", l, step=e)
            print(f"epoch={e} loss={l:.4f}")
    """)
    done = tracklog_run(tmp_path / "ws", sys.executable, job, options=("--quiet",))
    assert done.returncode == 0, done.stderr
    assert _series(tmp_path / "ws") == {"loss": [(0, 1 / 3), (1, 1 / 4), (2, 1 / 5)]}
    stdout = [line.data for line in output_lines(only_run(tmp_path / "ws"), "stdout")]
    assert stdout == [b"epoch=0 loss=0.3333", b"epoch=1 loss=0.2500", b"epoch=2 loss=0.2000"]


def test_a_mixed_job_keeps_the_logged_metric_once_and_the_printed_only_one(tmp_path):
    """loss is logged and printed (kept once, precise); acc is only printed (read from the output)."""
    job = script(tmp_path, "job.py", """
        import time
        import tracklog
        for e in range(4):
            tracklog.log_metric("loss", 1 / (e + 3), step=e)
            print(f"epoch={e} loss={1 / (e + 3):.2f} acc={0.5 + e / 10}", flush=True)
            time.sleep(0.6)  # past the hold: decided while the job runs, not only at its end
    """)
    done = tracklog_run(tmp_path / "ws", sys.executable, job, options=("--quiet",))
    assert done.returncode == 0, done.stderr
    assert _series(tmp_path / "ws") == {
        "loss": [(e, 1 / (e + 3)) for e in range(4)],
        "acc": [(0, 0.5), (1, 0.6), (2, 0.7), (3, 0.8)],
    }


def test_a_print_only_job_is_read_as_before_and_live(tmp_path):
    """With nothing logged in-process, printed metrics are recorded while the job still runs."""
    go = tmp_path / "go"
    job = script(tmp_path, "job.py", f"""
        import os, time
        print("step=0 loss=0.5", flush=True)
        while not os.path.exists({str(go)!r}):
            time.sleep(0.05)
        print("loss: 0.25 - accuracy: 0.75")
    """)
    ws = tmp_path / "ws"
    argv = [sys.executable, "-m", "tracklog", "--workspace", str(ws), "run", "--quiet", "--", sys.executable, str(job)]
    proc = subprocess.Popen(argv, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        seen = False
        while time.monotonic() < deadline and not seen:
            time.sleep(0.1)
            runs = list(tracklog.Workspace(ws).get_runs()) if (ws / "tracklog.db").exists() else []
            seen = bool(runs) and [p.value for p in runs[0].workspace.store.metric_history(runs[0].id, "loss")] == [0.5]
        assert seen, "the printed point was not in the store while the job ran"
        go.touch()
        assert proc.wait(TIMEOUT) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _series(ws) == {"loss": [(0, 0.5), (1, 0.25)], "accuracy": [(0, 0.75)]}


def test_a_launcher_s_ranks_logging_in_process_are_not_doubled_by_their_output(tmp_path):
    """Two ranks log and print loss; the run holds each rank's points once."""
    worker = script(tmp_path, "worker.py", """
        import tracklog
        for s in range(3):
            tracklog.log_metric("loss", 0.1 + s, step=s)
            print(f"step={s} loss={0.1 + s}", flush=True)
    """)
    launcher = script(tmp_path, "launch.sh", f"""
        RANK=0 {sys.executable} {worker} &
        RANK=1 {sys.executable} {worker} &
        wait
    """)
    done = tracklog_run(tmp_path / "ws", "sh", launcher, options=("--quiet",))
    assert done.returncode == 0, done.stderr
    run = only_run(tmp_path / "ws")
    points = run.workspace.store.metric_history(run.id, "loss")
    assert sorted((p.rank, p.step, p.value) for p in points) == [
        (rank, s, 0.1 + s) for rank in (0, 1) for s in range(3)
    ]
    assert len(output_lines(run, "stdout")) == 6


def test_a_name_logged_only_later_is_read_from_the_output_until_then(tmp_path):
    """Printed alone at first, loss is read from the output; once logged in-process, only once a step."""
    job = script(tmp_path, "job.py", """
        import time
        import tracklog
        for s in range(8):
            if s >= 5:
                tracklog.log_metric("loss", 1 / (s + 1), step=s)
            print(f"step={s} loss={1 / (s + 1):.3f}", flush=True)
            time.sleep(0.5)
    """)
    done = tracklog_run(tmp_path / "ws", sys.executable, job, options=("--quiet",))
    assert done.returncode == 0, done.stderr
    loss = _series(tmp_path / "ws")["loss"]
    steps = [step for step, _ in loss]
    assert len(steps) == len(set(steps))  # no step twice
    assert loss[:2] == [(0, 1.0), (1, 0.5)]  # printed only: read from the output
    assert loss[-3:] == [(5, 1 / 6), (6, 1 / 7), (7, 1 / 8)]  # the in-process values
