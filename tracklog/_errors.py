"""The exceptions tracklog raises on the control plane (never from a logging call)."""

from __future__ import annotations


class TracklogError(Exception):
    """Base class of every error tracklog raises on purpose."""


class WorkspaceError(TracklogError):
    """The workspace path is unusable (a file, unwritable) or missing where it must exist."""


class RunNotFoundError(TracklogError, LookupError):
    """No run with this id (or id prefix) exists in the workspace."""


class ExperimentNotFoundError(TracklogError, LookupError):
    """No experiment with this name exists in the workspace."""


class ParamConflictError(TracklogError, ValueError):
    """A param was set again with a different value (params are immutable, as in MLflow)."""


class RunClosedError(TracklogError):
    """Data was logged through the run API into a run that has already ended."""


class InvalidNameError(TracklogError, ValueError):
    """A metric, tag, param or file name that tracklog refuses, with the reason."""


class ActiveRunError(TracklogError):
    """start_run() was called while a run is active without nested=True (MLflow's rule)."""
