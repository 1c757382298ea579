"""MLflow 3's checks of names and values, for ``import tracklog as mlflow``, without mlflow.

The rules and messages of ``mlflow/utils/validation.py``, where MLflow's stores apply them:
a metric, param or tag name has only alphanumerics, ``_ - . /``, spaces and (not on
Windows) ``:``, does not resolve to another path (``..``, ``//``, a leading ``/``, ``.``,
empty) and has at most 250 characters; a param value over 6000 characters and a tag value
over 8000 are cut, with MLflow's warning, unless ``MLFLOW_TRUNCATE_LONG_VALUES`` is false;
a metric point needs a value that ``float()`` takes, a nonnegative timestamp and a numeric step;
experiment names have at most 500 characters, experiment tags 250 and 20000. A refusal is
MlflowRequestError(INVALID_PARAMETER_VALUE) with MLflow's message. The plugin route uses
MLflow's own functions instead (tracklog/mlflow_plugin/_validation.py).
"""

from __future__ import annotations

import json
import logging
import numbers
import os
import posixpath
import re
from collections.abc import Iterable
from typing import Any

from ._mlflow_entities import MlflowRequestError

MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_KEY_LENGTH = 250
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
TRUNCATE_ENV = "MLFLOW_TRUNCATE_LONG_VALUES"

#: What MLflow's client adds to an INVALID_PARAMETER_VALUE of ``log_param``.
PARAM_VALIDATION_MSG = """

The cause of this error is typically due to repeated calls
to an individual run_id event logging.

Incorrect Example:
---------------------------------------
with mlflow.start_run():
    mlflow.log_param("depth", 3)
    mlflow.log_param("depth", 5)
---------------------------------------

Which will throw an MlflowException for overwriting a
logged parameter.

Correct Example:
---------------------------------------
with mlflow.start_run():
    with mlflow.start_run(nested=True):
        mlflow.log_param("depth", 3)
    with mlflow.start_run(nested=True):
        mlflow.log_param("depth", 5)
---------------------------------------

Which will create a new nested run for each individual
model and prevent parameter key collisions within the
tracking store."""

_WINDOWS = os.name == "nt"
_NAME = re.compile(r"^[/\w.\- ]*$" if _WINDOWS else r"^[/\w.\- :]*$")
_BAD_CHARACTERS = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( )"
    + ("" if _WINDOWS else ", colon(:)") + " and slashes (/)."
)
_MISSING_KEY = "A key name must be provided."
_logger = logging.getLogger("tracklog.mlflow")

#: Metric, param and tag names that passed: the hot logging calls test membership only.
CHECKED: set[str] = set()
_MAX_CHECKED = 100_000


def invalid_value(path: str, value: Any, message: str) -> str:
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return f"Invalid value {shown} for parameter '{path}' supplied: {message}"


def exceeds_maximum_length(path: str, limit: int) -> str:
    return f"'{path}' exceeds the maximum length of {limit} characters"


def _json_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def check_name(name: Any, path: str, length_entity: str, what: str) -> str:
    """MLflow's checks of a metric (``what="metric"``), param or tag name; the name."""
    if name in CHECKED:
        return name  # type: ignore[no-any-return]
    if name is None:
        if what == "metric":
            raise MlflowRequestError(invalid_value(path, None, f"Metric name cannot be None. {_MISSING_KEY}"))
        if what == "param":
            raise MlflowRequestError(invalid_value(path, "", _MISSING_KEY))
        raise MlflowRequestError(f"Missing value for required parameter '{path}'.")
    if not _NAME.match(name):
        raise MlflowRequestError(invalid_value(path, name, _BAD_CHARACTERS))
    norm = posixpath.normpath(name)
    if norm != str(name) or norm == "." or norm.startswith("..") or norm.startswith("/"):
        raise MlflowRequestError(invalid_value(
            path, name,
            "Names may be treated as files in certain cases, and must not resolve to other names when "
            f"treated as such. This name would resolve to {norm!r}",
        ))
    limit(length_entity, MAX_ENTITY_KEY_LENGTH, name)
    if len(CHECKED) < _MAX_CHECKED:
        CHECKED.add(name)
    return name  # type: ignore[no-any-return]


def limit(entity: str, maximum: int, value: Any, truncate: bool = False) -> Any:
    """``value`` within ``maximum`` characters: cut with MLflow's warning when ``truncate``
    (and MLFLOW_TRUNCATE_LONG_VALUES is not false), else MLflow's error."""
    if value is None or len(value) <= maximum:
        return value
    if truncate and os.environ.get(TRUNCATE_ENV, "true").strip().lower() not in ("false", "0"):
        _logger.warning(
            "%s '%s...' (%d characters) is truncated to %d characters to meet the length limit.",
            entity, value[:100], len(value), maximum,
        )
        return value[:maximum]
    raise MlflowRequestError(exceeds_maximum_length(entity, maximum))


