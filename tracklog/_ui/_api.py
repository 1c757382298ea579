"""The UI's JSON answers, built from the Store's read methods (no HTTP here)."""

from __future__ import annotations

import math
import os
import time
from typing import IO, Any, Iterator, Sequence

from .._errors import InvalidNameError
from .._logfile import decode_record
from .._output_format import OutputReader, collapse_redraws
from .._paths import check_file_name, join_inside
from .._provenance import PROVENANCE_TAG_NAMES, describe
from .._tables import table_columns, to_text
from .._types import RUNNING, RunInfo
from ..store import KeySummary, Store
from ._azure import run_charts, run_models
from ._series import SeriesSource, chart_type

#: How many values of a string metric, rows of a table or images the run page gets.
TEXT_LIMIT = 500
TABLE_LIMIT = 5000
IMAGE_LIMIT = 24
#: Bytes of a log file read per request (the page asks again for more).
LOG_CHUNK = 512 * 1024


class NotFoundError(LookupError):
    """The run exists but the metric or file asked for does not (an HTTP 404)."""


#: A metric value JSON can carry: non-finite floats become 'NaN', 'Infinity', '-Infinity'.
jsonable = to_text


def run_json(info: RunInfo) -> dict[str, Any]:
    """A run's control-plane record for the page."""
    end = info.end_time
    return {
        "id": info.run_id,
        "name": info.name,
        "experiment": info.experiment_name,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "start": info.start_time,
        "end": end,
        "duration": (end if end is not None else time.time()) - info.start_time,
        "parent": info.parent_run_id,
        "error": info.error,
    }


def experiments(store: Store) -> dict[str, Any]:
    """Every experiment with its run count and how many runs are still running."""
    runs = store.search_runs()
    counts: dict[str, list[int]] = {}
    for info in runs:
        entry = counts.setdefault(info.experiment_id, [0, 0])
        entry[0] += 1
        entry[1] += info.status == RUNNING
    return {
        "experiments": [
            {
                "id": e.experiment_id,
                "name": e.name,
                "created": e.created,
                "runs": counts.get(e.experiment_id, [0, 0])[0],
                "running": counts.get(e.experiment_id, [0, 0])[1],
            }
            for e in store.list_experiments()
        ],
        "runs": len(runs),
    }


def runs(store: Store, experiment_id: str | None) -> dict[str, Any]:
    """The runs list: status, times, tags, params and the last value of each scalar metric."""
    rows = []
    for info in store.search_runs(experiment_id=experiment_id):
        kinds = store.metric_kinds(info.run_id)
        last = store.last_values(info.run_id)
        row = run_json(info)
        row["tags"] = _user_tags(store.get_tags(info.run_id))
        row["params"] = store.get_params(info.run_id)
        row["metrics"] = {
            name: jsonable(value)
            for name, value in last.items()
            if kinds.get(name) == "metric"
        }
        rows.append(row)
    return {"runs": rows, "alive": any(r["status"] == RUNNING for r in rows), "now": time.time()}


def _user_tags(tags: dict[str, str]) -> dict[str, str]:
    """The tags less the provenance ones, which the run page shows under Source."""
    return {k: v for k, v in tags.items() if k not in PROVENANCE_TAG_NAMES}


def run_detail(store: Store, source: SeriesSource, run_id: str) -> dict[str, Any]:
    """One run: its record, tags, params, children, files, log files, metric list,
    models registered from it and its Azure chart files."""
    info = store.get_run(run_id)
    run_id = info.run_id
    files = [name for name in store.list_files(run_id) if _served(store, run_id, name)]
    parent = None
    if info.parent_run_id:
        try:
            parent = run_json(store.get_run(info.parent_run_id))
        except Exception:  # a parent in another workspace, or deleted: show the id only
            parent = {"id": info.parent_run_id, "name": info.parent_run_id[:12]}
    tags = store.get_tags(run_id)
    return {
        "run": run_json(info),
        "parent": parent,
        "tags": _user_tags(tags),
        "source": [list(pair) for pair in describe(tags)],
        "params": store.get_params(run_id),
        "children": [run_json(c) for c in store.search_runs(parent_run_id=run_id)],
        "files": [{"name": name, "size": _size(store, run_id, name)} for name in files],
        "logs": [name[len("logs/"):] for name in files if name.startswith("logs/")],
        "metrics": [
            {"name": s.name, "kind": s.kind, "points": s.count, "type": chart_type(s)}
            for s in source.summaries(run_id)
        ],
        "models": run_models(store, run_id),
        "azure_charts": run_charts(store, run_id, files, open_run_file),
    }


