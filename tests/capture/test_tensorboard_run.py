"""``tracklog run`` watches for TensorBoard event files and syncs them live into the run."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.capture.capture_support import (
    PYTHON,
    TIMEOUT,
    env,
    runs,
    script,
    tracklog_run,
)
from tests.capture.tensorboard_support import (  # noqa: F401
    FALLBACK_WARNING,
    reader,
    reader_env,
    scalar_event,
    tb_cli,
    write_events,
)
from tracklog.capture._tensorboard import TAG_DIR

#: A training script as people write it, with a pause (until ./go exists) so the test can look mid-run.
TRAIN = """
    import os, time
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(flush_secs=1)
    for step in range(3):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.flush()
    deadline = time.time() + 120
    while not os.path.exists("go") and time.time() < deadline:
        time.sleep(0.05)
    for step in range(3, 6):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.add_scalars("pair", {"a": 1.0, "b": 2.0}, 5)
    writer.close()
    print("trained")
"""


def _wait_for(check, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not seen within {timeout} s")


@pytest.mark.usefixtures("reader")
def test_a_summarywriter_jobs_scalars_chart_while_it_runs_and_all_are_there_at_the_end(tmp_path):
    pytest.importorskip("torch.utils.tensorboard")
    work = tmp_path / "job"
    work.mkdir()
    train = script(work, "train_with_summarywriter.py", TRAIN)
    ws = tmp_path / "ws"
    argv = [PYTHON, "-m", "tracklog", "--workspace", str(ws), "run", "--", PYTHON, str(train)]
    proc = subprocess.Popen(argv, cwd=work, env=env(**reader_env()), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def three_points():  # type: ignore[no-untyped-def]
            if not (ws / "tracklog.db").exists():
                return None
            for run in runs(ws):
                if run.name == "train_with_summarywriter.py" and len(run.get_metric_history("loss")) == 3:
                    return run
            return None

        run = _wait_for(three_points)
        assert run.status == "Running"  # seen live, not after the fact
        (work / "go").touch()
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert FALLBACK_WARNING.encode() not in err
    assert b"trained" in out
    assert run.status == "Completed"
    assert [p.step for p in run.get_metric_history("loss")] == [0, 1, 2, 3, 4, 5]
    (logdir,) = (work / "runs").iterdir()
    assert run.get_tags()[TAG_DIR] == str(logdir)
    children = {child.name: child for child in run.get_children()}
    assert sorted(children) == ["pair_a", "pair_b"]  # add_scalars writes one directory per key
    assert children["pair_b"].get_metric_history("pair")[0].value == 2.0
    assert all(child.status == "Completed" for child in children.values())


WRITE = """
    import sys
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(sys.argv[1])
    for step in range(4):
        writer.add_scalar("acc", step / 4, step)
    writer.close()
