"""MLflow's plugins for ``tracklog:`` URIs: the real MLflow client, autolog and flavors
included, writes into a tracklog workspace (``MLFLOW_TRACKING_URI=tracklog:./.tracklog``).

MLflow loads this package through the entry points in pyproject.toml; nothing in
tracklog imports it, so mlflow stays an optional extra (``tracklog[mlflow]``).
"""

from __future__ import annotations

from ._registry import TracklogRegistryStore
from ._store import TracklogStore
from ._uri import SCHEME, tracking_uri, workspace_path

__all__ = ["SCHEME", "TracklogRegistryStore", "TracklogStore", "tracking_uri", "workspace_path"]
