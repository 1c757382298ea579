"""tracklog's errors as MLflow's own: MlflowException with the matching error code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    NOT_IMPLEMENTED,
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


class Unsupported(MlflowException, NotImplementedError):
    """What a tracklog: workspace does not keep (traces, datasets, gateway, scorers, ...):
    MLflow's own error type for its callers, and a NotImplementedError for the places in
    MLflow's server and tracing that fall back when a store lacks a feature."""


def refuse_unsupported(cls: type, base: type) -> None:
    """Give ``cls`` a method raising Unsupported, with a clear message, for each method of
    ``base`` it does not override whose base version only raises NotImplementedError."""
    for name, member in vars(base).items():
        if name.startswith("__") or not callable(member):
            continue
        if getattr(cls, name, None) is not member:
            continue  # cls or one of its mixins implements it
        if _only_raises_not_implemented(member):
            setattr(cls, name, _refusal(name))


def _only_raises_not_implemented(function: object) -> bool:
    code = getattr(function, "__code__", None)
    names = set(getattr(code, "co_names", ()))
    return "NotImplementedError" in names and names <= {"NotImplementedError", "__class__", "__name__"}


def _refusal(name: str):  # type: ignore[no-untyped-def]
    def refuse(self: object, *args: object, **kwargs: object) -> None:
        raise Unsupported(
            f"{name}: a tracklog: workspace keeps runs, metrics, params, tags, artifacts, inputs, "
            "logged models and the model registry, not this (use an MLflow server with a SQL "
            "backend for traces, datasets, gateway endpoints and scorers)",
            NOT_IMPLEMENTED,
        )

    refuse.__name__ = name
    return refuse
