"""`tracklog logs RUN`: a missing log file names the ones there are, --follow on a finished
run says so, and a record's extra fields follow its message as key=value."""

from __future__ import annotations

import logging
import sys

import pytest

import tracklog
from tests.cli.conftest import one_line, tracklog_process
from tracklog.handlers import RunHandler, RunProcessor


@pytest.fixture
def ingested(tracklog_main, workspace, tmp_path) -> tracklog.Run:
    """A run made by `tracklog ingest`: it has logs/std_log.txt and no python.log."""
    saved = tmp_path / "worker.log"
    saved.write_text("first\nsecond\n")
    assert tracklog_main("-w", workspace.path, "ingest", saved).code == 0
    (run,) = workspace.get_runs()
    return run


def test_a_missing_log_file_names_the_files_the_run_has(tracklog_main, workspace, ingested):
    """`tracklog logs RUN` on a run without python.log says so, lists std_log.txt, exits 1."""
    done = tracklog_main("-w", workspace.path, "logs", "latest")
    assert done.code == 1 and done.out == ""
    assert one_line(done.err) == (
        f"tracklog: run {ingested.id} has no log file python.log; its log files: std_log.txt "
        f"(tracklog logs {ingested.id[:12]} --file std_log.txt)"
    )


def test_a_run_without_any_log_file_says_it_has_none(tracklog_main, workspace, experiment):
    """A run that logged no record and captured no output has no log files, and logs says so."""
    run = experiment.start_logging("quiet")
    run.complete()
    done = tracklog_main("-w", workspace.path, "logs", run.id)
    assert done.code == 1 and one_line(done.err).endswith("it has no log files")


def test_the_file_option_takes_the_name_with_or_without_logs(tracklog_main, workspace, ingested):
    """--file std_log.txt and --file logs/std_log.txt print the captured lines."""
    for name in ("std_log.txt", "logs/std_log.txt"):
        done = tracklog_main("-w", workspace.path, "logs", "latest", "--file", name)
        assert done.code == 0, done.err
        assert [line.split(" | ")[1] for line in done.out.splitlines()] == ["first", "second"]


def test_follow_on_a_finished_run_says_it_is_finished_prints_the_log_and_exits_0(workspace, finished):
    """`logs --follow` of a completed run says so on stderr, prints every record and returns."""
    done = tracklog_process("-w", workspace.path, "logs", finished.id, "--follow")
    assert done.code == 0
    assert one_line(done.err) == f"tracklog: run {finished.id[:12]} has finished (Completed); printing its log once"
    assert "quiet detail" in done.out and "loud warning" in done.out


def test_extra_fields_follow_the_message_as_key_value(tracklog_main, workspace, run):
    """A record's extra= fields print after the message, by key: bare words bare, the rest as JSON."""
    logger = logging.getLogger("cli-extra")
    logger.addHandler(RunHandler(run))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.info("epoch done", extra={"user": "bob", "note": "two words", "epoch": 3})
    logger.info("plain")
    run.complete()
    lines = tracklog_main("-w", workspace.path, "logs", run.id).out.splitlines()
    assert lines[0].endswith('INFO     cli-extra: epoch done epoch=3 note="two words" user=bob')
    assert lines[1].endswith("INFO     cli-extra: plain")


def test_structlog_key_values_follow_the_message(tracklog_main, workspace, run):
    """A structlog event's own keys print after its event text, as structlog's console would."""
    structlog = pytest.importorskip("structlog")

    def drop(logger, method_name, event_dict):  # type: ignore[no-untyped-def]
        raise structlog.DropEvent

    log = structlog.wrap_logger(
        structlog.PrintLogger(sys.stdout), processors=[RunProcessor(run), drop], context_class=dict
    )
    try:
        log.info("request served", path="/health", status=200)
    finally:
        structlog.reset_defaults()
    run.complete()
    (line,) = tracklog_main("-w", workspace.path, "logs", run.id).out.splitlines()
    assert line.endswith(": request served path=/health status=200")