"""


@pytest.mark.usefixtures("reader")
def test_event_files_from_earlier_jobs_are_left_alone(tmp_path):
    pytest.importorskip("tensorboardX")
    work = tmp_path / "job"
    write_events(work / "old" / "events.out.tfevents.1.host", [scalar_event("old_loss", 1.0, 0)])
    writer = script(work, "write.py", WRITE)
    result = tracklog_run(tmp_path / "ws", PYTHON, writer, "new", cwd=work, extra_env=reader_env())
    assert result.returncode == 0, result.stderr.decode()
    assert FALLBACK_WARNING.encode() not in result.stderr
    (run,) = runs(tmp_path / "ws")
    assert set(run.get_metrics()) == {"acc"}
    assert run.get_tags()[TAG_DIR] == str(work / "new")


@pytest.mark.usefixtures("reader")
def test_jobs_that_reuse_one_log_folder_each_keep_their_own_files_and_an_ingest_adds_nothing(tmp_path):
    # SummaryWriter("logs") in every run of the script: both jobs write into one folder.
    pytest.importorskip("tensorboardX")
    work = tmp_path / "job"
    writer = script(work, "write.py", WRITE)
    ws = tmp_path / "ws"
    for _ in range(2):
        result = tracklog_run(ws, PYTHON, writer, "logs", cwd=work, extra_env=reader_env())
        assert result.returncode == 0, result.stderr.decode()
        time.sleep(1.1)  # tensorboardX names its file by the second
    first, second = sorted(runs(ws), key=lambda run: run.info.start_time)
    assert len(list((work / "logs").glob("*tfevents*"))) == 2
    assert [p.step for p in first.get_metric_history("acc")] == [0, 1, 2, 3]
    assert [p.step for p in second.get_metric_history("acc")] == [0, 1, 2, 3]
    done = tb_cli(ws, "ingest", "--tensorboard", str(work / "logs"))
    assert done.returncode == 0, done.stderr.decode()
    assert b"nothing new" in done.stderr
    assert [p.step for p in second.get_metric_history("acc")] == [0, 1, 2, 3]
    assert len(list(runs(ws))) == 2


def test_no_tensorboard_turns_watching_off(tmp_path):
    pytest.importorskip("tensorboardX")
    work = tmp_path / "job"
    writer = script(work, "write.py", WRITE)
    result = tracklog_run(tmp_path / "ws", PYTHON, writer, "tb", cwd=work, options=("--no-tensorboard",))
    assert result.returncode == 0, result.stderr.decode()
    (run,) = runs(tmp_path / "ws")
    assert run.get_metrics() == {}
    assert TAG_DIR not in run.get_tags()


@pytest.mark.usefixtures("reader")
def test_tensorboard_dir_watches_a_folder_outside_the_working_directory(tmp_path):
    pytest.importorskip("tensorboardX")
    work = tmp_path / "job"
    elsewhere = tmp_path / "shared" / "tb"
    writer = script(work, "write.py", WRITE)
    options = ("--tensorboard", str(tmp_path / "shared"))
    result = tracklog_run(
        tmp_path / "ws", PYTHON, writer, str(elsewhere), cwd=work, options=options, extra_env=reader_env()
    )
    assert result.returncode == 0, result.stderr.decode()
    assert FALLBACK_WARNING.encode() not in result.stderr
    (run,) = runs(tmp_path / "ws")
    assert [p.value for p in run.get_metric_history("acc")] == [0.0, 0.25, 0.5, 0.75]


@pytest.mark.usefixtures("reader")
def test_a_watcher_costs_little_while_nothing_changes(tmp_path):
    """Polling stats known files only: a second of watching a quiet tree takes a small share of a CPU."""
    from tracklog import Experiment, Workspace
    from tracklog.capture import TensorBoardSync, TensorBoardWatcher

    for i in range(200):
        (tmp_path / "data" / str(i % 20)).mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / str(i % 20) / f"f{i}.bin").write_bytes(b"x")
    write_events(tmp_path / "tb" / "events.out.tfevents.1.host", [scalar_event("loss", 1.0, 0)])
    run = Experiment(Workspace(tmp_path / "ws"), "w").start_logging("quiet")
    watcher = TensorBoardWatcher(TensorBoardSync(run, str(tmp_path)))
    watcher.start()
    started = time.process_time()
    time.sleep(2.0)
    used = time.process_time() - started
    watcher.stop()
    assert run.get_metrics("loss") == {"loss": 1.0}
    assert used < 1.0  # generous: typically a few hundredths of a second


@pytest.mark.usefixtures("reader")
def test_stopping_a_watcher_syncs_what_was_written_since_its_last_poll(tmp_path):
    """The last sync at the child's exit: records written after the last poll are not lost."""
    from tracklog import Experiment, Workspace
    from tracklog.capture import TensorBoardSync, TensorBoardWatcher

    run = Experiment(Workspace(tmp_path / "ws"), "w").start_logging("last")
    watcher = TensorBoardWatcher(TensorBoardSync(run, str(tmp_path / "job"), skip_existing=True), poll=3600)
    watcher.start()
    write_events(tmp_path / "job" / "tb" / "events.out.tfevents.1.host", [scalar_event("loss", 0.5, 9)])
    counts = watcher.stop()
    assert counts.points == 1
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(9, 0.5)]


#: ``tracklog run`` in this interpreter, then the names of the loaded modules at the very end, to $MODULES.
_RUN_AND_RECORD = """
import atexit, json, os, runpy, sys
atexit.register(lambda: json.dump(sorted(sys.modules), open(os.environ["MODULES"], "w")))
sys.argv = ["tracklog", *sys.argv[1:]]
try:
    runpy.run_module("tracklog", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    print("exit", exc.code)
"""


@pytest.mark.parametrize("writes_events", [False, True])
def test_tensorboards_protobuf_loads_when_the_first_event_file_is_read_not_before(tmp_path, writes_events):
    """Watching is on, yet a job with no event files never loads protobuf; the first file read does (auto)."""
    pytest.importorskip("tensorboard")
    work = tmp_path / "job"
    writer = script(work, "write.py", WRITE if writes_events else "print('no summaries')\n")
    modules = tmp_path / "modules.json"
    argv = [PYTHON, "-c", _RUN_AND_RECORD, "--workspace", str(tmp_path / "ws"), "run", "--", PYTHON, str(writer), "tb"]
    done = subprocess.run(
        argv, check=False, cwd=work, env=env(MODULES=str(modules)), capture_output=True, timeout=TIMEOUT
    )
    assert b"exit 0" in done.stdout, done.stderr.decode()
    loaded = set(json.loads(modules.read_text()))
    assert ("tensorboard.compat.proto.event_pb2" in loaded) is writes_events
    assert ("google.protobuf" in loaded) is writes_events
    assert not any(name == "tensorflow" or name.startswith("tensorflow.") for name in loaded)
    (run,) = runs(tmp_path / "ws")
    assert len(run.get_metric_history("acc")) == (4 if writes_events else 0)
