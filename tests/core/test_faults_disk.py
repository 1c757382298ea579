"""The embedded store on a real full disk (a small tmpfs), under a file-size limit, on a
read-only mount, with a damaged or a deleted database, and after a normal exit."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tracklog
from tests.conftest import python_env
from tracklog import WorkspaceError


class _Disk:
    """A real 4 MiB tmpfs: filled with a ballast file, freed, remounted read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ballast = path / "ballast"

    def remount(self, *options: str) -> None:
        subprocess.run(["mount", "-o", ",".join(["remount", *options]), str(self.path)], check=True)


def _mount_tmpfs(path: Path) -> str | None:
    """Mount a tmpfs at ``path``; the reason it could not be, or None."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root (CAP_SYS_ADMIN)"
    if shutil.which("mount") is None:
        return "no mount command"
    out = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)], capture_output=True, text=True
    )
    return None if out.returncode == 0 else f"cannot mount a tmpfs here: {out.stderr.strip()}"


@pytest.fixture
def small_disk(tmp_path):
    """A real, small tmpfs, unmounted after the test (skipped where none can be mounted)."""
    path = tmp_path / "disk"
    path.mkdir()
    reason = _mount_tmpfs(path)
    if reason:
        pytest.skip(reason)
    try:
        yield _Disk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _run(script: str, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        env=python_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _result(out: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _tracklog_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "tracklog" in line]


# The caller's side of a full disk: every call timed, every exception counted.
FULL_DISK = textwrap.dedent(
    """
    import json, logging, os, sys, time, tracklog
    from tracklog.handlers import RunHandler
    ws_path, disk, during, space_returns = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
    logging.basicConfig(level=logging.INFO, handlers=[logging.StreamHandler(), RunHandler()])
    log = logging.getLogger("app")
    run = tracklog.Experiment(tracklog.Workspace(ws_path), "full").start_logging()
    for i in range(1000):
        run.log("before", i)
    run.flush()
    ballast = os.path.join(disk, "ballast")
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT)
    for size in (65536, 4096, 512, 1):
        try:
            while True:
                os.write(fd, b"\\0" * size)
        except OSError:
            pass
    os.close(fd)
    waits, errors = {}, []

    def timed(name, fn, *args, **kwargs):
        start = time.monotonic()
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            errors.append(repr(exc))
        waits[name] = max(waits.get(name, 0.0), time.monotonic() - start)

    for i in range(during):
        timed("log", run.log, "during", i)
        if i % 10 == 0:
            timed("logging", log.info, "line %d", i, extra={"metric": "lined", "value": i})
    timed("log_param", run.log_param, "lr", 0.1)
    timed("flush", run.flush)
    readable = len(run.get_metric_history("before"))
    if space_returns:
        os.unlink(ballast)
        for i in range(100):
            timed("log", run.log, "after", i)
    timed("complete", run.complete)
    print(json.dumps({"run": run.id, "waits": waits, "errors": errors, "readable": readable}))
    """
)


def test_disk_full_mid_run_warns_once_never_blocks_and_resumes_when_space_returns(small_disk):
    """A full disk: one warning, no call waits long or raises, what was stored stays readable,
    and once space returns every point and line logged meanwhile is written."""
    ws = small_disk.path / "ws"
    out = _run(FULL_DISK, str(ws), str(small_disk.path), "20000", "1")
    result = _result(out)
    assert result["errors"] == []
    assert result["readable"] == 1000
    waits = result["waits"]
    # Before: one run.log blocked 30 s and complete() raised after 40-70 s.
    assert waits["log"] < 2 and waits["logging"] < 2 and waits["log_param"] < 2
    assert waits["flush"] < 10 and waits["complete"] < 10
    assert "Traceback" not in out.stderr, out.stderr[-4000:]
    lines = _tracklog_lines(out.stderr)
    assert sum("cannot be written" in line for line in lines) == 1, lines
    assert len(lines) <= 4, lines  # before: millions of lines
    run = tracklog.Workspace(ws).get_run(result["run"])
    assert run.status == "Completed"
    metrics = run.get_metrics()
    assert len(metrics["before"]) == 1000 and len(metrics["during"]) == 20000
    assert len(metrics["lined"]) == 2000 and len(metrics["after"]) == 100
    assert run.get_params() == {"lr": "0.1"}
    logged = [r for r in run.get_logs(logger="app") if r["message"].startswith("line ")]
    assert len(logged) == 2000


def test_disk_full_through_exit_says_what_was_lost_and_the_workspace_stays_readable(small_disk):
    """The disk stays full until exit: the process ends promptly with one warning counting
    the events lost, and the runs stored before read back, on the full disk too."""
    ws = small_disk.path / "ws"
    out = _run(FULL_DISK, str(ws), str(small_disk.path), "5000", "0", timeout=120)
    result = _result(out)
    assert result["errors"] == []
    assert result["waits"]["complete"] < 10
    assert "Traceback" not in out.stderr, out.stderr[-4000:]
    lost = [line for line in _tracklog_lines(out.stderr) if "events are lost" in line]
    assert len(lost) == 1, out.stderr[-3000:]
    reader = _run(
        "import sys, tracklog; run = tracklog.Workspace(sys.argv[1]).get_run(sys.argv[2]); "
        "print(run.status, len(run.get_metric_history('before')))",
        str(ws),
        result["run"],
    )
    assert reader.returncode == 0, reader.stderr
    # Its end could not be written: the run reads as Crashed, its points are all there.
    assert reader.stdout.split() == ["Crashed", "1000"]


SMALL_QUEUE = textwrap.dedent(
    """
    import json, os, sys, time, tracklog
    ws_path, disk = sys.argv[1], sys.argv[2]
    run = tracklog.Experiment(tracklog.Workspace(ws_path), "full").start_logging()
    run.log("before", 0)
    run.flush()
    ballast = os.path.join(disk, "ballast")
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT)
    for size in (65536, 4096, 512, 1):
        try:
            while True:
                os.write(fd, b"\\0" * size)
        except OSError:
            pass
    os.close(fd)
    for i in range(20000):
        run.log("during", i)
    run.flush()
    os.unlink(ballast)
    run.complete()
    print(json.dumps({"run": run.id}))
    """
)


def test_what_a_stalled_queue_could_not_keep_is_counted_in_one_warning(small_disk):
    """Queue capacity 2,000 and a full disk: logging goes on, the oldest events are written
    when space returns, and the warning's count is exactly what is missing."""
    ws = small_disk.path / "ws"
    out = _run(SMALL_QUEUE, str(ws), str(small_disk.path), TRACKLOG_QUEUE_CAPACITY="2000")
    result = _result(out)
    lines = [line for line in _tracklog_lines(out.stderr) if "could not be kept" in line]
    assert len(lines) == 1, out.stderr[-3000:]
    lost = int(lines[0].split(" events logged meanwhile")[0].rsplit(" ", 1)[-1])
    kept = [p.value for p in tracklog.Workspace(ws).get_run(result["run"]).get_metric_history("during")]
    assert lost > 0 and len(kept) + lost == 20000
    assert kept == list(range(len(kept)))  # the oldest were kept, in order


