"""``tracklog sync``: push runs logged offline to an MLflow tracking server.

``tracklog sync RUN --to URI`` copies a run of the local workspace (and its child
runs) to the server, through the same mapping the remote store uses while a run
lives. It is idempotent: the remote run is found again by its
``tracklog.synced_from`` tag, metric points already on the server are skipped,
params are only added, and files of the same size are not sent again.

``tracklog sync --pending`` sends what processes that logged straight to a server
kept in their spool (``TRACKLOG_SPOOL_DIR``) because the server was unreachable.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Any, TextIO

from .. import _config
from .._errors import TracklogError
from .._types import RUNNING, RunInfo
from ..pipeline.event import PARAM, TAG, Event
from ..store import MLflowStore, Store
from ..store._http import RestClient
from ..store._mlflow import _counts
from ..store._mlflow_map import (
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
from ..store._sender import Sender, proxy_path
from ..store._spool import Spool, leftover_spools, spool_root
from ..workspace import Workspace
from ._common import local_location, resolve_run
from ._format import plural

SYNCED_FROM_TAG = "tracklog.synced_from"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``tracklog sync``."""
    sync = subparsers.add_parser(
        "sync",
        help="push a local run to an MLflow tracking server, or send what a spool kept",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sync.add_argument("run", nargs="?", help="run id, a unique prefix, or latest, in the local workspace")
    sync.add_argument(
        "--to",
        metavar="URI",
        help="the MLflow tracking server, e.g. http://host:5000 "
        "(default: $TRACKLOG_TRACKING_URI, else $MLFLOW_TRACKING_URI)",
    )
    sync.add_argument("--pending", action="store_true", help="send what earlier processes kept in the spool")
    sync.add_argument("--no-children", action="store_true", help="leave the run's child runs out")
    sync.add_argument(
        "--timeout", type=seconds, default=300.0, help="seconds to wait for an unreachable server (default 300)"
    )
    sync.set_defaults(func=cmd_sync)


def seconds(text: str) -> float:
    """A --timeout value: a number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds: give one such as 300")
    return value


def cmd_sync(args: argparse.Namespace) -> int:
    if args.pending:
        return _sync_pending(args.to, args.timeout)
    if not args.run:
        raise TracklogError("name a run to sync (tracklog sync RUN --to URI), or use --pending")
    target = args.to or _default_target()
    if not target:
        raise TracklogError("give the MLflow server to sync to: --to http://host:5000")
    workspace = Workspace(local_location(args.workspace), create=False)
    local = workspace.store
    if isinstance(local, MLflowStore):
        raise TracklogError("sync reads a local workspace: give --workspace a folder, and the server as --to")
    info = resolve_run(workspace, args.run).info
    remote = MLflowStore(target)
    try:
        syncer = _RunSync(local, remote, sys.stderr)
        remote_id = syncer.sync(info, None, children=not args.no_children)
        print(f"run {info.run_id} -> {remote.location} run {remote_id}: {syncer.summary()}")
    finally:
        remote.close()
    return 0


def _default_target() -> str | None:
    for name in (_config.ENV_TRACKING_URI, _config.ENV_MLFLOW_TRACKING_URI):
        value = os.environ.get(name, "")
        if value.startswith(("http://", "https://")):
            return value
    return None


class Progress:
    """A progress bar on a stream: redrawn in place on a terminal, in steps of 25% elsewhere."""
    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self.label = label
        self.total = max(total, 0)
        self.done = 0
        self.stream = stream
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._drawn = -1.0
        self._quarter = -1
        self.update(0)

    def update(self, count: int) -> None:
        self.done = min(self.done + count, self.total) if self.total else 0
        fraction = self.done / self.total if self.total else 1.0
        now = time.monotonic()
        if self._tty:
            if fraction < 1.0 and now - self._drawn < 0.1:
                return
            self._drawn = now
            self.stream.write("\r" + self._line(fraction))
        else:
            quarter = int(fraction * 4)
            if quarter == self._quarter:
                return
            self._quarter = quarter
            self.stream.write(self._line(fraction) + "\n")
        self.stream.flush()

    def _line(self, fraction: float) -> str:
        filled = int(fraction * 30)
        bar = "#" * filled + "-" * (30 - filled)
        return f"{self.label} [{bar}] {fraction * 100:3.0f}% {self.done}/{self.total}"

    def close(self) -> None:
        if self._tty:
            self.stream.write("\r" + self._line(1.0 if not self.total else self.done / self.total) + "\n")
            self.stream.flush()


class _RunSync:
    """Copies local runs to a server, counting what it sent and what was there already."""
    def __init__(self, local: Store, remote: Any, stream: TextIO) -> None:
        self.local = local
        self.remote = remote
        self.client = remote.client
        self.stream = stream
        self.counts = {"runs": 0, "new points": 0, "points already there": 0, "params": 0, "files": 0}

    def summary(self) -> str:
        counts = self.counts
        return ", ".join(
            (
                plural(counts["runs"], "run"),
                plural(counts["new points"], "new point"),
                plural(counts["points already there"], "point") + " already there",
                plural(counts["params"], "param"),
                plural(counts["files"], "file"),
            )
        )

    def sync(self, info: RunInfo, parent_remote: str | None, children: bool) -> str:
        remote_id = self._remote_run(info, parent_remote)
        raw = self.client.call("GET", "runs/get", {"run_id": remote_id})["run"]
        converter = Converter(lambda _run: True, part="sync")
        events = self._events(info, remote_id)
        ops, appends = converter.convert(events, None)
        points = self._new_points(remote_id, raw, ops)
        files = self.local.list_files(info.run_id)
        total = len(points) + len(files) + len(appends)
        progress = Progress(f"sync {info.run_id[:12]}", total, self.stream)
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
                    self.stream.write(
                        f"tracklog: param {key!r} is {remote[key]!r} on the server, {value!r} locally; kept as is\n"
                    )
        for start in range(0, len(fresh), 100):
            chunk = fresh[start : start + 100]
            self.client.call("POST", "runs/log-batch", {"run_id": remote_id, "params": chunk})
        self.counts["params"] += len(fresh)

    def _send_batches(
        self, remote_id: str, points: list[list[Any]], ops: list[dict[str, Any]], progress: Progress
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

    def _send_files(self, run_id: str, root: str, files: list[str], progress: Progress) -> None:
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


def _sync_pending(target: str | None, timeout: float) -> int:
    """Send every leftover spool to its server (or ``target``)."""
    paths = leftover_spools()
    if not paths:
        print(f"nothing pending in {spool_root()}")
        return 0
    failed = 0
    for path in paths:
        spool = Spool(path)
        uri = target or spool.meta.get("uri")
        if not uri:
            spool.close(remove_if_empty=False)
            raise TracklogError(f"the spool {path} does not say which server it is for: give --to")
        sender = Sender(RestClient(uri, attempts=0), spool, upload_interval=3600.0)
        start = spool.pending_bytes()
        progress = Progress(f"send {os.path.basename(path)[:30]}", start, sys.stderr)
        sender.start()
        deadline = time.monotonic() + timeout
        done = False
        try:
            while time.monotonic() < deadline:
                done = sender.flush(min(0.5, max(0.0, deadline - time.monotonic())), grace=timeout)
                progress.update(max(0, start - spool.pending_bytes() - progress.done))
                if done:
                    break
        finally:
            sender.stop()
        progress.close()
        left = spool.undelivered()
        refused = sender.refused
        removed = spool.close()
        if done and removed:
            print(f"{path}: delivered to {sender.client.uri}")
        else:
            failed += 1
            reason = f" ({sender.last_error})" if sender.last_error else ""
            print(f"{path}: {_counts(left) or 'data'} still pending for {sender.client.uri}{reason}")
        if refused:
            print(f"{path}: the server refused {_counts(refused)}")
        sender.client.close()
    return 1 if failed else 0
