"""`mlflow server --backend-store-uri tracklog:PATH` serves a workspace: MLflow clients read runs
logged by RunHandler, run.log and `tracklog run` over MLflow's REST API, write runs tracklog
reads back, and MLflow's own UI lists the runs (headless Chromium)."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest
import requests

from tests.mlflow_plugin.plugin_support import (
    PYTHON,
    TRACKLOG,
    TracklogMLflowServer,
    clean_env,
)

mlflow = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")

import tracklog
from tracklog.handlers import RunHandler

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def _log_tracklog_runs(workspace: Path) -> dict[str, str]:
    """Three runs written by tracklog itself: through RunHandler, run.log, and `tracklog run`."""
    exp = tracklog.Workspace(workspace).experiment("served")
    with exp.start_logging("by-handler") as run:
        logger = logging.getLogger("served.handler")
        logger.setLevel(logging.INFO)
        handler = RunHandler(run)
        logger.addHandler(handler)
        try:
            for step in range(5):
                logger.info("epoch", extra={"metric": "loss", "value": 1.0 / (step + 1), "step": step})
        finally:
            logger.removeHandler(handler)
        run.log_param("lr", 0.01)
    with exp.start_logging("by-run-log") as run:
        for step in range(3):
            run.log("acc", 0.5 + step / 10)
        run.tag("kind", "run.log")
    child = "import tracklog; tracklog.Run.get_context().log('speed', 7.0)"
    subprocess.run(
        [TRACKLOG, "run", "--workspace", str(workspace), "--experiment", "served", "--name", "by-cli", "--",
         PYTHON, "-c", child],
        env=clean_env(), check=True, capture_output=True, timeout=300,
    )
    tracklog.Workspace(workspace).flush()
    return {r.name: r.id for r in tracklog.Workspace(workspace).get_runs()}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A workspace with tracklog's runs, and an mlflow server over it."""
    root = tmp_path_factory.mktemp("served")
    workspace = root / "ws"
    ids = _log_tracklog_runs(workspace)
    server = TracklogMLflowServer(root, workspace)
    server.start()
    try:
        yield server, ids
    finally:
        server.stop()


def test_mlflow_clients_read_tracklog_runs_over_rest(served):
    """MlflowClient over REST: the experiment, the three runs, their params, tags and metric history."""
    server, ids = served
    client = mlflow.MlflowClient(server.uri)
    experiment = client.get_experiment_by_name("served")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) >= {"by-handler", "by-run-log", "by-cli"}
    handler = runs["by-handler"]
    assert handler.info.run_id == ids["by-handler"] and handler.info.status == "FINISHED"
    assert handler.data.params == {"lr": "0.01"} and handler.data.metrics == {"loss": 0.2}
    assert [(m.step, m.value) for m in client.get_metric_history(handler.info.run_id, "loss")] == [
        (s, 1.0 / (s + 1)) for s in range(5)
    ]
    assert runs["by-run-log"].data.tags["kind"] == "run.log"
    assert runs["by-cli"].data.metrics == {"speed": 7.0}
    found = client.search_runs([experiment.experiment_id], "metrics.acc > 0.6", order_by=["metrics.acc DESC"])
    assert [r.info.run_name for r in found] == ["by-run-log"]
    # The chart read MLflow's UI makes.
    answer = requests.get(
        server.uri + "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
        params={"run_ids": ids["by-handler"], "metric_key": "loss", "max_results": 100}, timeout=60,
    ).json()
    assert [m["step"] for m in answer["metrics"]] == [0, 1, 2, 3, 4]


def test_runs_written_over_rest_are_in_the_workspace(served):
    """A REST client's run, params, metrics and end land in the workspace, durable when each
    request is answered (the server's workers are processes of their own)."""
    server, _ = served
    client = mlflow.MlflowClient(server.uri)
    experiment_id = client.create_experiment("from-rest", tags={"team": "x"})
    run = client.create_run(experiment_id, run_name="rest-run")
    client.log_batch(run.info.run_id, metrics=[mlflow.entities.Metric("m", float(i), 0, i) for i in range(4)],
                     params=[mlflow.entities.Param("p", "1")])
    assert [m.value for m in client.get_metric_history(run.info.run_id, "m")] == [0.0, 1.0, 2.0, 3.0]
    client.set_terminated(run.info.run_id)
    ours = tracklog.Workspace(server.workspace).get_run(run.info.run_id)
    assert ours.status == "Completed" and ours.get_params() == {"p": "1"}
    assert ours.get_metrics()["m"] == [0.0, 1.0, 2.0, 3.0]
    assert ours.experiment.name == "from-rest"
    assert client.get_experiment(experiment_id).tags == {"team": "x"}


def test_mlflow_ui_lists_the_workspace_runs(served, tmp_path):
    """MLflow's own UI, in headless Chromium, shows the runs tracklog logged."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    server, _ = served
    experiment = mlflow.MlflowClient(server.uri).get_experiment_by_name("served")
    with sync_api.sync_playwright() as manager:
        browser = manager.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=120_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(f"{server.uri}/#/experiments/{experiment.experiment_id}/runs")
            try:
                for name in ("by-handler", "by-run-log", "by-cli"):
                    page.get_by_text(name, exact=True).first.wait_for()
            finally:
                page.screenshot(path=str(tmp_path / "mlflow-ui.png"))
                shot = os.environ.get("TRACKLOG_TEST_SCREENSHOT")
                if shot:
                    page.screenshot(path=shot)
        finally:
            browser.close()
