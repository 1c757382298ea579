"""Reading runs back from an MLflow server: metrics of every kind, tags, params, files, logs.

The inverse of the mapping in ``_mlflow_map``: lists, tables, text values and
image names come back from the kind tags and the artifacts they were stored in,
rewritten names come back as given.
"""

from __future__ import annotations

import calendar
import io
import json
import time
from typing import IO, Any, Iterator

from .._logfile import decode_record
from .._paths import check_file_name
from .._types import MetricPoint
from ..pipeline.event import IMAGE, ROW
from ._http import RemoteAPIError, RestClient
from ._mlflow_map import (
    COLUMN,
    ID_TAG,
    INTERNAL_PREFIX,
    KIND_TAG,
    NAME_TAG,
    kind_of,
    mlflow_key,
    read_value,
    table_path,
    table_rows,
    text_path,
)


class MLflowReads:
    """The Store interface's reads, for a class providing ``client``, ``_raw_run``, ``_root``
    and ``_server_id`` (tracklog's run id as the server's)."""

    client: RestClient

    def _raw_run(self, run_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def _root(self, run_id: str) -> str:
        raise NotImplementedError

    def _server_id(self, run_id: str) -> str:
        raise NotImplementedError

    def _names(self, tags: dict[str, str]) -> dict[str, str]:
        """MLflow key -> tracklog name, for keys that were rewritten."""
        return {k[len(NAME_TAG):]: v for k, v in tags.items() if k.startswith(NAME_TAG)}

    def _key(self, name: str, tags: dict[str, str]) -> str:
        for key, original in self._names(tags).items():
            if original == name:
                return key
        return mlflow_key(name)

    def metric_kinds(self, run_id: str) -> dict[str, str]:
        raw = self._raw_run(run_id)
        tags = tags_of(raw)
        names = self._names(tags)
        kinds: dict[str, str] = {}
        for metric in raw.get("data", {}).get("metrics", []):
            key = metric["key"]
            kind, _ = kind_of(tags.get(KIND_TAG + key))
            if kind != COLUMN:
                kinds[names.get(key, key)] = kind
        for tag, value in tags.items():
            if tag.startswith(KIND_TAG):
                key = tag[len(KIND_TAG):]
                kind, _ = kind_of(value)
                if kind != COLUMN:
                    kinds.setdefault(names.get(key, key), kind)
        return kinds

    def metric_history(self, run_id: str, name: str, rank: int | None = None) -> list[MetricPoint]:
        raw = self._raw_run(run_id)
        tags = tags_of(raw)
        key = self._key(name, tags)
        kind, text = kind_of(tags.get(KIND_TAG + key))
        points: list[MetricPoint] = []
        if kind == ROW:
            data = self.client.get_artifact(f"{self._root(run_id)}/{table_path(key)}") or b""
            points = [MetricPoint(i, row, ts, None) for i, (ts, row) in enumerate(table_rows(data))]
        else:
            if any(m["key"] == key for m in raw.get("data", {}).get("metrics", [])):
                points.extend(self._history(run_id, key))
            if text or kind == IMAGE:
                points.extend(self._text_points(run_id, key))
            points.sort(key=lambda p: (p.step, p.timestamp))
        if rank is not None:
            points = [p for p in points if p.rank == rank]
        return points

    def _history(self, run_id: str, key: str) -> list[MetricPoint]:
        body: dict[str, Any] = {"run_id": self._server_id(run_id), "metric_key": key, "max_results": 25000}
        points = []
        while True:
            answer = self.client.call("GET", "metrics/get-history", body)
            for m in answer.get("metrics", []):
                ts = int(m.get("timestamp", 0)) / 1000
                points.append(MetricPoint(int(m.get("step", 0)), read_value(m.get("value", 0.0)), ts, None))
            token = answer.get("next_page_token")
            if not token:
                return points
            body["page_token"] = token

    def _text_points(self, run_id: str, key: str) -> list[MetricPoint]:
        data = self.client.get_artifact(f"{self._root(run_id)}/{text_path(key)}") or b""
        points = []
        for line in data.splitlines():
            try:
                item = json.loads(line)
                step, ts = int(item.get("step") or 0), float(item.get("ts", 0.0))
                points.append(MetricPoint(step, item["value"], ts, None))
            except (ValueError, KeyError, TypeError):
                continue
        return points

    def last_values(self, run_id: str) -> dict[str, Any]:
        raw = self._raw_run(run_id)
        tags = tags_of(raw)
        names = self._names(tags)
        latest: dict[str, tuple[int, float, Any]] = {}
        for m in raw.get("data", {}).get("metrics", []):
            ts = int(m.get("timestamp", 0)) / 1000
            latest[m["key"]] = (int(m.get("step", 0)), ts, read_value(m.get("value")))
        values: dict[str, Any] = {}
        for key, kind_tag in [(t[len(KIND_TAG):], v) for t, v in tags.items() if t.startswith(KIND_TAG)]:
            kind, text = kind_of(kind_tag)
            if kind == COLUMN:
                latest.pop(key, None)
                continue
            files = text or kind in (ROW, IMAGE)
            points = self.metric_history(run_id, names.get(key, key)) if files else []
            if kind == ROW:
                values[names.get(key, key)] = points[-1].value if points else None
                continue
            for p in points:
                if key not in latest or (p.step, p.timestamp) >= latest[key][:2]:
                    latest[key] = (p.step, p.timestamp, p.value)
        for key, (_step, _ts, value) in latest.items():
            values[names.get(key, key)] = value
        return values

    def get_tags(self, run_id: str) -> dict[str, str]:
        tags = tags_of(self._raw_run(run_id))
        names = self._names(tags)
        return {names.get(k, k): v for k, v in sorted(tags.items()) if not k.startswith(INTERNAL_PREFIX)}

    def get_params(self, run_id: str) -> dict[str, str]:
        raw = self._raw_run(run_id)
        names = self._names(tags_of(raw))
        params = {p["key"]: p.get("value", "") for p in raw.get("data", {}).get("params", [])}
        return {names.get(k, k): v for k, v in sorted(params.items())}

    def list_files(self, run_id: str) -> list[str]:
        root = self._root(run_id)
        names: list[str] = []
        folders = [""]
        while folders:
            folder = folders.pop()
            for entry in self.client.list_artifacts(f"{root}/{folder}".rstrip("/")):
                rel = f"{folder}/{entry['path']}" if folder else entry["path"]
                if entry.get("is_dir"):
                    folders.append(rel)
                else:
                    names.append(rel)
        return sorted(names)

    def open_file(self, run_id: str, name: str) -> IO[bytes]:
        name = check_file_name(name)
        data = self.client.get_artifact(f"{self._root(run_id)}/{name}")
        if data is None:
            raise FileNotFoundError(f"run {run_id} has no file {name!r} (get_file_names() lists them)")
        return io.BytesIO(data)

    def iter_log_lines(self, run_id: str, filename: str) -> Iterator[bytes]:
        """The run's ``logs/<filename>``, merged by time with the parts other processes wrote."""
        root = self._root(run_id)
        stem, dot, ext = filename.rpartition(".")
        if not dot:
            stem, ext = filename, ""
        parts = []
        for entry in self.client.list_artifacts(f"{root}/logs"):
            base = entry["path"]
            if entry.get("is_dir"):
                continue
            if base == filename or (
                base.startswith(stem + ".") and base.endswith("." + ext if ext else "") and base != filename
                and base.count(".") == filename.count(".") + 1
            ):
                parts.append(base)
        chunks = [self.client.get_artifact(f"{root}/logs/{part}") or b"" for part in sorted(parts)]
        if len(chunks) <= 1:
            return iter(io.BytesIO(chunks[0]).readlines() if chunks else [])
        # Split on b"\n" only: captured output keeps its raw b"\r" redraws.
        lines = [line for chunk in chunks for line in io.BytesIO(chunk)]
        lines = [line if line.endswith(b"\n") else line + b"\n" for line in lines]
        return iter(sorted(lines, key=_line_time))


def _line_time(line: bytes) -> float:
    """A log line's time: a JSON record's ``ts``, or a leading ``...Z`` timestamp (std_log.txt)."""
    record = decode_record(line)
    if record is not None:
        ts = record.get("ts")
        return float(ts) if isinstance(ts, (int, float)) else 0.0
    head = line.split(b" ", 1)[0]
    if not head.endswith(b"Z"):
        return 0.0
    try:
        whole, _, frac = head[:-1].decode("ascii").partition(".")
        seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    except (ValueError, OverflowError, UnicodeDecodeError):
        return 0.0
    return seconds + (float("0." + frac) if frac.isdigit() else 0.0)


def find_experiment(client: RestClient, name: str) -> dict[str, Any] | None:
    """The server's record of the active experiment ``name``, or None."""
    try:
        answer = client.call("GET", "experiments/get-by-name", {"experiment_name": name})
    except RemoteAPIError as exc:
        if exc.code == "RESOURCE_DOES_NOT_EXIST" or exc.status == 404:
            return None
        raise
    raw = answer.get("experiment", {})
    if not raw or raw.get("lifecycle_stage") == "deleted":
        return None
    return dict(raw)


def create_experiment(client: RestClient, name: str) -> None:
    """Create the experiment ``name`` (one that exists already, also deleted, is left alone)."""
    try:
        client.call("POST", "experiments/create", {"name": name}, idempotent=False)
    except RemoteAPIError as exc:
        if exc.code != "RESOURCE_ALREADY_EXISTS":
            raise


def experiment_records(client: RestClient, view_type: str = "ACTIVE_ONLY") -> list[dict[str, Any]]:
    """Every active experiment's record (``view_type="ALL"``: deleted ones too), oldest first."""
    body: dict[str, Any] = {"max_results": 1000, "order_by": ["creation_time ASC"], "view_type": view_type}
    found: list[dict[str, Any]] = []
    while True:
        answer = client.call("POST", "experiments/search", body)
        found.extend(answer.get("experiments", []))
        token = answer.get("next_page_token")
        if not token:
            return found
        body["page_token"] = token


def safe_id(run_id: str) -> str:
    """``run_id`` fit for a search filter's quotes (a run id is letters, digits, ``-`` and ``_``)."""
    return "".join(c for c in run_id if c.isalnum() or c in "-_")


def runs_with_id(client: RestClient, run_id: str, *, prefix: bool = False) -> list[dict[str, Any]]:
    """Runs whose tracklog id (the ``tracklog._run_id`` tag) is ``run_id``, or starts with it."""
    clean = safe_id(run_id)
    if not clean or clean != run_id:
        return []
    ids = [str(e["experiment_id"]) for e in experiment_records(client)]
    if not ids:
        return []
    where = f"LIKE '{clean}%'" if prefix else f"= '{clean}'"
    body = {"experiment_ids": ids, "filter": f"tags.`{ID_TAG}` {where}", "max_results": 2}
    return list(client.call("POST", "runs/search", body).get("runs", []))


def tags_of(raw: dict[str, Any]) -> dict[str, str]:
    """A run's tags from MLflow's JSON, as a dict."""
    return {t["key"]: t.get("value", "") for t in raw.get("data", {}).get("tags", [])}
