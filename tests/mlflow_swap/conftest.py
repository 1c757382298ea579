"""Scripts written for MLflow, run with their imports swapped to tracklog, and the same
scripts run by the real mlflow on its own ``sqlite:`` store, for comparison."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tracklog

SCRIPTS = Path(__file__).parent / "scripts"
SCRIPT_NAMES = ["quickstart", "tracking_api", "nested_runs", "client_usage", "artifacts"]
TIMEOUT = 300

#: The swap, and nothing else: MLflow's import lines become tracklog's.
_SWAPS = [
    (re.compile(r"(?m)^(\s*)import mlflow(\s*(#.*)?)$"), r"\1import tracklog as mlflow\2"),
    (re.compile(r"(?m)^(\s*)from mlflow import "), r"\1from tracklog import "),
    (re.compile(r"(?m)^(\s*)from mlflow\.(tracking|entities|exceptions) import "), r"\1from tracklog.\2 import "),
]
#: Tags both sides must agree on beyond the user's own (``mlflow.*``/``tracklog.*`` are each side's).
_SHARED_TAGS = {"mlflow.note.content", "mlflow.loggedArtifacts"}
_TEXT_SUFFIXES = (".txt", ".json", ".yaml", ".csv")
_STATUS = {"Completed": "FINISHED", "Failed": "FAILED", "Canceled": "KILLED", "Running": "RUNNING"}


def swapped(source: str) -> str:
    """``source`` with only its ``import mlflow`` lines changed to tracklog."""
    for pattern, replacement in _SWAPS:
        source = pattern.sub(replacement, source)
    return source


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKLOG_", "MLFLOW_", "OTEL_"))}
    env.update(extra)
    return env


def run_swapped(name: str, root: Path) -> Path:
    """Run scripts/<name>.py swapped, in its own folder, into its own workspace; the workspace."""
    folder = root / name
    folder.mkdir(parents=True)
    script = folder / f"{name}.py"
    text = (SCRIPTS / f"{name}.py").read_text()
    script.write_text(swapped(text))
    assert swapped(text) != text, f"{name}.py has no MLflow import to swap"
    ws = folder / "ws"
    done = subprocess.run(
        [sys.executable, str(script)], cwd=folder, env=clean_env(TRACKLOG_WORKSPACE=str(ws)),
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )
    assert done.returncode == 0 and "ok" in done.stdout, f"{name}: rc={done.returncode}\n{done.stdout}\n{done.stderr}"
    return ws


def _key(experiment: str, name: str, index: int) -> str:
    """Runs named ``r-...`` by the script match by name; others (auto-started) by order."""
    return f"{experiment}/{name}" if name.startswith("r-") else f"{experiment}/#{index}"


def tracklog_summary(ws_path: Path, scratch: Path) -> dict[str, Any]:
    """What landed in a workspace, read through tracklog's own API (Workspace, Run)."""
    ws = tracklog.Workspace(ws_path)
    summary: dict[str, Any] = {}
    for experiment in ws.experiments.values():
        runs = sorted(experiment.get_runs(include_children=True), key=lambda r: r.info.start_time)
        for index, run in enumerate(runs):
            tags = run.get_tags()
            name = tags.get("mlflow.runName", run.name)
            artifacts: dict[str, str | None] = {}
            for file in run.get_file_names():
                if file.startswith("logs/"):
                    continue  # tracklog's own run log files
                local = run.download_file(file, scratch / f"{run.id}-{file.replace('/', '_')}")
                artifacts[file] = Path(local).read_text() if file.endswith(_TEXT_SUFFIXES) else None
            summary[_key(experiment.name, name, index)] = {
                "status": _STATUS[run.status],
                "params": run.get_params(),
                "metrics": {
                    key: sorted((p.step, p.value) for p in run.get_metric_history(key)) for key in run.get_metrics()
                },
                "tags": {k: v for k, v in tags.items() if not k.startswith(("mlflow.", "tracklog.")) or k in _SHARED_TAGS},
                "artifacts": artifacts,
            }
    return summary


#: Runs in one real-mlflow process: each script as a fresh process would see it, then a summary.
_REFERENCE_RUNNER = r"""
import json, os, runpy, sys
import mlflow
from mlflow.tracking import MlflowClient

db, scripts, work, out = sys.argv[1:5]
names = sys.argv[5:]
mlflow.set_tracking_uri(f"sqlite:///{db}")
for name in names:
    folder = os.path.join(work, name)
    os.makedirs(folder)
    os.chdir(folder)
    mlflow.tracking.fluent._active_experiment_id = None  # a fresh process has none
    runpy.run_path(os.path.join(scripts, name + ".py"), run_name="__main__")
    while mlflow.active_run() is not None:  # what mlflow's atexit does
        mlflow.end_run()

client = MlflowClient()
text = (".txt", ".json", ".yaml", ".csv")
shared = {"mlflow.note.content", "mlflow.loggedArtifacts"}

def files(run_id, path=None):
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            yield from files(run_id, info.path)
        else:
            yield info.path

summary = {}
for experiment in client.search_experiments():
    runs = sorted(client.search_runs([experiment.experiment_id]), key=lambda r: r.info.start_time)
    for index, run in enumerate(runs):
        rid = run.info.run_id
        name = run.info.run_name
        key = f"{experiment.name}/{name}" if name.startswith("r-") else f"{experiment.name}/#{index}"
        artifacts = {}
        for path in files(rid):
            local = client.download_artifacts(rid, path, os.path.join(work, "dl", rid))
            artifacts[path] = open(local).read() if path.endswith(text) else None
        summary[key] = {
            "status": run.info.status,
            "params": run.data.params,
            "metrics": {k: sorted((m.step, m.value) for m in client.get_metric_history(rid, k)) for k in run.data.metrics},
            "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.") or k in shared},
            "artifacts": artifacts,
        }
with open(out, "w") as f:
    json.dump(summary, f)
"""


@pytest.fixture(scope="module")
def swapped_workspaces(tmp_path_factory) -> dict[str, Path]:
    """Every script run once, swapped: its workspace by script name."""
    root = tmp_path_factory.mktemp("swapped")
    return {name: run_swapped(name, root) for name in SCRIPT_NAMES}


@pytest.fixture(scope="module")
def mlflow_reference(tmp_path_factory) -> dict[str, Any]:
    """The same scripts under the real mlflow, into one ``sqlite:`` store: what it records."""
    pytest.importorskip("mlflow")
    root = tmp_path_factory.mktemp("reference")
    out = root / "summary.json"
    done = subprocess.run(
        [sys.executable, "-c", _REFERENCE_RUNNER, str(root / "mlflow.db"), str(SCRIPTS), str(root / "work"),
         str(out), *SCRIPT_NAMES],
        cwd=root, env=clean_env(), capture_output=True, text=True, timeout=TIMEOUT * 2, check=False,
    )
    assert done.returncode == 0, f"the real mlflow failed on the scripts:\n{done.stdout}\n{done.stderr[-4000:]}"
    return json.loads(out.read_text())
