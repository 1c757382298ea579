"""The local web UI: ``tracklog ui`` serves a workspace's runs, read-only, on 127.0.0.1.

The server (and ``http.server``) is imported on first use, so every other CLI
command starts without it.
"""

from __future__ import annotations

from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5005

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "UIServer", "make_server"]


def __getattr__(name: str) -> Any:
    if name in ("UIServer", "make_server"):
        from . import _server

        return getattr(_server, name)
    raise AttributeError(name)
