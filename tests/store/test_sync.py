"""`tracklog sync RUN --to URI`: offline runs pushed to the server, idempotently."""

from __future__ import annotations

import logging
import math

import pytest

import tracklog
from tracklog import cli
from tracklog.handlers import RunHandler

from .conftest import mlflow_id, unique


def _offline_run(tmp_path) -> tuple[tracklog.Workspace, tracklog.Run, tracklog.Run]:
    ws = tracklog.Workspace(tmp_path / "offline")
    exp = tracklog.Experiment(ws, unique("offline"))
    run = exp.start_logging("laptop")
    for step in range(1500):
        run.log("loss", 1.0 / (step + 1))
    run.log("nan", float("nan"))
    run.log("note", "converged")
    run.log_list("acc", [0.5, 0.75])
    run.log_row("Wave", angle=0.5, sin=0.48)
    run.log_row("Wave", angle=1.0, sin=0.84)
    run.tag("where", "laptop")
    run.log_param("lr", 0.01)
    (tmp_path / "model.txt").write_text("weights")
    run.upload_file("outputs/model.txt", str(tmp_path / "model.txt"))
    logger = logging.getLogger(unique("offline"))
    logger.addHandler(RunHandler(run))
    logger.warning("offline record")
    child = run.child_run("fold-1")
    child.log("fold_loss", 0.3)
    child.complete()
    run.fail("diverged at the end")
    ws.flush()
    return ws, run, child


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_sync_pushes_a_local_run_with_children_and_a_second_sync_adds_nothing(
    tmp_path, mlflow_uri, mlflow_client, capsys
):
    """A synced run reads back like the local one; syncing again sends no point twice."""
    ws, run, child = _offline_run(tmp_path)
    argv = ["--workspace", str(tmp_path / "offline"), "sync", run.id[:10], "--to", mlflow_uri]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "100%" in captured.err and "[####" in captured.err  # the progress bar
    assert "1508 new points" in captured.out

    remote_exp = mlflow_client.get_experiment_by_name(run.experiment.name)
    remote_runs = mlflow_client.search_runs([remote_exp.experiment_id])
    by_name = {r.info.run_name: r for r in remote_runs}
    remote_id = by_name["laptop"].info.run_id
    assert by_name["laptop"].info.status == "FAILED"
    assert by_name["fold-1"].data.tags["mlflow.parentRunId"] == remote_id
    assert len(mlflow_client.get_metric_history(mlflow_id(mlflow_client, remote_id), "loss")) == 1500

    remote = tracklog.Workspace(mlflow_uri).get_run(remote_id)
    assert _same(remote.get_metrics(), run.get_metrics())
    assert remote.get_params() == run.get_params()
    assert remote.get_tags()["where"] == "laptop"
    assert remote.info.error == "diverged at the end"
    assert [r["message"] for r in remote.get_logs()] == ["offline record"]
    assert {"outputs/model.txt", "logs/python.log", "tables/Wave.json"} <= set(remote.get_file_names())
    assert [c.name for c in remote.get_children()] == ["fold-1"]

    assert cli.main(argv) == 0
    again = capsys.readouterr()
    assert "0 new points, 1508 points already there" in again.out
    assert "0 files" in again.out and "0 params" in again.out
    assert len(mlflow_client.get_metric_history(mlflow_id(mlflow_client, remote_id), "loss")) == 1500
    assert len(mlflow_client.search_runs([remote_exp.experiment_id])) == 2


def test_sync_refuses_without_a_run_or_a_server(tmp_path, capsys):
    """Missing arguments and unknown runs are one-line errors with exit status 1."""
    ws, run, _child = _offline_run(tmp_path)
    assert cli.main(["--workspace", str(tmp_path / "offline"), "sync", run.id]) == 1
    assert "--to" in capsys.readouterr().err
    assert cli.main(["--workspace", str(tmp_path / "offline"), "sync", "--to", "http://127.0.0.1:9"]) == 1
    assert "name a run" in capsys.readouterr().err
    assert cli.main(["--workspace", str(tmp_path / "offline"), "sync", "ffff", "--to", "http://127.0.0.1:9"]) == 1
    assert "no run" in capsys.readouterr().err


def test_sync_pending_with_nothing_pending_says_so(capsys):
    """`tracklog sync --pending` with an empty spool has nothing to do."""
    assert cli.main(["sync", "--pending"]) == 0
    assert "nothing pending" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--no-children"])
def test_sync_can_leave_children_out(tmp_path, mlflow_uri, mlflow_client, flag):
    """--no-children syncs only the run itself."""
    ws, run, _child = _offline_run(tmp_path)
    assert cli.main(["--workspace", str(tmp_path / "offline"), "sync", run.id, "--to", mlflow_uri, flag]) == 0
    remote_exp = mlflow_client.get_experiment_by_name(run.experiment.name)
    assert [r.info.run_name for r in mlflow_client.search_runs([remote_exp.experiment_id])] == ["laptop"]
