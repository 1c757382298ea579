"""How tracklog's events map onto MLflow's runs: names, kinds, statuses, and artifacts.

MLflow keeps float metrics, string tags and params, and files. tracklog's richer
kinds become:

* a numeric point (``run.log``, ``log_list``): an MLflow metric point
  (key, value, timestamp in ms, step); a list is a series with steps 0..n-1;
* a string value (or an image's file name): a line in the JSON Lines artifact
  ``metrics/<key>.jsonl`` (``{"step", "value", "ts"}``);
* a table row (``log_row``, ``log_table``): a row of the artifact
  ``tables/<key>.json`` in pandas' "split" layout, the one ``mlflow.log_table``
  writes and ``mlflow.load_table`` reads (the index holds each row's log time),
  plus one metric series ``<key>.<column>`` per numeric column;
* the kind of every non-plain metric: the tag ``tracklog._kind.<key>``, so reads
  can give back a list, a table or image names.

Names MLflow refuses (characters outside ``[/\\w.\\- :]``, more than 200
characters, ``..``) are rewritten, and the original kept in the tag
``tracklog._name.<key>``. NaN is sent as MLflow's "NaN"; MLflow stores +-inf as
+-1.7976931348623157e308, which reads back as +-inf.
"""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
import re
from typing import Any, Callable, Iterable, Sequence

from .. import _diag
from .._logfile import encode_record
from .._output_format import (
    encode_output,  # the same std_log.txt format as the embedded store
)
from .._provenance import TO_MLFLOW
from .._tables import NONFINITE, to_text
from .._types import CANCELED, COMPLETED, CRASHED, FAILED, RUNNING
from ..pipeline.event import IMAGE, LIST, LOG, METRIC, OUTPUT, PARAM, ROW, STATUS, TAG, Event

INTERNAL_PREFIX = "tracklog._"
KIND_TAG = "tracklog._kind."
NAME_TAG = "tracklog._name."
ERROR_TAG = "tracklog._error"
OWNER_TAG = "tracklog._owner"
HEARTBEAT_TAG = "tracklog._heartbeat"
STATUS_TAG = "tracklog._status"
#: tracklog's id of a run it created (minted locally; the server picks its own run id).
ID_TAG = "tracklog._run_id"
#: tracklog's id of the parent run (``mlflow.parentRunId`` holds the server's id).
PARENT_ID_TAG = "tracklog._parent"
PARENT_TAG = "mlflow.parentRunId"
LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"
#: Kind of a ``<table>.<column>`` series: hidden from metric_kinds, the table shows it.
COLUMN = "column"
TEXT_SUFFIX = "+text"

MAX_METRICS = 1000  # per log-batch request, and entities (metrics + tags + params) in all
MAX_TAGS = 100
MAX_PARAMS = 100
MAX_TAG_VALUE = 8000
MAX_PARAM_VALUE = 6000
MAX_KEY = 200
#: Bytes of tag text in one request; MLflow refuses requests over 1 MB.
MAX_TAG_BYTES = 600_000

TO_MLFLOW_STATUS = {
    RUNNING: "RUNNING",
    COMPLETED: "FINISHED",
    FAILED: "FAILED",
    CANCELED: "KILLED",
    CRASHED: "FAILED",
}
FROM_MLFLOW_STATUS = {
    "RUNNING": RUNNING,
    "SCHEDULED": RUNNING,
    "FINISHED": COMPLETED,
    "FAILED": FAILED,
    "KILLED": CANCELED,
}

_BAD_CHARS = re.compile(r"[^/\w.\- :]")
_FLOAT_MAX = 1.7976931348623157e308


def mlflow_key(name: str) -> str:
    """``name`` as a key MLflow accepts (the same input always gives the same key)."""
    if len(name) <= MAX_KEY and not _BAD_CHARS.search(name) and _clean_path(name) == name:
        return name
    key = _clean_path(_BAD_CHARS.sub("_", name))
    if len(key) > MAX_KEY:
        digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        key = key[: MAX_KEY - 9].rstrip("/") + "_" + digest
    return key


def _clean_path(name: str) -> str:
    parts = [p if p not in ("..", ".") else p.replace(".", "_") for p in name.split("/") if p]
    return "/".join(parts) or "_"


def wire_value(value: float) -> float | str:
    """A metric value as MLflow's JSON carries it: NaN and infinities as strings."""
    return to_text(value)  # type: ignore[no-any-return]


def read_value(value: Any) -> float:
    """A metric value from MLflow's JSON, with MLflow's clamped infinities restored."""
    if isinstance(value, str):
        return NONFINITE.get(value, math.nan)
    value = float(value)
    if value >= _FLOAT_MAX:
        return math.inf
    if value <= -_FLOAT_MAX:
        return -math.inf
    return value


def kind_of(tag_value: str | None) -> tuple[str, bool]:
    """(kind, has text points) from a ``tracklog._kind.<key>`` tag value."""
    if not tag_value:
        return METRIC, False
    kind, _, rest = tag_value.partition("+")
    return kind, rest == "text"


