"""The local web UI: ``tracklog ui`` serves a workspace's runs, read-only, on 127.0.0.1.

The server (http.server, mimetypes, the page's API) is imported on first use of
``UIServer`` or ``make_server`` (PEP 562 below), so the other commands, which only
read this package's defaults or its chart and CSV helpers, do not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._azure_portal import UI_HOST as DEFAULT_HOST
from .._azure_portal import UI_PORT as DEFAULT_PORT
from ._csv import safe_row
from ._plot import plot_metric

if TYPE_CHECKING:
    from ._server import UIServer, make_server

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "UIServer", "make_server", "plot_metric", "safe_row"]


def __getattr__(name: str) -> Any:
    """The server's names on first use."""
    if name in ("UIServer", "make_server"):
        from . import _server

        value = getattr(_server, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tracklog._ui' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
