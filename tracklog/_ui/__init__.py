"""The local web UI: ``tracklog ui`` serves a workspace's runs, read-only, on 127.0.0.1."""

from __future__ import annotations

from ._server import DEFAULT_HOST, DEFAULT_PORT, UIServer, make_server

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "UIServer", "make_server"]