def text_path(key: str) -> str:
    return f"metrics/{key}.jsonl"


def table_path(key: str) -> str:
    return f"tables/{key}.json"


#: Suffix of a mirror file holding a table's rows as JSON Lines, rendered on upload.
ROWS_SUFFIX = ".tlrows"


def render_table(rows_jsonl: bytes) -> bytes:
    """A table's rows (JSON Lines of ``{"ts", "row"}``) as pandas' "split" JSON."""
    columns: dict[str, None] = {}
    rows: list[dict[str, Any]] = []
    index: list[float] = []
    for line in rows_jsonl.splitlines():
        try:
            item = json.loads(line)
            row = json.loads(item["row"])
        except (ValueError, KeyError, TypeError):
            continue
        if not isinstance(row, dict):
            continue
        for column in row:
            columns.setdefault(column, None)
        rows.append(row)
        index.append(item.get("ts", 0.0))
    names = list(columns)
    data = [[row.get(c) for c in names] for row in rows]
    return json.dumps({"columns": names, "data": data, "index": index}, ensure_ascii=False).encode()


def table_rows(split_json: bytes) -> list[tuple[float, str]]:
    """A "split" JSON table back into (time, row as JSON text) pairs."""
    try:
        table = json.loads(split_json)
        columns = [str(c) for c in table["columns"]]
        data = table["data"]
    except (ValueError, KeyError, TypeError):
        return []
    index = table.get("index") or []
    result = []
    for position, values in enumerate(data):
        ts = index[position] if position < len(index) else 0.0
        row = {c: v for c, v in zip(columns, values)}
        ts = float(ts) if isinstance(ts, (int, float)) else 0.0
        result.append((ts, json.dumps(row, ensure_ascii=False)))
    return result


def rows_from_table(split_json: bytes) -> bytes:
    """A "split" JSON table as the rows mirror (JSON Lines), to append further rows to."""
    return b"".join(
        (json.dumps({"ts": ts, "row": row}, ensure_ascii=False) + "\n").encode()
        for ts, row in table_rows(split_json)
    )


def _safe_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:60]  # no dots: readers count them


def part_name(filename: str, part: str) -> str:
    """``python.log`` -> ``python.<part>.log``: a log file one more process writes."""
    stem, ext = posixpath.splitext(filename)
    return f"{stem}.{_safe_part(part)}{ext}"


