"""What `tracklog run` and `tracklog ingest` refuse before they create anything, and how the
CLI words its counts and messages (pluralised, one `tracklog:` prefix)."""

from __future__ import annotations

import sys

import pytest

import tracklog
from tests.cli.conftest import one_line, tracklog_process


def test_run_refuses_one_param_given_two_values_before_anything_runs(tmp_path):
    """`--param lr=0.1 --param lr=0.2` is a one-line usage error (exit 2): no workspace, no child."""
    marker = tmp_path / "ran"
    ws = tmp_path / "ws"
    done = tracklog_process(
        "-w", ws, "run", "--param", "lr=0.1", "--param", "lr=0.2", "--",
        sys.executable, "-c", f"open({str(marker)!r}, 'w').close()",
    )
    assert done.code == 2 and done.out == ""
    assert "--param lr is given twice ('0.1' and '0.2')" in one_line(done.err)
    assert not ws.exists() and not marker.exists()


def test_run_takes_a_param_repeated_with_the_same_value(tmp_path):
    """Giving a param twice with one value is not a change, so the run goes ahead."""
    ws = tmp_path / "ws"
    done = tracklog_process("-w", ws, "run", "--param", "lr=0.1", "--param", "lr=0.1", "--", sys.executable, "-c", "pass")
    assert done.code == 0, done.err
    (run,) = tracklog.Workspace(ws).get_runs()
    assert run.get_params() == {"lr": "0.1"}


def test_ingest_into_an_unknown_run_creates_no_workspace(tracklog_main, tmp_path):
    """`tracklog ingest --run nope` where no workspace exists says so and leaves nothing behind."""
    saved = tmp_path / "saved.log"
    saved.write_text("line\n")
    ws = tmp_path / "none"
    done = tracklog_main("-w", ws, "ingest", "--run", "nope", saved)
    assert done.code == 1 and "no tracklog workspace" in one_line(done.err)
    assert not ws.exists()


def test_ingest_into_an_unknown_run_of_a_workspace_adds_no_run(tracklog_main, workspace, finished, tmp_path):
    """An unknown --run in an existing workspace is refused; the workspace keeps its one run."""
    saved = tmp_path / "saved.log"
    saved.write_text("line\n")
    done = tracklog_main("-w", workspace.path, "ingest", "--run", "nope", saved)
    assert done.code == 1 and "no run 'nope'" in one_line(done.err)
    assert [r.id for r in workspace.get_runs()] == [finished.id]


def test_ingest_of_a_missing_file_creates_no_run(tracklog_main, tmp_path):
    """A file that cannot be read is refused before the new run (or its workspace) exists."""
    ws = tmp_path / "ws"
    done = tracklog_main("-w", ws, "ingest", tmp_path / "nope.log")
    assert done.code == 1 and one_line(done.err).startswith("tracklog: cannot read")
    assert not ws.exists()


def test_ingest_with_both_a_run_and_a_new_runs_name_is_a_usage_error(tracklog_main, workspace, finished, tmp_path):
    """--run with --name/--experiment is contradictory: one line, exit 2."""
    done = tracklog_main("-w", workspace.path, "ingest", "--run", "latest", "--name", "x", tmp_path / "x.log")
    assert done.code == 2 and "not both" in one_line(done.err)


@pytest.mark.parametrize("text, said", [("one\n", "1 line"), ("one\ntwo\n", "2 lines")])
def test_ingest_counts_its_lines_in_words(tracklog_main, tmp_path, text, said):
    """ingest reports `1 line` and `2 lines`, never `1 lines`."""
    saved = tmp_path / "saved.log"
    saved.write_text(text)
    done = tracklog_main("-w", tmp_path / "ws", "ingest", saved)
    assert done.code == 0 and one_line(done.err).startswith(f"tracklog: {said} into run ")


def test_no_message_doubles_the_tracklog_prefix(tracklog_main, workspace, finished):
    """Errors are prefixed with `tracklog:` once, also when the message names tracklog itself."""
    for args in (
        ["sync", "latest", "-w", "http://127.0.0.1:9", "--to", "http://127.0.0.1:9"],
        ["-w", workspace.path, "logs", "latest", "--file", "nope.log"],
        ["-w", workspace.path, "show", "nope"],
        ["-w", workspace.path, "run"],
    ):
        done = tracklog_main(*args)
        line = one_line(done.err)
        assert done.code in (1, 2) and line.startswith("tracklog") and "tracklog: tracklog" not in line, args
