"""tracklog run points a child's MLflow at its workspace only where MLflow can open it.

The child gets ``MLFLOW_TRACKING_URI=tracklog:<workspace>``; a child Python without
tracklog installed (another interpreter, another venv) would then fail on every
MLflow call ("unexpected URI scheme 'tracklog'"), so the bootstrap takes the
variable away there, and that program's MLflow logs where it would have without us.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.capture.capture_support import PYTHON, TIMEOUT, env, script

SHOW = """
import json, os
print(json.dumps({"uri": os.environ.get("MLFLOW_TRACKING_URI")}))
"""


def _seen(tmp_path, python: str, options: tuple[str, ...] = (), **extra: str) -> str | None:
    child = script(tmp_path, "show.py", SHOW)
    ws = tmp_path / "ws"
    argv = [PYTHON, "-m", "tracklog", "--workspace", str(ws), "run", *options, "--", python, str(child)]
    done = subprocess.run(argv, env=env(**extra), capture_output=True, timeout=TIMEOUT, check=True)
    (out,) = [json.loads(line) for line in done.stdout.splitlines()] or [{}]
    return out.get("uri")


def _base_python() -> str:
    base = getattr(sys, "_base_executable", "") or ""
    if not base or sys.prefix == sys.base_prefix:
        pytest.skip("the tests run in the base interpreter, not in a venv")
    probe = subprocess.run(
        [base, "-c", "import importlib.metadata as m; m.distribution('tracklog')"],
        capture_output=True, timeout=TIMEOUT, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    if probe.returncode == 0:
        pytest.skip("the base interpreter has tracklog installed too")
    return base


def test_a_python_with_tracklog_installed_gets_the_workspace_uri(tmp_path):
    uri = _seen(tmp_path, PYTHON)
    assert uri == "tracklog:" + str((tmp_path / "ws").resolve())


def test_a_python_without_tracklog_installed_keeps_mlflow_as_it_was(tmp_path):
    # The repo is on this child's PYTHONPATH (so the package imports), but no tracklog
    # distribution is installed for it, so MLflow's entry points would not know the scheme.
    assert _seen(tmp_path, _base_python()) is None


def test_a_uri_the_user_set_is_kept_in_both(tmp_path):
    given = "http://127.0.0.1:9/"
    assert _seen(tmp_path, PYTHON, MLFLOW_TRACKING_URI=given) == given
    assert _seen(tmp_path, _base_python(), MLFLOW_TRACKING_URI=given) == given


def test_without_the_bootstrap_the_child_mlflow_is_left_alone(tmp_path):
    # --no-logging-capture keeps the bootstrap out of the child, so nothing could guard the variable.
    assert _seen(tmp_path, PYTHON, ("--no-logging-capture",)) is None
