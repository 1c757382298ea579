"""Every command that takes a run takes its id, a unique prefix of it, or `latest`."""

from __future__ import annotations

import re

import pytest

import tracklog
from tests.cli.conftest import one_line


@pytest.mark.parametrize("command", [["show"], ["metrics"], ["metrics", "{run}", "loss"], ["logs"]])
def test_an_id_a_prefix_and_latest_name_the_same_run(tracklog_main, workspace, finished, command):
    """show, metrics and logs print the same for the full id, an 8-character prefix and `latest`."""
    shown = []
    for ref in (finished.id, finished.id[:8], "latest"):
        args = [a.format(run=ref) for a in command] + ([] if "{run}" in command else [ref])
        done = tracklog_main("-w", workspace.path, *args)
        assert done.code == 0, done.err
        shown.append(done.out)
    assert shown[0] == shown[1] == shown[2]


def test_ingest_into_latest_adds_to_the_newest_run(tracklog_main, workspace, finished, tmp_path):
    """`tracklog ingest --run latest FILE` appends to the newest run instead of refusing 'latest'."""
    saved = tmp_path / "more.log"
    saved.write_text("appended\n")
    done = tracklog_main("-w", workspace.path, "ingest", "--run", "latest", saved)
    assert done.code == 0, done.err
    assert [r["message"] for r in finished.get_logs(filename="std_log.txt")] == ["appended"]
    assert len(list(workspace.get_runs())) == 1


def test_sync_resolves_latest_before_it_contacts_the_server(tracklog_main, workspace, finished):
    """`tracklog sync latest --to URL --workspace W` finds the run, then reports the unreachable server."""
    done = tracklog_main("sync", "latest", "--to", "http://127.0.0.1:9", "--workspace", workspace.path,
                         "--timeout", "1")
    assert done.code == 1
    assert one_line(done.err).startswith("tracklog: cannot reach the MLflow server at http://127.0.0.1:9")


def test_an_ambiguous_prefix_and_an_empty_workspace_are_one_line_errors(tracklog_main, workspace, experiment):
    """A prefix that two runs share asks for more characters; `latest` of no runs says there are none."""
    empty = tracklog_main("-w", workspace.path, "show", "latest")
    assert empty.code == 1 and one_line(empty.err) == f"tracklog: no runs in workspace {workspace.path}"
    ids = set()
    while True:  # two runs whose ids share their first character
        run = experiment.start_logging("r")
        run.complete()
        if run.id[0] in ids:
            break
        ids.add(run.id[0])
    for command in (["show"], ["logs"], ["metrics"], ["sync", "--to", "http://127.0.0.1:9"]):
        done = tracklog_main("-w", workspace.path, *command, run.id[0])
        assert done.code == 1 and "is ambiguous" in one_line(done.err), command


def test_sync_latest_pushes_the_newest_run_with_options_after_the_subcommand(tracklog_main, tmp_path, mlflow_uri):
    """`tracklog sync latest --to URL --workspace DIR` pushes the newest run; the summary counts in words."""
    workspace = tracklog.Workspace(tmp_path / "offline")
    run = tracklog.Experiment(workspace, f"cli-sync-{tmp_path.name}").start_logging("laptop")
    run.log("loss", 0.5)
    run.log_param("lr", 0.1)
    (tmp_path / "model.txt").write_text("weights")
    run.upload_file("outputs/model.txt", str(tmp_path / "model.txt"))
    run.complete()
    done = tracklog_main("sync", "latest", "--to", mlflow_uri, "--workspace", workspace.path)
    assert done.code == 0, done.err
    match = re.fullmatch(rf"run {run.id} -> \S+ run (\w+): (.*)\n", done.out)
    assert match, done.out
    assert match.group(2) == "1 run, 1 new point, 0 points already there, 1 param, 1 file"
    assert tracklog.Workspace(mlflow_uri).get_run(match.group(1)).get_params() == {"lr": "0.1"}
