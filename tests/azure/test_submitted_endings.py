"""A submitted script that ends its own run keeps that ending, as Azure ML does."""

from __future__ import annotations

import textwrap

import pytest

from tracklog import ActivityFailedException, Experiment, ScriptRunConfig, Workspace

SELF_FAIL = textwrap.dedent(
    """
    from azureml.core import Run
    run = Run.get_context()
    run.log("m", 1)
    run.fail(error_details="validation accuracy too low", error_code="LowAccuracy")
    """
)
SELF_CANCEL = textwrap.dedent(
    """
    from azureml.core import Run
    run = Run.get_context()
    run.log("m", 1)
    run.cancel()
    """
)


def _submit(tmp_path, name: str, source: str):
    (tmp_path / name).write_text(source)
    return Experiment(Workspace(), "self-ended").submit(ScriptRunConfig(source_directory=str(tmp_path), script=name))


def test_a_script_that_fails_its_own_run_and_exits_0_leaves_it_failed_with_its_error(tmp_path):
    """run.fail(error_details, error_code), then exit 0: Failed with the script's error and code."""
    run = _submit(tmp_path, "selffail.py", SELF_FAIL)
    with pytest.raises(ActivityFailedException, match="validation accuracy too low"):
        run.wait_for_completion()
    assert run.get_status() == "Failed"
    assert run.get_details()["error"] == {"error": {"code": "LowAccuracy", "message": "validation accuracy too low"}}
    assert run.get_metrics() == {"m": 1} and run.get_tags()["tracklog.exit_code"] == "0"


def test_a_script_that_cancels_its_own_run_and_exits_0_leaves_it_canceled(tmp_path):
    """run.cancel(), then exit 0: Canceled, not Completed."""
    run = _submit(tmp_path, "selfcancel.py", SELF_CANCEL)
    assert run.wait_for_completion()["status"] == "Canceled"
    assert run.get_status() == "Canceled"