def charts(store: Store, source: SeriesSource, run_id: str, width: int) -> dict[str, Any]:
    """Everything the run page draws: each metric's series, table, text values or images."""
    info = store.get_run(run_id)
    with source.snapshot():  # counts and series from one moment, even while ranks write
        out = [_chart(source, info.run_id, summary, width) for summary in source.summaries(info.run_id)]
    return {"run": run_json(info), "metrics": out}


def _chart(source: SeriesSource, run_id: str, summary: KeySummary, width: int) -> dict[str, Any]:
    """One metric's entry on the run page: its series, table, text values or images."""
    kind = chart_type(summary)
    entry: dict[str, Any] = {
        "name": summary.name,
        "kind": summary.kind,
        "type": kind,
        "points": summary.count,
    }
    if kind in ("line", "value"):
        entry.update(source.series(run_id, summary.name, width))
    elif kind == "text":
        _total, pairs = source.values(run_id, summary.name, TEXT_LIMIT)
        entry["rows"] = [[step, jsonable(value)] for step, value in pairs]
        entry["shown"] = len(pairs)
    elif kind == "image":
        _total, pairs = source.values(run_id, summary.name, IMAGE_LIMIT)
        entry["images"] = [{"step": step, "file": value} for step, value in pairs]
    elif kind == "table":
        entry.update(table(source, run_id, summary.name, width))
    return entry


def series(
    store: Store, source: SeriesSource, run_id: str, name: str, width: int,
    lo: int | None, hi: int | None,
) -> dict[str, Any]:
    """One metric's series over [lo, hi] (a zoomed chart), downsampled to ``width`` buckets."""
    info = store.get_run(run_id)
    if name not in store.metric_kinds(info.run_id):
        raise NotFoundError(f"run {info.run_id} has no metric {name!r}")
    result = source.series(info.run_id, name, width, lo, hi)
    result["name"] = name
    result["run"] = info.run_id
    return result


def table(source: SeriesSource, run_id: str, name: str, width: int) -> dict[str, Any]:
    """A table metric's columns and rows; 'xy' says which columns chart (x = the first)."""
    total, pairs = source.values(run_id, name, 0)
    columns, cells = table_columns([value for _step, value in pairs])
    numeric = [
        i for i, _c in enumerate(columns)
        if cells and all(_is_number(row[i]) for row in cells)
    ]
    xy = None
    if len(numeric) >= 2 and numeric[0] == 0:
        xs = sorted(range(len(cells)), key=lambda r: cells[r][0])
        xy = {
            "x": [_finite(cells[r][0]) for r in xs],
            "ys": [
                {"name": columns[i], "y": [_finite(cells[r][i]) for r in xs]} for i in numeric[1:]
            ],
        }
        if len(cells) > 2 * width:
            xy = _thin_xy(xy, width)
    shown = cells[:TABLE_LIMIT]
    return {
        "columns": columns,
        "rows": [[jsonable(v) for v in row] for row in shown],
        "shown": len(shown),
        "xy": xy,
        "points": total,
    }


