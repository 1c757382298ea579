"""One cost MLflow pays on every ``log_metric`` that a tracklog: store can spare it.

Each ``mlflow.log_metric`` builds two ``MlflowClient`` objects, and each looks for an
active Spark session with ``from pyspark.sql import SparkSession``. Python does not
remember a failed import, so without pyspark every call scans all of ``sys.path``
twice: about two thirds of the call's time. When pyspark is not installed at all, we
record that once in ``sys.modules`` (``None``: Python's own marker for "no such module";
an import then raises ModuleNotFoundError at once, as it would have after the scan).
"""

from __future__ import annotations

import importlib.util
import sys

_SPARK = "pyspark"


def remember_pyspark_is_absent() -> None:
    """Make the failed ``import pyspark`` MLflow repeats on every call fail at once (absent only)."""
    if _SPARK not in sys.modules and importlib.util.find_spec(_SPARK) is None:
        sys.modules[_SPARK] = None  # type: ignore[assignment]
