"""Copying runs to an MLflow server: a local run (``tracklog sync RUN``), and what spools kept.

``sync_run`` copies a run of a local store (and its child runs) to a server through
the same mapping the remote store uses while a run lives. It is idempotent: the
remote run is found again by its ``tracklog.synced_from`` tag, metric points already
on the server are skipped, params are only added, and files of the same size are not
sent again. ``send_pending`` sends what processes that logged straight to a server
kept in their spool because the server was unreachable. The CLI draws the progress
(handed in as a factory) and prints the outcome.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from .._errors import TracklogError
from .._types import RUNNING, RunInfo
from ..pipeline.event import PARAM, TAG, Event
from ._base import Store
from ._http import RestClient
from ._mlflow import MLflowStore
from ._mlflow_map import (
    ERROR_TAG,
    MAX_METRICS,
    ROWS_SUFFIX,
    STATUS_TAG,
    TO_MLFLOW_STATUS,
    Converter,
    batch_ops,
    read_value,
    render_table,
)
from ._sender import Sender, proxy_path
from ._spool import Spool, leftover_spools, spool_root

__all__ = ["PendingResult", "RunSyncResult", "SyncProgress", "send_pending", "sync_run"]

SYNCED_FROM_TAG = "tracklog.synced_from"


class SyncProgress(Protocol):
    """A progress display: ``update(count)`` as items go out, ``close()`` at the end."""

    def update(self, count: int) -> None: ...

    def close(self) -> None: ...


#: Makes a progress display for a label and a total count of items.
ProgressFactory = Callable[[str, int], SyncProgress]
#: Says one line to the person running the sync (a param kept as it is on the server).
Say = Callable[[str], None]


@dataclass
class RunSyncResult:
    """What ``sync_run`` did: the server's id of the run, where, and what it sent."""

    remote_id: str
    server: str
    counts: dict[str, int]


@dataclass
class PendingResult:
    """One spool sent by ``send_pending``: delivered whole, or what is still pending and why."""

    path: str
    server: str
    delivered: bool
    left: Counter[str] = field(default_factory=Counter)
    reason: str = ""
    refused: Counter[str] = field(default_factory=Counter)


def sync_run(
    local: Store, info: RunInfo, to: str, *, children: bool, progress: ProgressFactory, say: Say
) -> RunSyncResult:
    """Copy the local run ``info`` (and, with ``children``, its child runs) to the server ``to``."""
    if isinstance(local, MLflowStore):
        raise TracklogError("sync reads a local workspace: give --workspace a folder, and the server as --to")
    remote = MLflowStore(to)
    try:
        syncer = _RunSync(local, remote, progress, say)
        remote_id = syncer.sync(info, None, children=children)
        return RunSyncResult(remote_id, remote.location, dict(syncer.counts))
    finally:
        remote.close()