def metric_name(key: Any, path: str = "") -> str:
    """A metric's name, checked (``path`` is ``metrics[i]`` in a batch)."""
    if key in CHECKED:
        return key  # type: ignore[no-any-return]
    return check_name(key, _json_path(path, "name"), "Metric name", "metric")


def metric_point(key: Any, value: Any, timestamp: Any, step: Any, path: str = "") -> None:
    """MLflow's checks of a metric point's value, timestamp and step (text values are
    ``metric_number``'s): no value is MLflow's error; a value ``float()`` refuses raises its
    TypeError, as MLflow's client does; a negative or non-numeric timestamp and a
    non-numeric step are MLflow's errors."""
    if value is None:
        raise MlflowRequestError(f"Missing value for required parameter '{_json_path(path, 'value')}'.")
    if type(value) is not str and not isinstance(value, numbers.Real):
        value = float(value)  # MLflow's client: numpy/torch scalars pass, others raise TypeError
    if isinstance(value, numbers.Real):
        value = float(value)  # as MLflow's messages show it (its client made it a float)
    if timestamp is not None and (not isinstance(timestamp, numbers.Number) or timestamp < 0):
        raise MlflowRequestError(invalid_value(
            _json_path(path, "timestamp"), timestamp,
            f"metric '{key}' (value={value}). Timestamp must be a nonnegative long (64-bit integer) ",
        ))
    if step is not None and not isinstance(step, numbers.Number):
        raise MlflowRequestError(invalid_value(
            _json_path(path, "step"), step,
            f"metric '{key}' (value={value}). Step must be a valid long (64-bit integer).",
        ))


def param(key: Any, value: Any, path: str = "") -> tuple[str, Any]:
    """A param as MLflow keeps it: its name checked, a value over 6000 characters cut."""
    check_name(key, _json_path(path, "key"), "Param key", "param")
    if type(value) is str and len(value) > MAX_PARAM_VAL_LENGTH:
        value = limit("Param value", MAX_PARAM_VAL_LENGTH, value, truncate=True)
    return key, value


def tag(key: Any, value: Any, path: str = "") -> tuple[str, Any]:
    """A run tag as MLflow keeps it: its name checked, a value over 8000 characters cut."""
    check_name(key, _json_path(path, "key"), _json_path(path, "key"), "tag")
    if type(value) is str and len(value) > MAX_TAG_VAL_LENGTH:
        value = limit(_json_path(path, "value"), MAX_TAG_VAL_LENGTH, value, truncate=True)
    return key, value


def batch(metric_keys: Iterable[Any], params: Iterable[tuple[Any, Any]], tags: Iterable[tuple[Any, Any]]) -> tuple[
    list[tuple[str, Any]], list[tuple[str, Any]]
]:
    """MLflow's checks of one ``log_batch``, in its order: metric names, then params, then
    tags, then no param twice; the params and tags as MLflow keeps them."""
    for index, key in enumerate(metric_keys):
        metric_name(key, f"metrics[{index}]")
    kept_params = [param(k, v, f"params[{i}]") for i, (k, v) in enumerate(params)]
    kept_tags = [tag(k, v, f"tags[{i}]") for i, (k, v) in enumerate(tags)]
    seen: set[str] = set()
    dupes = []
    for key, _value in kept_params:
        if key in seen:
            dupes.append(key)
        seen.add(key)
    if dupes:
        raise MlflowRequestError(
            f"Duplicate parameter keys have been submitted: {dupes}. Please ensure the request "
            "contains only one param value per param key."
        )
    return kept_params, kept_tags


def experiment_name(name: Any) -> str:
    """MLflow's checks of an experiment name."""
    if name == "" or name is None:
        raise MlflowRequestError(f"Invalid experiment name: '{name}'")
    if not isinstance(name, str):
        raise MlflowRequestError(f"Invalid experiment name: {name}. Expects a string.")
    limit("name", MAX_EXPERIMENT_NAME_LENGTH, name)
    return name


def experiment_tag(key: Any, value: Any) -> None:
    """MLflow's checks of an experiment tag (no value is cut here: a long one is refused)."""
    check_name(key, "key", "key", "tag")
    limit("key", MAX_EXPERIMENT_TAG_KEY_LENGTH, key)
    limit("value", MAX_EXPERIMENT_TAG_VAL_LENGTH, value)