FILE_SIZE_LIMIT = textwrap.dedent(
    """
    import json, os, resource, sys, time, tracklog
    ws_path = sys.argv[1]
    run = tracklog.Experiment(tracklog.Workspace(ws_path), "fsize").start_logging()
    for i in range(1000):
        run.log("before", i)
    run.flush()
    used = sum(os.path.getsize(os.path.join(ws_path, f)) for f in os.listdir(ws_path))
    # SIGXFSZ is ignored by Python: writes past the limit fail with EFBIG.
    resource.setrlimit(resource.RLIMIT_FSIZE, (used + 20000, resource.RLIM_INFINITY))
    worst = 0.0
    for i in range(50000):
        start = time.monotonic()
        run.log("during", i)
        worst = max(worst, time.monotonic() - start)
    run.flush()
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    run.log("after", 1)
    run.complete()
    print(json.dumps({"run": run.id, "worst": worst}))
    """
)


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="no RLIMIT_FSIZE here")
def test_file_size_limit_stalls_the_writer_and_logging_resumes_when_it_rises(workspace):
    """ulimit -f: EFBIG is a stall with one warning, not an error per event; nothing is lost
    once the limit rises."""
    out = _run(FILE_SIZE_LIMIT, workspace.path)
    result = _result(out)
    assert result["worst"] < 2
    assert "Traceback" not in out.stderr, out.stderr[-4000:]
    lines = _tracklog_lines(out.stderr)
    assert len(lines) == 1 and "cannot be written" in lines[0], out.stderr[-3000:]
    run = workspace.get_run(result["run"])
    metrics = run.get_metrics()
    assert len(metrics["before"]) == 1000 and len(metrics["during"]) == 50000 and metrics["after"] == 1
    assert run.status == "Completed"


