"""The POINTS layout (many points of one metric, as captured metric lines make them) on every store."""

from __future__ import annotations

import gc
import math

import pytest

import tracklog
from tracklog.pipeline.event import METRIC, POINTS, Event, as_events

from .conftest import unique


@pytest.fixture(params=["sqlite", "mlflow"])
def exp(request, tmp_path) -> tracklog.Experiment:
    """An experiment on each store: an embedded folder, then the real MLflow server."""
    if request.param == "sqlite":
        return tracklog.Experiment(tracklog.Workspace(tmp_path / "ws"), unique())
    return tracklog.Experiment(tracklog.Workspace(request.getfixturevalue("mlflow_uri")), unique())


def test_points_read_back_as_the_same_series_as_single_points(exp):
    run = exp.start_logging("points")
    run.log("loss", 9.0)  # step 0, one point as run.log makes it
    run.target.steps["loss"] = 4
    values = [1.0, 0.5, math.nan, 0.25]
    run.target.pipeline.put((run.id, POINTS, "loss", values, [1, 2, 3, 4], 1_700_000_000.5, 0, "", "", None))
    run.target.pipeline.put((run.id, POINTS, "count", [1, 2, 3], [0, 1, 2], 1_700_000_001.0, 0, "", "", None))
    run.complete()
    fetched = exp.workspace.get_run(run.id)
    history = fetched.get_metric_history("loss")
    assert [p.step for p in history] == [0, 1, 2, 3, 4]
    assert [p.value for p in history][:3] == [9.0, 1.0, 0.5] and math.isnan(history[3].value)
    assert [p.timestamp for p in history][1:] == pytest.approx([1_700_000_000.5] * 4, abs=1e-3)
    counts = fetched.get_metric_history("count")
    assert [(p.step, p.value) for p in counts] == [(0, 1), (1, 2), (2, 3)]


def test_as_events_expands_points_in_order():
    item = ("r", POINTS, "loss", [0.5, 0.25], [7, 8], 2.0, 0, "", "", None)
    assert as_events([item, ("r", METRIC, "acc", 1.0, 0, 3.0, 0, "", "", None)]) == [
        Event("r", METRIC, "loss", 0.5, 7, 2.0),
        Event("r", METRIC, "loss", 0.25, 8, 2.0),
        Event("r", METRIC, "acc", 1.0, 0, 3.0),
    ]


@pytest.mark.parametrize("enabled", [True, False])
def test_reading_a_history_leaves_the_collector_as_the_program_set_it(tmp_path, enabled):
    """metric_history pauses the garbage collector while it builds the points, and then
    leaves it as it was: on, or off when the program turned it off itself."""
    run = tracklog.Experiment(tracklog.Workspace(tmp_path / "ws"), "gc").start_logging("r")
    for i in range(3000):
        run.log("loss", i * 0.5)
    run.complete()
    was = gc.isenabled()
    if not enabled:
        gc.disable()
    try:
        points = tracklog.Workspace(tmp_path / "ws").get_run(run.id).get_metric_history("loss")
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()
    assert [(p.step, p.value) for p in points] == [(i, i * 0.5) for i in range(3000)]
