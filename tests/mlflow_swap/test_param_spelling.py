"""A param or tag value is spelled alike on every route into a run, as MLflow spells it
(``str(value)``): one value logged through two vocabularies is one value, not a conflict."""

from __future__ import annotations

import decimal
import fractions
import logging

import numpy as np
import pytest

import tracklog as mlflow
from tracklog.handlers import RunHandler

# value -> what every route stores (MLflow's str(value)); None is the one exception below.
SPELLINGS = [
    (True, "True"),
    (False, "False"),
    (np.True_, "True"),
    (3, "3"),
    (10**30, "1" + "0" * 30),
    (0.1, "0.1"),
    (np.float32(0.1), "0.1"),
    (np.float64(0.25), "0.25"),
    (np.int64(7), "7"),
    (decimal.Decimal("1.50"), "1.50"),
    (fractions.Fraction(1, 3), "1/3"),
    ("text", "text"),
]


@pytest.fixture
def ws(tmp_path):
    mlflow.set_tracking_uri(f"tracklog:{tmp_path / 'ws'}")


@pytest.mark.parametrize(("value", "text"), SPELLINGS, ids=repr)
def test_the_run_api_the_swap_and_a_record_spell_a_param_alike(ws, value, text):
    log = logging.getLogger("spelling")
    handler = RunHandler()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with mlflow.start_run() as run:
            run.log_param("by_run", value)
            mlflow.log_param("by_swap", value)
            log.info("config", extra={"params": {"by_record": value}})
            run.tag("tag_by_run", value)
            mlflow.set_tag("tag_by_swap", value)
            # The same value again on the other routes: no ParamConflictError, no warning.
            mlflow.log_param("by_run", value)
            run.log_param("by_swap", value)
            mlflow.log_params({"by_record": value})
    finally:
        log.removeHandler(handler)
    stored = mlflow.get_run(run.id).data
    assert stored.params == {"by_run": text, "by_swap": text, "by_record": text}
    assert {k: v for k, v in stored.tags.items() if k.startswith("tag_")} == {"tag_by_run": text, "tag_by_swap": text}


def test_a_torch_bool_is_true_or_false_on_the_run_api(ws):
    torch = pytest.importorskip("torch")
    with mlflow.start_run() as run:
        run.log_param("flag", torch.tensor(True))
        run.log_param("scalar", torch.tensor(0.5))
    assert mlflow.get_run(run.id).data.params == {"flag": "True", "scalar": "0.5"}


def test_a_none_param_is_empty_on_the_run_api_and_none_on_the_swap(ws):
    """Azure's tag with no value is an empty string; MLflow spells None "None"."""
    with mlflow.start_run() as run:
        run.log_param("azure", None)
        mlflow.log_param("mlflow", None)
    assert mlflow.get_run(run.id).data.params == {"azure": "", "mlflow": "None"}
