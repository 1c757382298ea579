"""``mlflow.exceptions`` for ``import tracklog as mlflow``.

``except mlflow.exceptions.MlflowException`` catches every error tracklog raises on
purpose (an unknown run, a param set twice, an existing experiment name), as
MLflow's own exception does for its client.
"""

from __future__ import annotations

from ._errors import TracklogError

__all__ = ["MlflowException"]

#: MLflow's catch-all error type is tracklog's: every deliberate error derives from it.
MlflowException = TracklogError
