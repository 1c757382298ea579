"""MLflow's own input checks, as its SQL store makes them, for the tracklog: store.

Names of metrics, params and tags (MLflow's characters, no ``..``, not absolute, at most
250 characters), param and tag values (longer than 6000 and 8000 characters: cut, with
MLflow's warning, unless ``MLFLOW_TRUNCATE_LONG_VALUES=false``), batch sizes (1000 metrics,
100 params, 100 tags) and duplicate params raise MlflowException(INVALID_PARAMETER_VALUE)
with MLflow's message: these are MLflow's functions, called where its SQL store calls them.
A metric name checked once is remembered, so the ``log_metric`` loop pays a set lookup.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.validation import (
    _validate_batch_log_limits,
    _validate_metric,
    _validate_param,
    _validate_param_keys_unique,
    _validate_tag,
)

_MAX_KNOWN = 100_000


class MetricChecks:
    """MLflow's ``_validate_metric``, skipped for a plain point whose name already passed."""

    def __init__(self) -> None:
        self._names: set[str] = set()

    def check(self, metrics: Sequence[Metric], single: bool = False) -> None:
        names = self._names
        for index, m in enumerate(metrics):
            ts, step = m.timestamp, m.step
            if m.key in names and type(m.value) is float and type(ts) is int and ts >= 0 and type(step) is int:
                continue
            _validate_metric(m.key, m.value, ts, step, path="" if single else f"metrics[{index}]")
            if len(names) < _MAX_KNOWN:
                names.add(m.key)


def checked_batch(
    checks: MetricChecks, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
) -> tuple[list[Param], list[RunTag]]:
    """What MLflow's SQL store checks in ``log_batch``, in its order; the params and tags as
    it keeps them (long values cut)."""
    checks.check(metrics)
    kept_params = [_validate_param(p.key, p.value, path=f"params[{i}]") for i, p in enumerate(params)]
    kept_tags = [_validate_tag(t.key, t.value, path=f"tags[{i}]") for i, t in enumerate(tags)]
    _validate_batch_log_limits(metrics, kept_params, kept_tags)
    _validate_param_keys_unique(kept_params)
    return kept_params, kept_tags


def checked_param(param: Param) -> Param:
    """``log_param``'s check: MLflow's message names ``key``, not ``params[0].key``."""
    return _validate_param(param.key, param.value)


def checked_tag(tag: RunTag) -> RunTag:
    """``set_tag``'s check: MLflow's message names ``key``, not ``tags[0].key``."""
    return _validate_tag(tag.key, tag.value)
