"""Where ``tracklog ui`` shows a run: Azure's portal URL, made local."""

from __future__ import annotations

import os
import urllib.parse

#: ``tracklog ui``'s default address (its --host and --port defaults).
UI_HOST = "127.0.0.1"
UI_PORT = 5005
#: Set to the address ``tracklog ui`` is served at when it is not the default one.
ENV_UI_URL = "TRACKLOG_UI_URL"


def ui_base() -> str:
    """The UI's base address: TRACKLOG_UI_URL, else http://127.0.0.1:5005."""
    return (os.environ.get(ENV_UI_URL) or f"http://{UI_HOST}:{UI_PORT}").rstrip("/")


def run_page_url(run_id: str) -> str:
    """The address of one run's page in ``tracklog ui`` (its route ``#/run/<id>``)."""
    return f"{ui_base()}/#/run/{urllib.parse.quote(run_id, safe='')}"
