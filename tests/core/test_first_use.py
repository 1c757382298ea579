"""No phantom runs: plain records wait for a run; only run data or an explicit call starts one."""

from __future__ import annotations

import logging
import subprocess
import textwrap

import structlog

import tracklog
from tracklog.pipeline import current as _context
from tracklog.handlers import RunHandler, RunProcessor

from ..conftest import PYTHON, python_env


def _runs(folder) -> list[tracklog.Run]:
    return list(tracklog.Workspace(folder).get_runs())


def _handler_on(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.addHandler(RunHandler())
    logger.setLevel(logging.DEBUG)
    return logger


def test_a_plain_record_with_no_run_starts_none_and_joins_the_next_run(tmp_path, monkeypatch):
    """log.info with no current run creates no run; the run started next gets the line."""
    monkeypatch.setenv("TRACKLOG_WORKSPACE", str(tmp_path / "ws"))
    log = _handler_on("first.plain")
    log.info("before any run %d", 1, extra={"where": "setup"})
    assert not (tmp_path / "ws").exists() or _runs(tmp_path / "ws") == []
    with tracklog.Experiment(tracklog.Workspace(), "e").start_logging() as run:
        log.info("inside")
    lines = run.get_logs()
    assert [r["message"] for r in lines] == ["before any run 1", "inside"]
    assert lines[0]["extra"] == {"where": "setup"}
    assert len(_runs(tmp_path / "ws")) == 1


def test_a_record_after_a_with_block_starts_no_empty_run(tmp_path, monkeypatch):
    """After `with exp.start_logging():` ends, a plain record does not make a new `latest`."""
    monkeypatch.setenv("TRACKLOG_WORKSPACE", str(tmp_path / "ws"))
    log = _handler_on("first.after")
    with tracklog.Experiment(tracklog.Workspace(), "e").start_logging() as run:
        log.info("in the run")
    log.info("after the run")
    logging.getLogger("tracklog").warning("tracklog: a diagnostic with no run")
    assert [r.id for r in _runs(tmp_path / "ws")] == [run.id]


def test_a_record_with_run_data_starts_a_run_on_first_use(tmp_path, monkeypatch):
    """A metric record with no current run starts one in Default, with the held lines first."""
    monkeypatch.setenv("TRACKLOG_WORKSPACE", str(tmp_path / "ws"))
    log = _handler_on("first.data")
    log.info("plain first")
    log.info("loss", extra={"metric": "loss", "value": 0.5})
    run = _context.current_run(create=False)
    assert run is not None and run.experiment.name == "Default"
    assert run.get_metrics() == {"loss": 0.5}
    assert [r["message"] for r in run.get_logs()] == ["plain first", "loss"]


def test_structlog_plain_events_wait_and_data_events_start_a_run(tmp_path, monkeypatch):
    """The structlog processor follows the same rule as RunHandler."""
    monkeypatch.setenv("TRACKLOG_WORKSPACE", str(tmp_path / "ws"))
    structlog.configure(processors=[RunProcessor(), structlog.processors.KeyValueRenderer()])
    try:
        log = structlog.get_logger()
        log.info("just words", user="a")
        assert _context.current_run(create=False) is None
        log.info("epoch", metric="loss", value=0.3)
        run = _context.current_run(create=False)
        assert run is not None
        assert [r["message"] for r in run.get_logs()] == ["just words", "epoch"]
    finally:
        structlog.reset_defaults()


def test_held_records_are_bounded_and_the_loss_is_said(tmp_path, monkeypatch, caplog):
    """Past HELD_LIMIT plain records the oldest go, with one warning naming how many."""
    monkeypatch.setenv("TRACKLOG_WORKSPACE", str(tmp_path / "ws"))
    log = _handler_on("first.bound")
    log.propagate = False
    try:
        for i in range(_context.HELD_LIMIT + 5):
            log.info("line %d", i)
    finally:
        log.propagate = True
    with caplog.at_level(logging.WARNING, logger="tracklog"):
        run = tracklog.Experiment(tracklog.Workspace(), "e").start_logging()
    messages = [r["message"] for r in run.get_logs()]
    assert len(messages) == _context.HELD_LIMIT and messages[0] == "line 5"
    assert "5 log records from before run" in caplog.text


def test_a_script_that_only_logs_plain_records_leaves_no_run(tmp_path):
    """A real process with basicConfig(RunHandler) and plain records only: no run, exit 0."""
    script = tmp_path / "plain.py"
    script.write_text(textwrap.dedent("""
        import logging
        from tracklog.handlers import RunHandler
        logging.basicConfig(level=logging.DEBUG, handlers=[logging.StreamHandler(), RunHandler()])
        logging.getLogger("app").info("hello")
        logging.getLogger("app").debug("world")
    """))
    done = subprocess.run(
        [PYTHON, str(script)], cwd=tmp_path, env=python_env(TRACKLOG_WORKSPACE=str(tmp_path / "ws")),
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "hello" in done.stderr
    assert not (tmp_path / "ws").exists() or _runs(tmp_path / "ws") == []