class _RunSync:
    """Copies local runs to a server, counting what it sent and what was there already."""

    def __init__(self, local: Store, remote: MLflowStore, progress: ProgressFactory, say: Say) -> None:
        self.local = local
        self.remote = remote
        self.client = remote.client
        self.progress = progress
        self.say = say
        self.counts = {"runs": 0, "new points": 0, "points already there": 0, "params": 0, "files": 0}

    def sync(self, info: RunInfo, parent_remote: str | None, children: bool) -> str:
        remote_id = self._remote_run(info, parent_remote)
        raw = self.client.call("GET", "runs/get", {"run_id": remote_id})["run"]
        converter = Converter(lambda _run: True, part="sync")
        events = self._events(info, remote_id)
        ops, appends = converter.convert(events, None)
        points = self._new_points(remote_id, raw, ops)
        files = self.local.list_files(info.run_id)
        total = len(points) + len(files) + len(appends)
        progress = self.progress(f"sync {info.run_id[:12]}", total)
        self._send_params(remote_id, raw, ops)
        self._send_batches(remote_id, points, ops, progress)
        root = _proxy_root(raw)

        for _run, path, data in appends:
            if path.endswith(ROWS_SUFFIX):
                path, data = path[: -len(ROWS_SUFFIX)], render_table(data)
            self.client.put_artifact(f"{root}/{path}", data)
            progress.update(1)
        self._send_files(info.run_id, root, files, progress)
        self._send_status(info, remote_id)
        progress.close()
        self.counts["runs"] += 1
        if children:
            for child in reversed(self.local.search_runs(parent_run_id=info.run_id)):
                self.sync(child, remote_id, children=True)
        return remote_id

    def _remote_run(self, info: RunInfo, parent_remote: str | None) -> str:
        experiment = self.remote.experiment_now(info.experiment_name)
        body = {
            "experiment_ids": [experiment.experiment_id],
            "filter": f"tags.`{SYNCED_FROM_TAG}` = '{info.run_id}'",
            "max_results": 1,
        }
        found = self.client.call("POST", "runs/search", body).get("runs", [])
        if found:
            return str(found[0]["info"]["run_id"])
        tags = {
            SYNCED_FROM_TAG: info.run_id,
            "mlflow.source.type": "LOCAL",
            "mlflow.source.name": "tracklog sync",
        }
        if parent_remote:
            tags["mlflow.parentRunId"] = parent_remote
        answer = self.client.call(
            "POST",
            "runs/create",
            {
                "experiment_id": experiment.experiment_id,
                "start_time": int(info.start_time * 1000),
                "run_name": info.name,
                "tags": [{"key": k, "value": v} for k, v in tags.items()],
            },
            idempotent=False,
        )
        return str(answer["run"]["info"]["run_id"])

    def _events(self, info: RunInfo, remote_id: str) -> list[Event]:
        run_id = info.run_id
        now = time.time()
        events = [Event(remote_id, PARAM, k, v, None, now) for k, v in self.local.get_params(run_id).items()]
        events += [Event(remote_id, TAG, k, v, None, now) for k, v in self.local.get_tags(run_id).items()]
        for name, kind in self.local.metric_kinds(run_id).items():
            for point in self.local.metric_history(run_id, name):
                events.append(Event(remote_id, kind, name, point.value, point.step, point.timestamp))
        return events

    def _new_points(self, remote_id: str, raw: dict[str, Any], ops: list[dict[str, Any]]) -> list[list[Any]]:
        """The metric points of ``ops`` the server does not have yet."""
        remote_keys = {m["key"] for m in raw.get("data", {}).get("metrics", [])}
        have: dict[str, set[tuple[int, int, str]]] = {}
        points = []
        for op in ops:
            for key, value, ts, step in op.get("m", ()):
                if key in remote_keys and key not in have:
                    history = self.remote._history(remote_id, key)
                    have[key] = {(p.step, int(round(p.timestamp * 1000)), repr(p.value)) for p in history}
                if (step, ts, repr(read_value(value))) in have.get(key, ()):
                    self.counts["points already there"] += 1
                    continue
                points.append([key, value, ts, step])
        return points

    def _send_params(self, remote_id: str, raw: dict[str, Any], ops: list[dict[str, Any]]) -> None:
        remote = {p["key"]: p.get("value", "") for p in raw.get("data", {}).get("params", [])}
        fresh = []
        for op in ops:
            for key, value in op.get("p", ()):
                if key not in remote:
                    fresh.append({"key": key, "value": value})
                elif remote[key] != value:
                    self.say(f"tracklog: param {key!r} is {remote[key]!r} on the server, {value!r} locally; kept as is")
        for start in range(0, len(fresh), 100):
            chunk = fresh[start : start + 100]
            self.client.call("POST", "runs/log-batch", {"run_id": remote_id, "params": chunk})
        self.counts["params"] += len(fresh)

    def _send_batches(
        self, remote_id: str, points: list[list[Any]], ops: list[dict[str, Any]], progress: SyncProgress
    ) -> None:
        tags = [tuple(t) for op in ops for t in op.get("t", ())]
        for op in batch_ops(remote_id, [], tags):
            self.client.call("POST", "runs/log-batch", {"run_id": remote_id, "tags": _pairs(op["t"])})
        for start in range(0, len(points), MAX_METRICS):
            chunk = points[start : start + MAX_METRICS]
            metrics = [{"key": k, "value": v, "timestamp": ts, "step": s} for k, v, ts, s in chunk]
            self.client.call("POST", "runs/log-batch", {"run_id": remote_id, "metrics": metrics})
            self.counts["new points"] += len(chunk)
            progress.update(len(chunk))

    def _send_files(self, run_id: str, root: str, files: list[str], progress: SyncProgress) -> None:
        sizes = _remote_sizes(self.client, root)
        for name in files:
            with self.local.open_file(run_id, name) as handle:
                data = handle.read()
            if sizes.get(name) != len(data):
                self.client.put_artifact(f"{root}/{name}", data)
                self.counts["files"] += 1
            progress.update(1)

    def _send_status(self, info: RunInfo, remote_id: str) -> None:
        tags = []
        if info.error:
            tags.append({"key": ERROR_TAG, "value": info.error[-8000:]})
        if info.status == "Crashed":
            tags.append({"key": STATUS_TAG, "value": "Crashed"})
        if tags:
            self.client.call("POST", "runs/log-batch", {"run_id": remote_id, "tags": tags})
        body: dict[str, Any] = {"run_id": remote_id, "status": TO_MLFLOW_STATUS.get(info.status, "RUNNING")}
        if info.status != RUNNING and info.end_time is not None:
            body["end_time"] = int(info.end_time * 1000)
        self.client.call("POST", "runs/update", body)