class Converter:
    """Turns events into log-batch operations and mirror-file appends.

    It remembers, per process, which keys it gave each name and which kind tags
    it already sent, so each goes to the server once. ``owned(run_id)`` says
    whether this process created the run and has not ended it: only then does it
    write ``logs/<file>`` itself; otherwise its lines go to ``logs/<stem>.<part><ext>``
    so processes sharing a run never overwrite each other's log files.
    """

    def __init__(self, owned: Callable[[str], bool], part: str) -> None:
        self._owned = owned
        self._part = part
        self._keys: dict[tuple[str, str], str] = {}
        self._names: dict[tuple[str, str], str] = {}
        self._sent_tags: set[tuple[str, str, str]] = set()
        self._tables: dict[str, list[str]] = {}

    def key(self, run_id: str, name: str) -> tuple[str, list[tuple[str, str]]]:
        """The MLflow key for ``name`` in this run, and the tags announcing a rename."""
        found = self._keys.get((run_id, name))
        if found is not None:
            return found, []
        key = mlflow_key(name)
        taken = self._names.get((run_id, key))
        if taken is not None and taken != name:
            digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
            key = f"{key[: MAX_KEY - 9]}_{digest}"
        self._keys[(run_id, name)] = key
        self._names[(run_id, key)] = name
        tags = [] if key == name else [(NAME_TAG + key, name[:MAX_TAG_VALUE])]
        return key, tags

    def _once(self, run_id: str, key: str, value: str, out: list[tuple[str, str]]) -> None:
        marker = (run_id, key, value)
        if marker not in self._sent_tags:
            self._sent_tags.add(marker)
            out.append((key, value))

    def convert(
        self, events: Iterable[Event], rank: int | None
    ) -> tuple[list[dict[str, Any]], list[tuple[str, str, bytes]]]:
        """Operations (``b`` metrics and tags, ``p`` params) and (run, path, bytes) appends."""
        metrics: dict[str, list[list[Any]]] = {}
        tags: dict[str, list[tuple[str, str]]] = {}
        params: dict[str, list[tuple[str, str]]] = {}
        appends: dict[tuple[str, str], list[bytes]] = {}
        for ev in events:
            kind = ev.kind
            run_id = ev.run_id
            if kind == LOG or kind == OUTPUT:
                path = self._log_path(run_id, ev.name)
                line = encode_record(ev, rank) if kind == LOG else encode_output(ev, rank)
                appends.setdefault((run_id, path), []).append(line)
                continue
            run_tags = tags.setdefault(run_id, [])
            if kind == TAG:
                # Provenance goes out under MLflow's own names (mlflow.user, mlflow.source.*).
                key, extra = self.key(run_id, TO_MLFLOW.get(ev.name, ev.name))
                run_tags.extend(extra)
                run_tags.append((key, _limit(str(ev.value), MAX_TAG_VALUE, "tag", ev.name)))
            elif kind == PARAM:
                key, extra = self.key(run_id, ev.name)
                run_tags.extend(extra)
                params.setdefault(run_id, []).append(
                    (key, _limit(str(ev.value), MAX_PARAM_VALUE, "param", ev.name))
                )
            elif kind == ROW:
                self._row(ev, metrics.setdefault(run_id, []), run_tags, appends)
            elif kind == STATUS:
                continue  # the run's status goes to the server through set_status
            else:
                key, extra = self.key(run_id, ev.name)
                run_tags.extend(extra)
                value = ev.value
                numeric = (type(value) is float or type(value) is int) and kind != IMAGE
                if numeric:
                    if kind == LIST:
                        self._once(run_id, KIND_TAG + key, LIST, run_tags)
                    metrics.setdefault(run_id, []).append(
                        [key, wire_value(float(value)), int(ev.ts * 1000), int(ev.step or 0)]
                    )
                else:
                    tag = IMAGE if kind == IMAGE else kind + TEXT_SUFFIX
                    self._once(run_id, KIND_TAG + key, tag, run_tags)
                    point = {"step": ev.step, "value": str(value), "ts": ev.ts}
                    line = json.dumps(point, ensure_ascii=False)
                    appends.setdefault((run_id, text_path(key)), []).append(line.encode() + b"\n")
        ops = []
        for run_id in {**metrics, **tags}:
            ops.extend(batch_ops(run_id, metrics.get(run_id, []), tags.get(run_id, [])))
        for run_id, items in params.items():
            for start in range(0, len(items), MAX_PARAMS):
                chunk = [list(p) for p in items[start : start + MAX_PARAMS]]
                ops.append({"o": "p", "r": run_id, "p": chunk})
        return ops, [(run, path, b"".join(lines)) for (run, path), lines in appends.items()]

    def _row(
        self,
        ev: Event,
        metrics: list[list[Any]],
        run_tags: list[tuple[str, str]],
        appends: dict[tuple[str, str], list[bytes]],
    ) -> None:
        run_id = ev.run_id
        key, extra = self.key(run_id, ev.name)
        run_tags.extend(extra)
        self._once(run_id, KIND_TAG + key, ROW, run_tags)
        tables = self._tables.setdefault(run_id, [])
        if key not in tables:
            tables.append(key)
            listed = [{"path": table_path(k), "type": "table"} for k in tables]
            run_tags.append((LOGGED_ARTIFACTS_TAG, json.dumps(listed)))
        line = json.dumps({"ts": ev.ts, "row": ev.value}, ensure_ascii=False).encode() + b"\n"
        appends.setdefault((run_id, table_path(key) + ROWS_SUFFIX), []).append(line)
        try:
            row = json.loads(ev.value)
        except (TypeError, ValueError):
            return
        if not isinstance(row, dict):
            return
        ms = int(ev.ts * 1000)
        for column, cell in row.items():
            if isinstance(cell, str):
                cell = NONFINITE.get(cell)
            if type(cell) is not float and type(cell) is not int:
                continue
            column_key, column_extra = self.key(run_id, f"{ev.name}.{column}")
            run_tags.extend(column_extra)
            self._once(run_id, KIND_TAG + column_key, COLUMN, run_tags)
            metrics.append([column_key, wire_value(float(cell)), ms, int(ev.step or 0)])

    def _log_path(self, run_id: str, filename: str) -> str:
        if self._owned(run_id):
            return "logs/" + filename
        return "logs/" + part_name(filename, self._part)

    def forget_run(self, run_id: str) -> None:
        """Stop remembering a run's tables (it ended; a resumed run re-announces them)."""
        self._tables.pop(run_id, None)


def batch_ops(
    run_id: str, metrics: Sequence[list[Any]], tags: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """``b`` operations for one run, each within log-batch's limits."""
    ops = []
    tag_list = [list(t) for t in tags]
    while tag_list:
        chunk, size = [], 0
        while tag_list and len(chunk) < MAX_TAGS and size < MAX_TAG_BYTES:
            item = tag_list.pop(0)
            size += len(item[0]) + len(item[1])
            chunk.append(item)
        ops.append({"o": "b", "r": run_id, "m": [], "t": chunk})
    start = 0
    if ops and len(ops[-1]["t"]) < MAX_METRICS:
        room = MAX_METRICS - len(ops[-1]["t"])
        ops[-1]["m"] = list(metrics[:room])
        start = room
    for offset in range(start, len(metrics), MAX_METRICS):
        ops.append({"o": "b", "r": run_id, "m": list(metrics[offset : offset + MAX_METRICS]), "t": []})
    return ops


def _limit(value: str, limit: int, what: str, name: str) -> str:
    if len(value) <= limit:
        return value
    _diag.warn_once(
        ("mlflow-limit", what, name),
        "tracklog: %s %r is %d characters long; MLflow keeps at most %d, so it is truncated",
        what,
        name,
        len(value),
        limit,
    )
    return value[:limit]
