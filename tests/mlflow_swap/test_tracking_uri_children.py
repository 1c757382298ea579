"""``set_tracking_uri`` reaches the processes a script starts afterwards, as MLflow's does
(it sets MLFLOW_TRACKING_URI "so that subprocess can inherit it"): a spawn Pool's workers
and a plain ``python`` subprocess open the same workspace (real processes, no mocks)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import tracklog
from tests.conftest import python_env
from tracklog import _config

TIMEOUT = 120

#: In MLflow's style: the parent makes a run in the workspace argv[1] and ends it; each
#: worker resumes it by id and logs one point; then a plain subprocess says where it logs.
SCRIPT = """
import multiprocessing as mp, subprocess, sys
import tracklog as mlflow

def work(args):
    run_id, i = args
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metric("m", i, step=i)

if __name__ == "__main__":
    mlflow.set_tracking_uri(sys.argv[1])
    with mlflow.start_run(run_name="parent") as run:
        mlflow.log_param("p", 1)
    with mp.get_context(sys.argv[2]).Pool(2) as pool:
        pool.map(work, [(run.info.run_id, i) for i in range(6)])
    print(subprocess.run(
        [sys.executable, "-c", "import tracklog as mlflow; print(mlflow.get_tracking_uri())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip())
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_workers_and_subprocesses_open_the_workspace_the_script_set(tmp_path, method):
    """The workers resume the parent's run in the workspace the script chose (all six
    points in it, no ./.tracklog made), and a subprocess's get_tracking_uri names it."""
    ws = tmp_path / "chosen"
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    done = subprocess.run(
        [sys.executable, str(script), str(ws), method], env=python_env(), capture_output=True,
        text=True, timeout=TIMEOUT, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(ws)
    assert not (tmp_path / ".tracklog").exists()
    client = tracklog.tracking.MlflowClient(str(ws))
    (run,) = client.search_runs(["0"])
    assert [(p.step, p.value) for p in client.get_metric_history(run.info.run_id, "m")] == [
        (i, float(i)) for i in range(6)
    ]
    assert run.data.params == {"p": "1"}


def test_the_uri_is_in_the_environment_and_a_later_one_replaces_it(tmp_path):
    """The exported value is the absolute folder (or the URL as given); a later
    set_tracking_uri replaces it, and a bare tracklog: exports the default workspace."""
    os.chdir(tmp_path)
    tracklog.set_tracking_uri("rel/ws")
    assert os.environ[_config.ENV_TRACKING_URI] == str(tmp_path / "rel" / "ws")
    tracklog.set_tracking_uri("http://127.0.0.1:1/")
    assert os.environ[_config.ENV_TRACKING_URI] == "http://127.0.0.1:1/"
    tracklog.set_tracking_uri("tracklog:")
    assert os.environ[_config.ENV_TRACKING_URI] == str(tmp_path / ".tracklog")
    assert tracklog.get_tracking_uri() == str(tmp_path / ".tracklog")


LOG_ONE = "import tracklog as mlflow\nmlflow.log_metric('a', 1)\nmlflow.log_metric('a', 2)\nprint(mlflow.get_tracking_uri())\n"


@pytest.mark.parametrize("uri", ["sqlite:///{tmp}/m.db", "file:{tmp}/mlruns", "{tmp}/otherdir", "postgresql://u:secret@db/x"])
def test_an_mlflow_backend_in_the_environment_is_named_once_and_runs_go_to_the_default(tmp_path, uri):
    """MLFLOW_TRACKING_URI naming one of MLflow's own stores: the run goes to ./.tracklog,
    and one warning says so and how to choose (credentials not shown)."""
    uri = uri.format(tmp=tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", LOG_ONE], env=python_env(MLFLOW_TRACKING_URI=uri), capture_output=True,
        text=True, timeout=TIMEOUT, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / ".tracklog")
    warnings = [line for line in done.stderr.splitlines() if "MLFLOW_TRACKING_URI=" in line]
    assert len(warnings) == 1, done.stderr
    assert "tracklog:PATH" in warnings[0] and "secret" not in warnings[0]
    client = tracklog.tracking.MlflowClient(str(tmp_path / ".tracklog"))
    (run,) = client.search_runs(["0"])
    assert run.data.metrics == {"a": 2.0}


def test_a_workspace_named_in_the_environment_takes_the_runs_without_a_warning(tmp_path):
    """TRACKLOG_WORKSPACE beside an MLflow backend's URI (as under ``tracklog run``): no warning."""
    done = subprocess.run(
        [sys.executable, "-c", LOG_ONE],
        env=python_env(MLFLOW_TRACKING_URI="sqlite:///m.db", TRACKLOG_WORKSPACE=str(tmp_path / "ws")),
        capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "ws")
    assert "MLFLOW_TRACKING_URI" not in done.stderr