def _make_workspace(path: Path) -> str:
    out = _run(
        "import sys, tracklog\n"
        "run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), 'ro').start_logging()\n"
        "for i in range(100): run.log('x', i)\n"
        "run.complete(); print(run.id)",
        str(path),
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


READ_ONLY = textwrap.dedent(
    """
    import json, sys, tracklog
    ws = tracklog.Workspace(sys.argv[1])
    runs = list(tracklog.Experiment(ws, "ro").get_runs())
    summaries = ws.engine.store.series_reader().summaries(runs[0].id)
    try:
        tracklog.Experiment(ws, "ro").start_logging()
        refused = ""
    except tracklog.WorkspaceError as exc:
        refused = str(exc)
    print(json.dumps({"runs": [[r.id, r.status, len(r.get_metric_history("x"))] for r in runs],
                      "charted": [s.name for s in summaries], "refused": refused}))
    """
)


def test_a_read_only_workspace_opens_for_reading(small_disk):
    """On a read-only mount: Workspace(), get_runs, metrics, chart reads and `tracklog ls`
    work; starting a run is a WorkspaceError saying the workspace is read-only."""
    ws = small_disk.path / "ws"
    run_id = _make_workspace(ws)
    small_disk.remount("ro")
    result = _result(_run(READ_ONLY, str(ws)))
    assert result["runs"] == [[run_id, "Completed", 100]]
    assert result["charted"] == ["x"]
    assert "read-only" in result["refused"]
    listed = subprocess.run(
        [sys.executable, "-m", "tracklog", "--workspace", str(ws), "ls"],
        env=python_env(), capture_output=True, text=True, timeout=60, check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert run_id[:12] in listed.stdout


def test_a_read_only_workspace_with_an_unfolded_wal_still_opens(small_disk):
    """A writer killed before folding its WAL, then the mount made read-only: the workspace
    opens for reading (the data in the -wal shown when SQLite can share it, else a warning)."""
    ws = small_disk.path / "ws"
    out = _run(
        "import os, signal, sys, tracklog\n"
        "run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), 'ro').start_logging()\n"
        "for i in range(100): run.log('x', i)\n"
        "run.flush(); print(run.id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)",
        str(ws),
    )
    assert out.returncode == -signal.SIGKILL
    assert os.path.exists(ws / "tracklog.db-wal")
    small_disk.remount("ro")
    reader = _run(
        "import sys, tracklog\n"
        "runs = list(tracklog.Experiment(tracklog.Workspace(sys.argv[1]), 'ro').get_runs())\n"
        "print(len(runs), len(runs[0].get_metric_history('x')) if runs else 0)",
        str(ws),
    )
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.split() == ["1", "100"] or "-wal holds data" in reader.stderr, (
        reader.stdout, reader.stderr,
    )


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_database_is_one_workspace_error_saying_what_to_do(tmp_path, damage):
    """Garbage or a truncated tracklog.db: WorkspaceError naming the file and the remedy,
    from the API and as one line from the CLI, never a raw sqlite3.DatabaseError."""
    ws = tmp_path / "ws"
    if damage == "garbage":
        ws.mkdir()
        (ws / "tracklog.db").write_bytes(os.urandom(50_000))
    else:
        out = _run(
            "import sys, tracklog\n"
            "run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), 'd').start_logging()\n"
            "for i in range(30000): run.log(f'x{i % 50}', i)\n"
            "run.complete()",
            str(ws),
        )
        assert out.returncode == 0, out.stderr
        db = ws / "tracklog.db"
        os.truncate(db, db.stat().st_size // 20)
    with pytest.raises(WorkspaceError, match="damaged.*Move it aside"):
        tracklog.Workspace(ws)
    listed = subprocess.run(
        [sys.executable, "-m", "tracklog", "--workspace", str(ws), "ls"],
        env=python_env(), capture_output=True, text=True, timeout=60, check=False,
    )
    assert listed.returncode != 0
    assert "damaged" in listed.stderr and "Traceback" not in listed.stderr, listed.stderr


DELETED = textwrap.dedent(
    """
    import json, os, shutil, sys, tracklog
    ws_path, how = sys.argv[1], sys.argv[2]
    run = tracklog.Experiment(tracklog.Workspace(ws_path), "gone").start_logging()
    for i in range(500):
        run.log("loss", i, step=i)
    run.flush()
    db = os.path.join(ws_path, "tracklog.db")
    if how == "tree":
        shutil.rmtree(ws_path)
    else:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
    for i in range(500, 1000):
        run.log("loss", i, step=i)
    run.flush()
    for i in range(1000, 1500):
        run.log("loss", i, step=i)
    run.complete()
    print(json.dumps({"run": run.id}))
    """
)


@pytest.mark.parametrize("how", ["files", "tree"])
def test_a_database_deleted_mid_run_is_said_once_and_logging_goes_on_in_a_fresh_file(tmp_path, how):
    """rm tracklog.db* (or the whole workspace) mid-run: one warning, and every point logged
    after it is in the fresh tracklog.db, with the run Completed."""
    ws = tmp_path / "ws"
    out = _run(DELETED, str(ws), how)
    result = _result(out)
    lines = _tracklog_lines(out.stderr)
    assert len(lines) == 1 and "deleted or replaced" in lines[0], out.stderr[-3000:]
    run = tracklog.Workspace(ws).get_run(result["run"])
    assert [p.step for p in run.get_metric_history("loss")] == list(range(500, 1500))
    assert run.status == "Completed"
    with sqlite3.connect(ws / "tracklog.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_after_a_normal_exit_tracklog_db_alone_holds_every_completed_run(workspace, tmp_path):
    """A process logs and exits (this test process keeps the workspace open meanwhile): a
    copy of tracklog.db alone, without its -wal, holds the run and every point."""
    out = _run(
        "import logging, sys, tracklog\n"
        "from tracklog.handlers import RunHandler\n"
        "logging.basicConfig(level=logging.INFO, handlers=[RunHandler()])\n"
        "run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), 'wal').start_logging()\n"
        "for i in range(20000):\n"
        "    logging.getLogger('app').info('step %d', i, extra={'metric': 'loss', 'value': i})\n"
        "run.complete(); print(run.id)",
        workspace.path,
    )
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip()
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(Path(workspace.path) / "tracklog.db", copy / "tracklog.db")
    run = tracklog.Workspace(copy).get_run(run_id)
    assert run.status == "Completed"
    assert len(run.get_metric_history("loss")) == 20000
