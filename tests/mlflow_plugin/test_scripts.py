"""Real MLflow-style scripts, unchanged, with MLFLOW_TRACKING_URI=tracklog:... and under
`tracklog run`: every param, metric and artifact MLflow's own sqlite store records for the
same script is in the tracklog workspace, read back through tracklog's own API."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.mlflow_plugin.plugin_support import SCRIPTS, mlflow_record, run_script

mlflow = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")
pytest.importorskip("sklearn", reason="scikit-learn runs the autolog example")

import tracklog

SCRIPT = SCRIPTS / "sklearn_autolog.py"
EXPERIMENT = "diabetes"
_MODEL_FILE = re.compile(r"^models/(m-[0-9a-f]+)/artifacts/(.+)$")


def tracklog_record(workspace: Path, experiment: str) -> dict[str, dict[str, Any]]:
    """The same view as mlflow_record, read with tracklog's Workspace and Run."""
    ws = tracklog.Workspace(workspace)
    record = {}
    for run in ws.get_experiment(experiment).get_runs(include_children=True):
        files = set()
        for name in run.get_file_names():
            match = _MODEL_FILE.match(name)
            if match:
                model = ws.store.logged_model(match.group(1))
                name = f"model:{model.name}/{match.group(2)}"
            files.add(name)
        record[run.name] = {
            "params": run.get_params(),
            "metrics": {
                key: [(p.step, p.value) for p in run.get_metric_history(key)] for key in run.get_metrics()
            },
            "tags": set(run.get_tags()),
            "files": files,
        }
    return record


@pytest.fixture(scope="module")
def mlflow_sqlite(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """What MLflow's own sqlite store records for the script."""
    folder = tmp_path_factory.mktemp("sqlite")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    run_script(SCRIPT, folder, tracking_uri=uri)
    return mlflow_record(mlflow.MlflowClient(uri), EXPERIMENT)


def _same_as_mlflow(ours: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]) -> None:
    assert set(ours) == set(theirs) == {"sweep", "alpha-0.1", "alpha-0.5"}
    for name, expected in theirs.items():
        got = ours[name]
        assert got["params"] == expected["params"], name
        assert set(got["metrics"]) == set(expected["metrics"]), name
        for key, points in expected["metrics"].items():
            # MLflow's sqlite store keeps an exact repeat of a point (same step, value and time,
            # as autolog logs its training metrics) once; its file store and tracklog keep both.
            assert sorted(set(got["metrics"][key])) == sorted(set(points)), (name, key)
        assert expected["tags"] - {"mlflow.log-model.history"} <= got["tags"], name
        assert expected["files"] <= got["files"], (name, expected["files"] - got["files"])
    assert any(f.startswith("model:model/") for f in theirs["sweep"]["files"])


def test_script_logs_into_the_workspace_as_mlflow_sqlite_does(tmp_path, mlflow_sqlite):
    """MLFLOW_TRACKING_URI=tracklog:PATH: autolog params and metrics, log_metric series, nested
    runs, log_artifact(s)/log_text and a flavor's log_model all land in the workspace."""
    run_script(SCRIPT, tmp_path, tracking_uri="tracklog:ws")
    ours = tracklog_record(tmp_path / "ws", EXPERIMENT)
    _same_as_mlflow(ours, mlflow_sqlite)
    ws = tracklog.Workspace(tmp_path / "ws")
    sweep = next(r for r in ws.get_runs() if r.name == "sweep")
    children = {c.name for c in sweep.get_children()}
    assert children == {"alpha-0.1", "alpha-0.5"}
    assert all(r.status == "Completed" for r in ws.get_runs())


def test_registered_model_lands_in_the_workspace_registry_and_loads_back(tmp_path):
    """log_model(registered_model_name=...) makes version 1 in the workspace's registry, pointing
    at the run's folder; mlflow.pyfunc loads models:/name/1 back and predicts."""
    run_script(SCRIPT, tmp_path, tracking_uri="tracklog:ws")
    ws = tracklog.Workspace(tmp_path / "ws")
    (version,) = ws.store.search_model_versions("diabetes-enet")
    assert version.version == 1 and version.run_id and version.model_path.startswith("models/m-")
    assert "MLmodel" in os.listdir(os.path.join(ws.store.run_dir(version.run_id), version.model_path))
    loader = tmp_path / "load.py"
    loader.write_text(
        "import mlflow, numpy as np\n"
        "model = mlflow.pyfunc.load_model('models:/diabetes-enet/1')\n"
        "print('PRED', len(model.predict(np.zeros((3, 10)))))\n"
    )
    done = run_script(loader, tmp_path, tracking_uri="tracklog:ws")
    assert "PRED 3" in done.stdout


def test_script_under_tracklog_run_makes_its_runs_children_of_that_run(tmp_path, mlflow_sqlite):
    """`tracklog run -- python train.py` with no change to train.py: the script's top-level MLflow
    run becomes a child of tracklog run's run (nested runs stay under it), with everything MLflow's
    sqlite store records; the command's own stdout is in tracklog run's run as before."""
    run_script(SCRIPT, tmp_path, tracking_uri=None, under_tracklog_run=str(tmp_path / "ws"))
    ws = tracklog.Workspace(tmp_path / "ws")
    _same_as_mlflow(tracklog_record(tmp_path / "ws", EXPERIMENT), mlflow_sqlite)
    (outer,) = [r for r in ws.get_runs() if r.parent is None]
    assert outer.name == SCRIPT.name and outer.status == "Completed"
    (sweep,) = outer.get_children()
    assert sweep.name == "sweep" and sweep.get_tags()["mlflow.parentRunId"] == outer.id
    assert any("PARENT" in line["message"] for line in outer.get_logs(filename="std_log.txt"))


def test_a_script_that_sets_its_own_tracking_uri_keeps_it(tmp_path):
    """Under `tracklog run`, mlflow.set_tracking_uri("sqlite:///...") in the script wins: its runs
    go to that store, none to the workspace; an MLFLOW_TRACKING_URI given to tracklog run is kept."""
    script = tmp_path / "own_uri.py"
    script.write_text(
        "import sys, mlflow\n"
        "if len(sys.argv) > 1:\n"
        "    mlflow.set_tracking_uri(sys.argv[1])\n"
        "with mlflow.start_run(run_name='mine'):\n"
        "    mlflow.log_metric('m', 1.0)\n"
    )
    own = f"sqlite:///{tmp_path / 'own.db'}"
    run_script(script, tmp_path, tracking_uri=None, args=[own], under_tracklog_run=str(tmp_path / "ws"))
    env_uri = f"sqlite:///{tmp_path / 'env.db'}"
    run_script(script, tmp_path, tracking_uri=env_uri, under_tracklog_run=str(tmp_path / "ws"))
    for uri in (own, env_uri):
        (run,) = mlflow.MlflowClient(uri).search_runs(["0"])
        assert run.info.run_name == "mine" and run.data.metrics == {"m": 1.0}
    ws = tracklog.Workspace(tmp_path / "ws")
    assert sorted(r.name for r in ws.get_runs()) == ["own_uri.py", "own_uri.py"]
