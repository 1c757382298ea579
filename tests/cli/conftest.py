"""The CLI tests' ways to call tracklog: in-process through cli.main, or as a real subprocess."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

import tracklog
from tests.conftest import python_env
from tracklog import cli
from tracklog.handlers import RunHandler


class Done(NamedTuple):
    """What one tracklog command did: its exit status and what it printed."""

    code: int
    out: str
    err: str


@pytest.fixture
def tracklog_main(capsys):
    """``tracklog_main(*args)``: run ``cli.main(args)`` in this process and return a Done."""
    capsys.readouterr()

    def call(*args: str) -> Done:
        code = cli.main([str(a) for a in args])
        captured = capsys.readouterr()
        return Done(code, captured.out, captured.err)

    return call


def tracklog_process(*args: str | Path, env: dict[str, str] | None = None, stdin: bytes | None = None) -> Done:
    """``python -m tracklog ARGS`` as a real subprocess (the test's cwd), returned as a Done."""
    done = subprocess.run(
        [sys.executable, "-m", "tracklog", *map(str, args)],
        capture_output=True,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        env=env or python_env(),
        timeout=120,
    )
    return Done(done.returncode, done.stdout.decode(), done.stderr.decode())


def one_line(text: str) -> str:
    """The one line ``text`` holds (asserting it is exactly one, and no traceback)."""
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory):
    """A real MLflow tracking server for the CLI tests that sync to one."""
    pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")
    from tests.store.conftest import MLflowServer

    server = MLflowServer(tmp_path_factory.mktemp("cli-mlflow-server"))
    server.start()
    yield server.uri
    server.stop()


@pytest.fixture(autouse=True)
def _spool_in_tmp(tmp_path, monkeypatch):
    """A remote store's spool stays under the test's folder."""
    monkeypatch.setenv("TRACKLOG_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture
def finished(experiment) -> tracklog.Run:
    """A completed run with a loss series, a tag, a param and two log records."""
    run = experiment.start_logging("demo")
    for i in range(3):
        run.log("loss", 1.0 / (i + 1))
    run.tag("model", "ridge")
    run.log_param("lr", 0.1)
    logger = logging.getLogger("cli-demo")
    logger.addHandler(RunHandler(run))
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.debug("quiet detail")
    logger.warning("loud warning")
    run.complete()
    return run