def _pairs(items: list[Any]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in items]


def _proxy_root(raw: dict[str, Any]) -> str:
    return proxy_path(raw.get("info", {}).get("artifact_uri", ""))


def _remote_sizes(client: Any, root: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    folders = [""]
    while folders:
        folder = folders.pop()
        for entry in client.list_artifacts(f"{root}/{folder}".rstrip("/")):
            rel = f"{folder}/{entry['path']}" if folder else entry["path"]
            if entry.get("is_dir"):
                folders.append(rel)
            else:
                sizes[rel] = int(entry.get("file_size") or 0)
    return sizes


def send_pending(
    target: str | None, timeout: float, progress: ProgressFactory
) -> tuple[str, list[PendingResult]]:
    """Send every leftover spool (of processes that are gone) to its server, or to ``target``:
    the spool root, and one result per spool (none when nothing is pending)."""
    results: list[PendingResult] = []
    for path in leftover_spools():
        spool = Spool(path)
        uri = target or spool.meta.get("uri")
        if not uri:
            spool.close(remove_if_empty=False)
            raise TracklogError(f"the spool {path} does not say which server it is for: give --to")
        sender = Sender(RestClient(uri, attempts=0), spool, upload_interval=3600.0)
        start = spool.pending_bytes()
        bar = progress(f"send {os.path.basename(path)[:30]}", start)
        sender.start()
        deadline = time.monotonic() + timeout
        done = False
        shown = 0
        try:
            while time.monotonic() < deadline:
                done = sender.flush(min(0.5, max(0.0, deadline - time.monotonic())), grace=timeout)
                sent = start - spool.pending_bytes()
                bar.update(max(0, sent - shown))
                shown = max(shown, sent)
                if done:
                    break
        finally:
            sender.stop()
        bar.close()
        left = spool.undelivered()
        removed = spool.close()
        results.append(
            PendingResult(path, sender.client.uri, done and removed, left, sender.last_error, Counter(sender.refused))
        )
        sender.client.close()
    return spool_root(), results
