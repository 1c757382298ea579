"""tracklog's errors as MLflow's own: MlflowException with the matching error code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)

from .._errors import (
    ExperimentNotFoundError,
    InvalidNameError,
    ParamConflictError,
    RunNotFoundError,
    TracklogError,
)
from ..store._registry_types import (
    ModelExistsError,
    ModelNotFoundError,
    PropertyConflictError,
)
from ..store._tracking_records import ExperimentExistsError

_CODES: list[tuple[type[Exception], int]] = [
    (RunNotFoundError, RESOURCE_DOES_NOT_EXIST),
    (ExperimentNotFoundError, RESOURCE_DOES_NOT_EXIST),
    (ModelNotFoundError, RESOURCE_DOES_NOT_EXIST),
    (ExperimentExistsError, RESOURCE_ALREADY_EXISTS),
    (ModelExistsError, RESOURCE_ALREADY_EXISTS),
    (ParamConflictError, INVALID_PARAMETER_VALUE),
    (PropertyConflictError, INVALID_PARAMETER_VALUE),
    (InvalidNameError, INVALID_PARAMETER_VALUE),
]


@contextlib.contextmanager
def mlflow_errors() -> Iterator[None]:
    """Raise a TracklogError from the block as MLflow's MlflowException (MLflow's callers catch those)."""
    try:
        yield
    except TracklogError as exc:
        code = next((c for kind, c in _CODES if isinstance(exc, kind)), INTERNAL_ERROR)
        raise MlflowException(str(exc), code) from exc
