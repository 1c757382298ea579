"""Odd values on every store: what tracklog/_values.py decides at call time reads back
alike from SQLite and from a real MLflow server."""

from __future__ import annotations

import logging
import math
import os

import pytest

import tracklog
from tracklog.handlers import RunHandler

from .conftest import unique


@pytest.fixture(params=["sqlite", "mlflow"])
def run(request, tmp_path):
    """A live run on each store: an embedded folder, then the real MLflow server."""
    if request.param == "sqlite":
        ws = tracklog.Workspace(tmp_path / "ws")
    else:
        ws = tracklog.Workspace(request.getfixturevalue("mlflow_uri"))
    run = tracklog.Experiment(ws, unique()).start_logging("odd")
    yield run
    if not run.target.closed:
        run.complete()


def test_odd_values_read_back_alike_on_every_store(run, caplog):
    """Wide ints as floats, a step beyond 64 bits as the next step, surrogates escaped,
    'NaN' text cells as text and NaN cells as floats; no ERROR from the writer."""
    caplog.set_level(logging.WARNING)
    run.log("wide", 2**63)
    run.log("stepped", 0.5, step=2**63)
    run.log("name\udcff", 1.0)
    run.log_row("table", text="NaN", number=math.nan, big=2**70)
    log = logging.getLogger("odd.stores")
    log.propagate = False
    log.handlers[:] = [RunHandler(run)]
    log.warning("opened %s", os.fsdecode(b"caf\xe9.txt"), extra={"metric": "wide_record", "value": 2**80})
    run.complete()
    metrics = run.get_metrics()
    assert metrics["wide"] == float(2**63) and metrics["wide_record"] == float(2**80)
    assert [(p.step, p.value) for p in run.get_metric_history("stepped")] == [(0, 0.5)]
    assert metrics["name\\udcff"] == 1.0
    table = metrics["table"]
    assert table["text"] == ["NaN"] and math.isnan(table["number"][0]) and table["big"] == [float(2**70)]
    assert [r["message"] for r in run.get_logs()] == ["opened caf\udce9.txt"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
