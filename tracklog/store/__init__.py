"""Where runs live: the embedded SQLite store, or an MLflow tracking server, chosen by location."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import WorkspaceError
from ._base import Store
from ._names import PENDING_EXPERIMENT, display_uri, is_pending_experiment, redact_uri
from ._registry_types import (
    ModelExistsError,
    ModelNotFoundError,
    ModelVersionInfo,
    PropertyConflictError,
    RegisteredModelInfo,
)
from ._series import Chunk, ChunkReader, KeySummary, bucket_count, numbers
from ._spool import counts_text
from ._sqlite import SQLiteStore
from ._tracking_records import ExperimentExistsError

if TYPE_CHECKING:
    from ._http import RemoteError
    from ._mlflow import MLflowStore
    from ._sync import PendingResult, RunSyncResult, SyncProgress, send_pending, sync_run

__all__ = [
    "Chunk",
    "ChunkReader",
    "ExperimentExistsError",
    "KeySummary",
    "MLflowStore",
    "ModelExistsError",
    "ModelNotFoundError",
    "ModelVersionInfo",
    "PENDING_EXPERIMENT",
    "PendingResult",
    "PropertyConflictError",
    "RegisteredModelInfo",
    "RemoteError",
    "RunSyncResult",
    "SQLiteStore",
    "Store",
    "SyncProgress",
    "bucket_count",
    "counts_text",
    "display_uri",
    "is_pending_experiment",
    "numbers",
    "open_store",
    "redact_uri",
    "send_pending",
    "sync_run",
]

_SYNC_NAMES = ("PendingResult", "RunSyncResult", "SyncProgress", "send_pending", "sync_run")


def __getattr__(name: str) -> Any:
    # The remote store pulls in requests: imported on first use, not with tracklog.
    if name == "MLflowStore":
        from ._mlflow import MLflowStore

        return MLflowStore
    if name == "RemoteError":
        from ._http import RemoteError

        return RemoteError
    if name in _SYNC_NAMES:
        from . import _sync

        return getattr(_sync, name)
    raise AttributeError(name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def open_store(location: str, *, create: bool = True) -> Store:
    """The store for a workspace path (or ``file:`` / ``sqlite:`` URI), or an MLflow server URL."""
    if location.startswith(("http://", "https://")):
        # Through this package's face (above): requests loads with the first remote store.
        remote: Any = __getattr__("MLflowStore")
        return remote(location, create=create)  # type: ignore[no-any-return]
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
