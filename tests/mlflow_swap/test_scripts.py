"""Scripts written for MLflow run with only their imports swapped (``import tracklog as mlflow``),
and record what the real mlflow records for them on its own sqlite store."""

from __future__ import annotations

import json

import pytest

import tracklog
from tests.mlflow_swap.conftest import SCRIPT_NAMES, tracklog_summary

pytest.importorskip("pandas")
pytest.importorskip("PIL")
pytest.importorskip("matplotlib")


def _runs(ws_path):
    return {r.get_tags().get("mlflow.runName", r.name): r for r in tracklog.Workspace(ws_path).get_runs()}


def test_quickstart_without_start_run_lands_in_one_finished_run(swapped_workspaces):
    """The quickstart's first log_param starts a run; it ends FINISHED at exit with every call in it."""
    (run,) = tracklog.Workspace(swapped_workspaces["quickstart"]).get_runs()
    assert run.experiment.name == "Default" and run.status == "Completed"
    assert set(run.get_params()) == {"config_value", "param1", "param2"}
    assert [p.step for p in run.get_metric_history("accuracy")] == [0, 0, 0]  # MLflow's step 0
    assert "test.txt" in run.get_file_names()


def test_tracking_api_script_reads_back_through_tracklog(swapped_workspaces):
    """Experiments, tags, description, a failed run: all visible to tracklog's own API."""
    ws = tracklog.Workspace(swapped_workspaces["tracking_api"])
    assert {"swap-tracking", "swap-created"} <= set(ws.experiments)
    runs = _runs(swapped_workspaces["tracking_api"])
    assert runs["r-baseline"].status == "Completed" and runs["r-fails"].status == "Failed"
    assert runs["r-in-created"].experiment.name == "swap-created"
    assert runs["r-baseline"].get_tags()["model"] == "cnn" and "temp" not in runs["r-baseline"].get_tags()


def test_nested_script_makes_tracklog_child_runs(swapped_workspaces):
    """nested=True and parent_run_id= make tracklog child runs of the parent run."""
    runs = _runs(swapped_workspaces["nested_runs"])
    parent = runs["r-search"]
    assert sorted(c.get_tags()["mlflow.runName"] for c in parent.get_children()) == [
        "r-alpha-0", "r-alpha-1", "r-alpha-2", "r-late-child"]
    assert "r-never" not in runs


def test_client_script_runs_end_as_set_terminated_says(swapped_workspaces):
    """MlflowClient's runs end with the status set_terminated gave them."""
    runs = _runs(swapped_workspaces["client_usage"])
    assert runs["r-client"].status == "Completed" and runs["r-killed"].status == "Canceled"
    assert sorted(runs["r-client"].get_file_names()) == ["docs/notes.txt", "notes.txt"]


def test_artifacts_script_files_are_run_files(swapped_workspaces):
    """Every artifact is a file of the run, at the path MLflow gives it."""
    runs = _runs(swapped_workspaces["artifacts"])
    files = set(runs["r-artifacts"].get_file_names())
    assert {"summary.txt", "copies/summary.txt", "report/a.csv", "report/sub/b.txt", "notes/text.txt",
            "config.json", "config.yaml", "plots/curve.png", "images/black.png", "images/ramp.png",
            "images/red.png", "eval/table.json"} <= files


def _normal(summary):
    return json.loads(json.dumps(summary))  # tuples as lists, as the reference's JSON has them


def test_swapped_scripts_record_what_real_mlflow_records(swapped_workspaces, mlflow_reference, tmp_path):
    """Per run: the same status, params, metric histories, user tags, artifact names, and the
    same bytes for text artifacts (log_text, log_dict JSON and YAML, log_table), as the real
    mlflow on a sqlite store records for the same script."""
    ours = {}
    for name in SCRIPT_NAMES:
        scratch = tmp_path / name
        scratch.mkdir()
        ours.update(_normal(tracklog_summary(swapped_workspaces[name], scratch)))
    reference = mlflow_reference
    ours = {k: v for k, v in ours.items() if not (k.startswith("Default/") and not v["params"] and not v["metrics"])}
    reference = {k: v for k, v in reference.items() if not (k.startswith("Default/") and not v["params"] and not v["metrics"])}
    assert sorted(ours) == sorted(reference)
    for key in reference:
        mine, theirs = ours[key], reference[key]
        for part in ("status", "params", "metrics", "tags"):
            assert mine[part] == theirs[part], (key, part)
        assert sorted(mine["artifacts"]) == sorted(theirs["artifacts"]), key
        for path, text in theirs["artifacts"].items():
            if text is not None:
                assert mine["artifacts"][path] == text, (key, path)
