"""Shared fixtures: each test gets its own workspace and a clean tracklog and logging state."""

from __future__ import annotations

import logging
import os
import re
import sys

import pytest

import tracklog
from tracklog import _diag, _lifecycle, workspace as _workspace_mod
from tracklog.engine import forget_engines, live_engines
from tracklog.pipeline import current

_TRACKLOG_ENV = [k for k in os.environ if k.startswith(("TRACKLOG_", "MLFLOW_", "OTEL_"))]


def _end_everything() -> None:
    for run in current.started_runs():
        try:
            run.complete()
        except Exception:
            pass
    for engine in live_engines():
        try:
            engine.pipeline.close(timeout=10)
            engine.store.close()
        except Exception:
            pass
    forget_engines()
    current.reset()
    _lifecycle.set_uncaught(None)
    _workspace_mod.set_default_location(None)
    _diag.reset_warnings()


@pytest.fixture(autouse=True)
def _clean_state(tmp_path, monkeypatch):
    """Every test: a fresh cwd and workspace, no leftover runs, root logger restored."""
    for key in list(os.environ):
        if key.startswith(("TRACKLOG_", "MLFLOW_", "OTEL_")) or key in ("RANK", "LOCAL_RANK"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    tracklog_logger = logging.getLogger("tracklog")
    saved_tl = (tracklog_logger.handlers[:], tracklog_logger.level, tracklog_logger.propagate)
    _end_everything()
    yield
    _end_everything()
    for handler in root.handlers[:]:
        if handler not in saved_handlers:
            root.removeHandler(handler)
            try:
                handler.close()
            except Exception:
                pass
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    from tracklog.handlers import RunHandler

    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            for handler in [h for h in logger.handlers if isinstance(h, RunHandler)]:
                logger.removeHandler(handler)
    tracklog_logger.handlers[:], tracklog_logger.level, tracklog_logger.propagate = saved_tl


@pytest.fixture
def workspace(tmp_path) -> tracklog.Workspace:
    """A fresh embedded workspace under the test's temporary folder."""
    return tracklog.Workspace(tmp_path / "ws")


@pytest.fixture
def experiment(workspace) -> tracklog.Experiment:
    return tracklog.Experiment(workspace, "test-exp")


@pytest.fixture
def run(experiment):
    """A live run, completed after the test if still open."""
    run = experiment.start_logging("test-run")
    yield run
    if not run.target.closed:
        run.complete()


# Under CI a test skipped because a test need could not be imported is a failure:
# every need is in the `test` extra. torch is the one exception: scripts/test.sh
# installs the machine's local CPU wheel when there is one, never a download.
_OUTSIDE_THE_EXTRA = {"torch"}
_missing_needs: list[str] = []


def pytest_runtest_logreport(report) -> None:  # type: ignore[no-untyped-def]
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        match = re.search(r"could not import '([\w.]+)'", reason)
        if match and match.group(1).split(".")[0] not in _OUTSIDE_THE_EXTRA:
            _missing_needs.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus) -> None:  # type: ignore[no-untyped-def]
    if _missing_needs and os.environ.get("CI"):
        print("\nCI: tests skipped because a test need is missing (add it to the test extra):")
        for line in _missing_needs:
            print("  " + line)
        session.exitstatus = 1


def python_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python that imports this checkout's tracklog."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLOG_")}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


PYTHON = sys.executable
