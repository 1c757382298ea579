"""Where runs live: the embedded SQLite store, chosen by location (path or URI)."""

from __future__ import annotations

from ._base import Store
from ._sqlite import SQLiteStore

__all__ = ["SQLiteStore", "Store", "open_store"]


def open_store(location: str, *, create: bool = True) -> Store:
    """The store for a workspace path (or ``file:`` / ``sqlite:`` URI)."""
    for prefix in ("file://", "file:", "sqlite:///", "sqlite://"):
        if location.startswith(prefix):
            location = location[len(prefix):] or "."
            break
    if "://" in location:
        from .._errors import WorkspaceError

        raise WorkspaceError(
            f"tracklog cannot store runs at {location!r} yet: give a folder path for the embedded store"
        )
    return SQLiteStore(location, create=create)
