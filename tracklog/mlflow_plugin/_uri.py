"""``tracklog:`` URIs: which workspace folder a tracking URI names."""

from __future__ import annotations

import os

from .. import _config
from .._errors import WorkspaceError

SCHEME = "tracklog"


def workspace_path(uri: str | None) -> str:
    """The workspace folder of ``tracklog:PATH``, ``tracklog:///abs/path`` or bare ``tracklog:``.

    A bare ``tracklog:`` is the default workspace (TRACKLOG_WORKSPACE, else ./.tracklog);
    a relative PATH is relative to the current folder, ``~`` is the home folder.
    """
    raw = uri or f"{SCHEME}:"
    if not raw.startswith(f"{SCHEME}:"):
        raise WorkspaceError(f"{raw!r} is not a tracklog: URI (tracklog:PATH or tracklog:///abs/path)")
    rest = raw[len(SCHEME) + 1:]
    if rest.startswith("//"):
        host, _, path = rest[2:].partition("/")
        if host not in ("", "localhost"):
            raise WorkspaceError(
                f"{raw!r} names a host ({host!r}); a tracklog: URI is a local folder: tracklog:///abs/path, "
                "or use the MLflow server's http(s):// URL"
            )
        rest = "/" + path
    if not rest:
        rest = _config.workspace_location(None)
        if "://" in rest:
            raise WorkspaceError(
                f"bare tracklog: means the default workspace, but that is a server ({rest.split('://')[0]}://...);"
                " give a folder: tracklog:PATH"
            )
    return os.path.abspath(os.path.expanduser(rest))


def tracking_uri(path: str) -> str:
    """The ``tracklog:`` URI of a workspace folder (absolute, so a child in another folder finds it)."""
    return f"{SCHEME}:{os.path.abspath(path)}"
