"""A run tracklog's own API or the swap made, read through the real MLflow: its user and
source are under MLflow's tag names (the UI's User and Source columns), RunInfo has the
user, and a ``tags.mlflow.user`` filter finds it, as it does for a run MLflow made."""

from __future__ import annotations

import getpass
import subprocess
import sys

import pytest

mlflow = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")

from tests.conftest import python_env  # noqa: E402

SCRIPT = """
import sys
import tracklog as mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("prov")
with mlflow.start_run(run_name="swapped"):
    mlflow.log_metric("m", 1)
"""


def test_a_swapped_scripts_run_has_mlflows_user_and_source_tags_in_mlflow(tmp_path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "ws")], env=python_env(),
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    user = getpass.getuser()
    mlflow.set_tracking_uri(f"tracklog:{tmp_path / 'ws'}")
    try:
        (run,) = mlflow.search_runs(experiment_names=["prov"], output_format="list")
        found = mlflow.search_runs(experiment_names=["prov"], filter_string=f"tags.`mlflow.user` = '{user}'")
    finally:
        mlflow.set_tracking_uri(None)
    tags = run.data.tags
    assert tags["mlflow.user"] == user and run.info.user_id == user
    assert tags["mlflow.source.name"] == str(script) and tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.runName"] == "swapped"
    assert list(found["run_id"]) == [run.info.run_id]
