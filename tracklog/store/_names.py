"""Names the stores share with the layers above: locations safe to show, pending experiment ids.

Light on purpose (no ``requests``): the workspace, the CLI and the UI import it.
"""

from __future__ import annotations

import re
import urllib.parse

__all__ = ["PENDING_EXPERIMENT", "display_uri", "is_pending_experiment", "redact_uri"]

#: The id of an experiment a remote store has not looked up yet: ``pending:<name>``. The
#: sender finds or creates it on the server; reads then give its real id.
PENDING_EXPERIMENT = "pending:"

_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@]*@")


def display_uri(uri: str) -> str:
    """An http(s) ``uri`` without user name, password, query or fragment: safe to log and store."""
    parts = urllib.parse.urlsplit(uri)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    try:
        port = parts.port
    except ValueError:  # a port that is no number: shown as no port
        port = None
    if port:
        netloc += f":{port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def redact_uri(location: str) -> str:
    """A workspace location as it may be shown: credentials (``user:pass@``) and an http(s)
    query removed; a folder path unchanged."""
    if location.startswith(("http://", "https://")):
        return display_uri(location)
    return _USERINFO.sub(r"\1", location)


def is_pending_experiment(experiment_id: str) -> bool:
    """True for the id of an experiment a remote store has not found on its server yet."""
    return experiment_id.startswith(PENDING_EXPERIMENT)