def _thin_xy(xy: dict[str, Any], width: int) -> dict[str, Any]:
    """Keep every k-th row of a very long table chart (tables are rarely this long)."""
    step = max(1, len(xy["x"]) // (2 * width))
    return {
        "x": xy["x"][::step],
        "ys": [{"name": s["name"], "y": s["y"][::step]} for s in xy["ys"]],
        "thinned": step,
    }


def _is_number(value: Any) -> bool:
    return (type(value) is int or type(value) is float) and not isinstance(value, bool)


def _finite(value: Any) -> Any:
    return value if value == value and value not in (math.inf, -math.inf) else None


def compare(
    store: Store, source: SeriesSource, run_ids: Sequence[str], name: str | None, width: int
) -> dict[str, Any]:
    """Several runs side by side: their records, the union of metric names, one metric's series."""
    infos = [store.get_run(r) for r in run_ids]
    names: dict[str, str] = {}
    series = []
    with source.snapshot():  # every run's series from one moment
        for info in infos:
            for summary in source.summaries(info.run_id):
                if chart_type(summary) in ("line", "value"):
                    names.setdefault(summary.name, summary.kind)
        for info in infos if name else ():
            if name in store.metric_kinds(info.run_id):
                data = source.series(info.run_id, name, width)
            else:
                data = {"x": [], "y": [], "points": 0, "downsampled": False}
            data["run"] = info.run_id
            series.append(data)
    return {"runs": [run_json(i) for i in infos], "metrics": list(names), "name": name, "series": series}


def logs(
    store: Store,
    run_id: str,
    filename: str,
    offset: int | None,
    minimum: int | None,
    tail: int,
) -> dict[str, Any]:
    """Log records of logs/<filename> from byte ``offset`` (or the last ``tail`` bytes)."""
    info = store.get_run(run_id)
    name = "logs/" + check_file_name(filename)
    try:
        handle = open_run_file(store, info.run_id, name)
    except FileNotFoundError:
        return {"records": [], "offset": 0, "size": 0, "skipped": 0,
                "running": info.status == RUNNING, "status": info.status}
    with handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        start = offset if offset is not None else max(0, size - tail)
        start = min(max(0, start), size)
        handle.seek(start)
        data = handle.read(LOG_CHUNK)
    skipped = start if offset is None else 0
    if offset is None and start > 0:
        newline = data.find(b"\n")  # started mid-line: begin at the next whole line
        data = data[newline + 1:] if newline >= 0 else b""
        start += newline + 1 if newline >= 0 else 0
    cut = data.rfind(b"\n")
    whole = data[: cut + 1] if cut >= 0 else b""  # a line still being written waits
    records = [r for r in _records(whole.splitlines()) if _passes(r, minimum)]
    return {
        "records": records,
        "offset": start + len(whole),
        "size": size,
        "skipped": skipped,
        "running": info.status == RUNNING,
        "status": info.status,
    }


def _records(lines: Sequence[bytes]) -> Iterator[dict[str, Any]]:
    """Log records (JSON lines) and captured output lines (std_log.txt) as page records."""
    output = OutputReader()
    for raw in lines:
        record = decode_record(raw)
        if record is not None:
            yield {
                "time": record.get("time", ""),
                "level": record.get("level", ""),
                "levelno": record.get("levelno"),
                "logger": record.get("logger", ""),
                "message": str(record.get("message", "")),
                "exc_text": record.get("exc_text"),
                "rank": record.get("rank"),
            }
        else:
            yield from map(_output_record, output.feed(raw))
    yield from map(_output_record, output.finish())


def _output_record(line: Any) -> dict[str, Any]:
    """A captured stdout/stderr line: its stream stands where a level would."""
    text = collapse_redraws(line.text)
    if not line.stream:
        return _plain(text)
    return {"time": line.time, "level": line.stream, "levelno": None, "logger": "",
            "message": text, "exc_text": None, "rank": line.rank}


def _plain(text: str) -> dict[str, Any]:
    return {"time": "", "level": "", "levelno": None, "logger": "", "message": text,
            "exc_text": None, "rank": None}


def _passes(record: dict[str, Any], minimum: int | None) -> bool:
    # Lines without a level (captured output, foreign text) are never filtered out.
    levelno = record.get("levelno")
    return minimum is None or levelno is None or levelno >= minimum


def open_run_file(store: Store, run_id: str, name: str) -> IO[bytes]:
    """Open a run's file to serve it; one whose real path leaves the workspace is refused.

    A symlink anywhere on the way (the file, a subfolder such as ``logs/``, the
    run's folder, ``runs/``) must resolve inside the workspace's real path, and
    the file opened must be the one checked (a link swapped meanwhile is refused).
    """
    path = _real_path(store, run_id, name)
    handle = store.open_file(run_id, name)
    if path is None:
        return handle
    try:
        opened, checked = os.fstat(handle.fileno()), os.stat(path)
    except OSError:
        opened = checked = None
    if opened is None or checked is None or (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino):
        handle.close()
        raise NotFoundError(f"run {run_id} has no file {name!r} inside the workspace")
    return handle


def _real_path(store: Store, run_id: str, name: str) -> str | None:
    """The real path of a run's file, checked to lie in the run's folder inside the workspace.

    None for a store that keeps no files on disk (a remote server); NotFoundError
    when a symlink leads outside.
    """
    run_dir = getattr(store, "run_dir", None)
    root = getattr(store, "root", None)
    if run_dir is None or not isinstance(root, str):
        return None
    folder = run_dir(run_id)
    path = join_inside(folder, name)  # a clean name, not leaving the run's (real) folder
    real_root = os.path.realpath(root)
    real_folder = os.path.realpath(folder)
    real = os.path.realpath(path)
    if not (_under(real_folder, real_root) and _under(real, real_folder)):
        raise NotFoundError(f"run {run_id} has no file {name!r} inside the workspace")
    return real


def _under(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _served(store: Store, run_id: str, name: str) -> bool:
    """Whether the file can be served (no symlink on its way leads out of the workspace)."""
    try:
        _real_path(store, run_id, name)
    except (NotFoundError, InvalidNameError, OSError):
        return False
    return True


def _size(store: Store, run_id: str, name: str) -> int | None:
    try:
        path = _real_path(store, run_id, name)
        return None if path is None else os.path.getsize(path)
    except (NotFoundError, InvalidNameError, OSError):
        return None
