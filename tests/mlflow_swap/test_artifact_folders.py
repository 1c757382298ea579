"""Copying a folder into a run: the current folder itself is refused as MLflow refuses it,
and a copy of a folder that holds the workspace leaves the workspace out (it would copy
the run into itself)."""

from __future__ import annotations

import pytest

import tracklog
import tracklog as mlflow
from tracklog.exceptions import MlflowException


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder holding its workspace at the default ./.tracklog, as a script's cwd."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    (tmp_path / "README").write_text("notes\n")
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"tracklog:{tmp_path / '.tracklog'}")
    return tmp_path


@pytest.mark.parametrize("folder", [".", "./", ".."])
def test_log_artifact_of_the_current_or_parent_folder_is_refused_as_in_mlflow(project, folder):
    with mlflow.start_run() as run:
        with pytest.raises(MlflowException) as refused:
            mlflow.log_artifact(folder)
        assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
        assert "Invalid artifact path" in refused.value.message
    assert mlflow.MlflowClient().list_artifacts(run.info.run_id) == []


def test_log_artifact_of_a_named_folder_copies_it_under_its_name(project):
    with mlflow.start_run() as run:
        mlflow.log_artifact("src")
    assert [f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id, "src")] == ["src/train.py"]


def test_log_artifacts_of_the_project_leaves_its_workspace_out(project):
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0)
        mlflow.log_artifacts(".", "snapshot")
    listed = [f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id, "snapshot")]
    assert listed == ["snapshot/README", "snapshot/src"]


def test_upload_folder_of_the_project_leaves_its_workspace_out(project):
    run = tracklog.Experiment(tracklog.Workspace(str(project / ".tracklog")), "e").start_logging()
    run.upload_folder("code", ".")
    run.complete()
    assert sorted(n for n in run.get_file_names() if n.startswith("code/")) == ["code/README", "code/src/train.py"]
