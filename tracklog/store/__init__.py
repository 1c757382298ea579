"""Where runs live: the embedded SQLite store, or an MLflow tracking server, chosen by location."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import WorkspaceError
from ._base import Store
from ._names import PENDING_EXPERIMENT, display_uri, is_pending_experiment, redact_uri
from ._series import Chunk, ChunkReader, KeySummary, bucket_count, numbers
from ._sqlite import SQLiteStore

if TYPE_CHECKING:
    from ._http import RemoteError
    from ._mlflow import MLflowStore

__all__ = [
    "Chunk",
    "ChunkReader",
    "KeySummary",
    "MLflowStore",
    "PENDING_EXPERIMENT",
    "RemoteError",
    "SQLiteStore",
    "Store",
    "bucket_count",
    "display_uri",
    "is_pending_experiment",
    "numbers",
    "open_store",
    "redact_uri",
]


def __getattr__(name: str) -> Any:
    # The remote store pulls in requests: imported on first use, not with tracklog.
    if name == "MLflowStore":
        from ._mlflow import MLflowStore

        return MLflowStore
    if name == "RemoteError":
        from ._http import RemoteError

        return RemoteError
    raise AttributeError(name)


def open_store(location: str, *, create: bool = True) -> Store:
    """The store for a workspace path (or ``file:`` / ``sqlite:`` URI), or an MLflow server URL."""
    if location.startswith(("http://", "https://")):
        from ._mlflow import MLflowStore

        return MLflowStore(location, create=create)
    for prefix in ("file://", "file:", "sqlite:///", "sqlite://"):
        if location.startswith(prefix):
            location = location[len(prefix):] or "."
            break
    if "://" in location:
        raise WorkspaceError(
            f"cannot store runs at {redact_uri(location)!r}: give a folder path for the embedded "
            "store, or an MLflow tracking server's http(s):// URL"
        )
    return SQLiteStore(location, create=create)
