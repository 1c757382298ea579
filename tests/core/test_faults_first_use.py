"""A run that cannot start or open on first use: one warning, no retry per record, a retry later."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import tracklog

_DAMAGED = b"this is not an SQLite database, and tracklog must say so once\n" * 2000


def _run(script: str, workspace: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "TRACKLOG_RUN_ID"}
    full.update(TRACKLOG_WORKSPACE=str(workspace), **env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=full, capture_output=True,
        text=True, timeout=120,
    )


def _damaged(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "tracklog.db").write_bytes(_DAMAGED)
    return ws


_LOGGING = """
    import logging
    from tracklog.handlers import RunHandler
    logging.basicConfig(level=logging.INFO, handlers=[logging.StreamHandler(), RunHandler()])
    log = logging.getLogger("train")
    for i in range(200):
        log.info("step", extra={"metric": "loss", "value": i})
    print("done")
"""


def test_a_damaged_workspace_is_one_warning_not_a_traceback_per_record(tmp_path: Path) -> None:
    proc = _run(_LOGGING, _damaged(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "done"
    assert "Logging error" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING:tracklog")]
    assert len(warnings) == 1, warnings
    assert "damaged" in warnings[0] and "not kept" in warnings[0]
    assert proc.stderr.count("INFO:train:step") == 200  # the user's other handler saw them all


def test_a_run_named_by_the_environment_in_a_damaged_workspace_warns_once(tmp_path: Path) -> None:
    proc = _run(_LOGGING, _damaged(tmp_path), TRACKLOG_RUN_ID="0123456789abcdef")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Logging error" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING:tracklog")]
    assert any("0123456789abcdef" in w and "TRACKLOG_RUN_ID" in w for w in warnings), warnings
    assert len(warnings) <= 2, warnings  # the env run, then the first-use run


def test_an_explicit_call_gets_the_error_at_once_every_time(tmp_path: Path) -> None:
    proc = _run(
        """
        import time, tracklog
        errors, start = [], time.perf_counter()
        for i in range(50):
            try:
                tracklog.log_metric("x", i)
            except tracklog.WorkspaceError as exc:
                errors.append(str(exc))
        print(len(errors), len(set(errors)), "damaged" in errors[0])
        """,
        _damaged(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["50", "1", "True"]


def test_the_run_starts_once_the_workspace_is_repaired(tmp_path: Path) -> None:
    ws = _damaged(tmp_path)
    proc = _run(
        f"""
        import logging, os, time
        from tracklog.handlers import RunHandler
        from tracklog.pipeline import current
        current.RETRY_AFTER = 0.5
        logging.basicConfig(level=logging.INFO, handlers=[RunHandler()])
        log = logging.getLogger("train")
        log.info("lost", extra={{"metric": "loss", "value": 1.0}})
        os.replace({str(ws / 'tracklog.db')!r}, {str(ws / 'damaged.db')!r})
        log.info("still refused", extra={{"metric": "loss", "value": 2.0}})  # within 0.5 s
        time.sleep(0.6)
        log.info("kept", extra={{"metric": "loss", "value": 3.0}})
        """,
        ws,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = list(tracklog.Workspace(ws).get_runs())
    assert len(runs) == 1
    assert [p.value for p in runs[0].get_metric_history("loss")] == [3.0]
    assert runs[0].status == "Completed"
    # The log lines waited for the run, the refused points' included.
    logs = runs[0].get_logs()
    assert [r["message"] for r in logs if r["logger"] == "train"] == ["lost", "still refused", "kept"]
    assert any("cannot start a run" in r["message"] for r in logs if r["logger"] == "tracklog")
