"""The run page's registry and Azure chart data: models registered from the run, chart files."""

from __future__ import annotations

import json
import math
from typing import IO, Any, Callable

from .._errors import TracklogError
from ..run import CHARTS
from ..store import Store

#: Azure's chart kinds the page draws (schema_type of a charts/<name>.json file).
KINDS = ("confusion_matrix", "accuracy_table", "residuals", "predictions")
#: Bytes of one chart file read for the page; a larger one is listed, not drawn.
CHART_BYTES = 2 * 1024 * 1024


def run_models(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The model versions registered from the run (empty on a store with no registry)."""
    try:
        versions = store.search_model_versions(run_id=run_id)
    except TracklogError:  # a remote MLflow store: no local registry to show
        return []
    return [
        {
            "name": v.name,
            "version": v.version,
            "path": v.model_path or v.source,
            "source": v.source,
            "description": v.description or "",
            "stage": v.stage,
            "created": v.created,
            "tags": dict(v.tags),
            "properties": dict(v.properties),
        }
        for v in sorted(versions, key=lambda v: (v.name, v.version))
    ]


#: Opens a run's file to serve it (the UI's checked opener: no symlink out of the workspace).
Opener = Callable[[Store, str, str], IO[bytes]]


def run_charts(store: Store, run_id: str, files: list[str], opener: Opener) -> list[dict[str, Any]]:
    """Each Azure chart file of the run (charts/*.json) with its kind and data, finite numbers only."""
    out = []
    for file in files:
        if not (file.startswith(CHARTS) and file.endswith(".json")):
            continue
        entry: dict[str, Any] = {"name": file[len(CHARTS):-5], "file": file}
        body = _read(store, run_id, file, opener)
        kind = body.get("schema_type") if isinstance(body, dict) else None
        data = body.get("data") if isinstance(body, dict) else None
        if kind in KINDS and isinstance(data, dict):
            entry.update(kind=kind, data=_clean(data))
        else:
            entry.update(kind=None, data=None, note="not a chart the page can draw")
        out.append(entry)
    return out


def _read(store: Store, run_id: str, file: str, opener: Opener) -> Any:
    """A chart file's JSON, or None when unreadable, too large or not JSON."""
    try:
        with opener(store, run_id, file) as handle:
            raw = handle.read(CHART_BYTES + 1)
    except (OSError, LookupError, TracklogError):
        return None
    if len(raw) > CHART_BYTES:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _clean(value: Any) -> Any:
    """The payload with NaN and infinities as None (the API sends strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
