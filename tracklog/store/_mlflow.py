"""The remote store: runs on an MLflow tracking server, spoken to over its REST API.

Nothing the caller does to a run waits on the network: starting a run, metrics,
tags, params, log lines, uploaded files and run status are appended to an on-disk
spool, and a sender thread delivers them in order (see ``_spool`` and ``_sender``).
A run's id is minted here (tracklog's id); the sender creates the run on the server,
which picks its own id, and tags it ``tracklog._run_id`` so any process finds it by
tracklog's id. Reads (``get_run``, metrics, files, searches) ask the server. How
tracklog's kinds map onto MLflow is described in ``_mlflow_map``.
"""

from __future__ import annotations

import getpass
import os
import sys
import threading
import time
import uuid
from typing import IO, Any, Mapping, Sequence

from .. import _config, _diag
from .._errors import (
    ExperimentNotFoundError,
    ParamConflictError,
    RunNotFoundError,
    TracklogError,
    WorkspaceError,
)
from .._paths import check_file_name
from .._rank import current_rank
from .._types import CRASHED, NO_OWNER, RUNNING, TERMINAL_STATUSES, ExperimentInfo, RunInfo
from ..pipeline.event import Event
from . import _mlflow_manage as manage
from ._base import Store, the_run
from ._http import RemoteAPIError, RemoteError, RemoteUnavailableError, RestClient
from ._liveness import CRASH_ERROR, heartbeat_stale, owner_dead
from ._liveness import HOST as _HOST
from ._mlflow_map import (
    ERROR_TAG,
    FROM_MLFLOW_STATUS,
    HEARTBEAT_TAG,
    ID_TAG,
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    OWNER_TAG,
    PARENT_ID_TAG,
    PARENT_TAG,
    ROWS_SUFFIX,
    STATUS_TAG,
    TO_MLFLOW_STATUS,
    Converter,
    batch_ops,
    rows_from_table,
)
from ._mlflow_reads import (
    MLflowReads,
    create_experiment,
    experiment_records,
    find_experiment,
    runs_with_id,
    tags_of,
)
from ._names import PENDING_EXPERIMENT, is_pending_experiment
from ._sender import Sender, proxy_path
from ._spool import Spool, counts_text
from ._tracking_records import ACTIVE, ExperimentRecord

__all__ = ["MLflowStore"]

ENV_UPLOAD_INTERVAL = "TRACKLOG_UPLOAD_INTERVAL"
ENV_REMOTE_WAIT = "TRACKLOG_REMOTE_WAIT"
#: Seconds between uploads of a live run's log files (and tables, text series).
DEFAULT_UPLOAD_INTERVAL = 10.0
#: Longest a flush, a run's end or exit waits for a reachable server to take pending data.
DEFAULT_REMOTE_WAIT = 120.0
#: How long the server may be unreachable before a flush stops waiting for it.
DOWN_GRACE = 2.0
#: After a flush ran out of its wait with nothing delivered: how long a later flush waits
#: for the sender to make progress (an operation delivered, a request taken) before it
#: stops waiting too; a request still under way to a server that answers is waited on.
STALLED_WAIT = 0.5
#: How long such a flush gives the server to say it answers at all (``/health``), asked
#: while the STALLED_WAIT window runs.
ALIVE_PROBE = STALLED_WAIT
#: Seconds between heartbeat tags of a live run (one small request each, per run).
HEARTBEAT_EVERY = 30.0
#: The experiment name of a run logged into before its record could be read.
UNKNOWN_EXPERIMENT = "(not read yet)"


def _seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


class MLflowStore(MLflowReads, Store):
    """Runs on the MLflow tracking server at ``uri`` (``http://host:5000``)."""

    #: At exit, after every pipeline flushed: deliver what is left, report the rest.
    close_at_exit = True

    def __init__(self, uri: str, *, create: bool = True) -> None:
        self._uri = uri  # may carry credentials: never logged, never stored
        self._lock = threading.RLock()
        self._setup()
        self.location = self._client.uri
        self._experiments: dict[str, ExperimentInfo] = {}
        self._by_name: dict[str, ExperimentInfo] = {}
        self._asked: set[str] = set()  # experiments whose lookup is spooled
        self._runs: dict[str, RunInfo] = {}
        #: Runs this process created: it is the one that changes them, so they read from here.
        self._local: dict[str, RunInfo] = {}
        #: tracklog's run id -> the server's (the same for runs tracklog did not create).
        self._ids: dict[str, str] = {}
        self._roots: dict[str, str] = {}
        self._params: dict[tuple[str, str], str] = {}
        self._gave_up_at: tuple[int, int] | None = None  # the spool's cursor when a wait ran out
        self._stalled_end: tuple[int, int] | None = None  # and its end then
        self._pending: dict[str, tuple[str, float | None, str | None, tuple[int, int]]] = {}
        self._beats: dict[str, float] = {}
        self._closed = False

    def _setup(self) -> None:
        """Per-process state: connections, the spool and its sender (fresh after a fork)."""
        inherited = getattr(self, "_spool", None)
        if inherited is not None:
            inherited.release_after_fork()  # the parent's spool stays the parent's
        self._pid = os.getpid()
        self._client = RestClient(self._uri, attempts=3)
        self._owned: set[str] = set()
        self._converter = Converter(self._is_owned, part=f"{_HOST}-{self._pid}")
        self._spool: Spool | None = None
        self._sender: Sender | None = None
        self._rank = current_rank()

    @property
    def client(self) -> RestClient:
        """This process's connection to the server (a forked child gets its own)."""
        if self._pid != os.getpid():
            self._check_fork()
        return self._client

    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._setup()

    def _is_owned(self, run_id: str) -> bool:
        return run_id in self._owned

    def _ensure_spool(self) -> tuple[Spool, Sender]:
        self._check_fork()
        spool, sender = self._spool, self._sender
        if spool is None or sender is None:
            with self._lock:
                if self._spool is None or self._sender is None:
                    self._spool = Spool.create(self.location)
                    self._sender = Sender(
                        RestClient(self._uri, attempts=0),
                        self._spool,
                        upload_interval=_seconds(ENV_UPLOAD_INTERVAL, DEFAULT_UPLOAD_INTERVAL),
                        on_run_done=self._converter.forget_run,
                        on_created=self._created,
                        on_experiment=self._found_experiment,
                    )
                    for run_id, server_id in self._ids.items():
                        self._sender.know_run(run_id, server_id, self._roots.get(run_id))
                    self._sender.start()
                spool, sender = self._spool, self._sender
        return spool, sender

    @property
    def spool_path(self) -> str | None:
        """This process's spool folder, once something was spooled."""
        return self._spool.path if self._spool is not None else None

    # -- the data-plane primitive --------------------------------------------------

    def write_batch(self, events: Sequence[Event]) -> None:
        spool, sender = self._ensure_spool()
        ops, appends = self._converter.convert(events, self._rank)
        spool.append(ops)
        for run_id, path, data in appends:
            seeded = self._is_owned(run_id) or path.startswith("logs/") or spool.has_mirror(run_id, path)
            if not seeded:
                self._seed(spool, run_id, path)
            spool.mirror_append(run_id, path, data)
        sender.notify()

    def _seed(self, spool: Spool, run_id: str, path: str) -> None:
        """Start a table or text series of a run created elsewhere with what the server has."""
        remote = path[: -len(ROWS_SUFFIX)] if path.endswith(ROWS_SUFFIX) else path
        try:
            data = self.client.get_artifact(f"{self._root(run_id)}/{remote}", timeout=5.0) or b""
        except (RemoteError, RunNotFoundError) as exc:
            _diag.warn_once(
                ("mlflow-seed", run_id, path), "tracklog: could not read %s of run %s: %s", remote, run_id, exc
            )
            data = b""
        if path.endswith(ROWS_SUFFIX) and data:
            data = rows_from_table(data)
        spool.seed_mirror(run_id, path, data)

    def _spool_ops(self, ops: list[dict[str, Any]]) -> tuple[int, int]:
        spool, sender = self._ensure_spool()
        spool.append(ops)
        sender.notify()
        return spool.end()

    # -- experiments -------------------------------------------------------------------

    def _experiment(self, raw: dict[str, Any]) -> ExperimentInfo:
        info = ExperimentInfo(
            str(raw["experiment_id"]), raw.get("name", ""), float(raw.get("creation_time") or 0) / 1000
        )
        return self._remember(info)

    def _remember(self, info: ExperimentInfo) -> ExperimentInfo:
        self._experiments[info.experiment_id] = info
        self._by_name[info.name] = info
        return info

    def _found_experiment(self, name: str, experiment_id: str) -> None:
        """The sender found or created an experiment (on its thread)."""
        if name not in self._by_name:
            info = ExperimentInfo(experiment_id, name, 0.0)
            self._experiments[experiment_id] = info
            self._by_name[name] = info

    def get_experiment(self, name: str) -> ExperimentInfo | None:
        raw = find_experiment(self.client, name)
        return None if raw is None else self._experiment(raw)

    def get_or_create_experiment(self, name: str) -> ExperimentInfo:
        """The experiment, without waiting on the network: known, or ``pending:<name>`` until
        the sender has found or created it (its ``e`` operation is spooled)."""
        info = self._by_name.get(name)
        if info is not None:
            return info
        if name not in self._asked:
            self._asked.add(name)
            self._spool_ops([{"o": "e", "xn": name}])
        return ExperimentInfo(PENDING_EXPERIMENT + name, name, 0.0)

    def experiment_now(self, name: str) -> ExperimentInfo:
        """The experiment ``name`` found or created on the server now (``tracklog sync`` uses this)."""
        info = self.get_experiment(name)
        if info is not None:
            return info
        create_experiment(self.client, name)
        info = self.get_experiment(name)
        if info is None:
            raise WorkspaceError(
                f"experiment {name!r} is deleted on the MLflow server at {self.location}: restore it "
                "(mlflow experiments restore) or use another name"
            )
        return info

    def list_experiments(self) -> list[ExperimentInfo]:
        return [self._experiment(raw) for raw in experiment_records(self.client)]

    def experiment_records(self, name: str | None = None) -> list[ExperimentRecord]:
        """Every experiment with its tags and lifecycle (deleted ones too), oldest first; or
        the one called ``name``."""
        records = manage.experiment_records_all(self.client, name)
        for record in records:
            if record.lifecycle == ACTIVE:
                self._remember(ExperimentInfo(record.experiment_id, record.name, record.created))
        return records

    def _experiment_name(self, experiment_id: str) -> str:
        if is_pending_experiment(experiment_id):
            return experiment_id[len(PENDING_EXPERIMENT):]
        info = self._experiments.get(experiment_id)
        if info is None:
            try:
                answer = self.client.call("GET", "experiments/get", {"experiment_id": experiment_id})
                info = self._experiment(answer.get("experiment", {"experiment_id": experiment_id}))
            except RemoteError:
                return experiment_id
        return info.name

    def _real_experiment_id(self, experiment_id: str) -> str | None:
        """A pending id as the server's (a read: None when the server has no such experiment)."""
        if not is_pending_experiment(experiment_id):
            return experiment_id
        name = experiment_id[len(PENDING_EXPERIMENT):]
        info = self._by_name.get(name) or self.get_experiment(name)
        return None if info is None else info.experiment_id

    # -- runs ------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        name: str,
        *,
        parent_run_id: str | None = None,
        owner_pid: int | None = None,
    ) -> RunInfo:
        """A new run, at once: its id minted here, its creation on the server spooled."""
        self._check_fork()
        now = time.time()
        run_id = uuid.uuid4().hex
        pid = os.getpid() if owner_pid is None else owner_pid
        tags = {
            "mlflow.user": _user(),
            "mlflow.source.name": os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python",
            "mlflow.source.type": "LOCAL",
            OWNER_TAG: f"{_HOST} {pid}",
            HEARTBEAT_TAG: repr(now),
            ID_TAG: run_id,
        }
        if parent_run_id:
            tags[PARENT_ID_TAG] = parent_run_id  # the sender adds mlflow.parentRunId, the server's id
        if is_pending_experiment(experiment_id) and experiment_id[len(PENDING_EXPERIMENT):] in self._by_name:
            experiment_id = self._by_name[experiment_id[len(PENDING_EXPERIMENT):]].experiment_id
        pending = is_pending_experiment(experiment_id)
        known = self._experiments.get(experiment_id)
        experiment_name = experiment_id[len(PENDING_EXPERIMENT):] if pending else known.name if known else ""
        op = {
            "o": "c",
            "r": run_id,
            "x": None if pending else experiment_id,
            "xn": experiment_name,
            "n": name,
            "t": int(now * 1000),
            "g": [[k, v] for k, v in tags.items()],
            "pr": parent_run_id,
        }
        info = RunInfo(
            run_id=run_id,
            experiment_id=experiment_id,
            experiment_name=experiment_name or experiment_id,
            name=name,
            status=RUNNING,
            start_time=now,
            parent_run_id=parent_run_id or None,
            owner_pid=pid,
            owner_host=_HOST,
            heartbeat=now,
            extra={"artifact_uri": "", "mlflow_status": "RUNNING"},
        )
        with self._lock:
            self._local[run_id] = self._runs[run_id] = info
            if pid != NO_OWNER:
                self._owned.add(run_id)
                self._beats[run_id] = now
        self._spool_ops([op])
        return info

    def _created(self, run_id: str, server_id: str, root: str | None, experiment_id: str) -> None:
        """The sender created a run on the server (on its thread): remember the server's ids."""
        self._ids[run_id] = server_id
        if root is not None:
            self._roots[run_id] = root
        with self._lock:
            info = self._local.get(run_id)
            if info is not None:
                extra = {**info.extra, "mlflow_run_id": server_id}
                if root is not None:
                    extra["artifact_uri"] = f"mlflow-artifacts:/{root}"
                name = self._experiments[experiment_id].name if experiment_id in self._experiments else None
                self._local[run_id] = info.replace(
                    experiment_id=experiment_id, experiment_name=name or info.experiment_name, extra=extra
                )

    def server_id(self, run_id: str) -> str | None:
        """The server's id of a run (MLflow's ``run_id``), once known: tracklog's id is minted
        before the server has the run."""
        sid = self._ids.get(run_id)
        if sid is None and self._sender is not None:
            sid = self._sender.server_id(run_id)
        return sid

    def _server_id(self, run_id: str) -> str:
        """The server's id of tracklog's ``run_id``, asking the server when it is not known."""
        sid = self.server_id(run_id)
        if sid is not None:
            return sid
        if run_id in self._local:
            sender = self._sender
            reason = f" ({sender.last_error})" if sender is not None and sender.last_error else ""
            raise RemoteUnavailableError(
                f"run {run_id} is not on the MLflow server at {self.location} yet: its creation waits "
                f"in the spool {self.spool_path}{reason}"
            )
        try:
            raw = self.client.call("GET", "runs/get", {"run_id": run_id})["run"]
        except RemoteAPIError as exc:
            if exc.status not in (400, 404):
                raise
            found = runs_with_id(self.client, run_id)
            if not found:
                raise RunNotFoundError(
                    f"no run {run_id!r} on the MLflow server at {self.location} (tracklog ls lists the runs)"
                ) from None
            raw = found[0]
        self._learn(run_id, raw)
        return self._ids[run_id]

    def _learn(self, run_id: str, raw: dict[str, Any]) -> None:
        """Remember tracklog's id and the server's id of a run read from the server."""
        sid = str(raw.get("info", {}).get("run_id") or raw.get("info", {}).get("run_uuid"))
        self._ids[run_id] = sid
        root = None
        try:
            root = proxy_path(raw.get("info", {}).get("artifact_uri", ""))
            self._roots[run_id] = root
        except RemoteError:
            pass
        if self._sender is not None:
            self._sender.know_run(run_id, sid, root)

    def _root(self, run_id: str) -> str:
        root = self._roots.get(run_id)
        if root is None:
            raw = self._raw_run(run_id)
            root = proxy_path(raw["info"].get("artifact_uri", ""))
            self._roots[run_id] = root
        return root

    def _info(self, raw: dict[str, Any], check_owner: bool = True) -> RunInfo:
        meta = raw.get("info", {})
        tags = tags_of(raw)
        run_id = tags.get(ID_TAG) or meta.get("run_id") or meta.get("run_uuid")
        status = FROM_MLFLOW_STATUS.get(meta.get("status", ""), RUNNING)
        if status != RUNNING and tags.get(STATUS_TAG) == CRASHED:
            status = CRASHED
        owner_host, owner_pid = None, None
        owner = tags.get(OWNER_TAG, "").rsplit(" ", 1)
        if len(owner) == 2 and owner[1].isdigit():
            owner_host, owner_pid = owner[0], int(owner[1])
        heartbeat = _float(tags.get(HEARTBEAT_TAG))
        end = meta.get("end_time")
        info = RunInfo(
            run_id=run_id,
            experiment_id=str(meta.get("experiment_id")),
            experiment_name=self._experiment_name(str(meta.get("experiment_id"))),
            name=meta.get("run_name") or tags.get("mlflow.runName", ""),
            lifecycle=meta.get("lifecycle_stage") or ACTIVE,
            status=status,
            start_time=float(meta.get("start_time") or 0) / 1000,
            end_time=float(end) / 1000 if end and status != RUNNING else None,
            parent_run_id=tags.get(PARENT_ID_TAG) or tags.get(PARENT_TAG) or None,
            error=tags.get(ERROR_TAG) or None,
            owner_pid=owner_pid,
            owner_host=owner_host,
            heartbeat=heartbeat,
            extra={"artifact_uri": meta.get("artifact_uri", ""), "mlflow_status": meta.get("status", "")},
        )
        info.extra["mlflow_run_id"] = meta.get("run_id") or meta.get("run_uuid")
        self._learn(run_id, raw)
        self._runs[run_id] = info
        if check_owner and info.status == RUNNING and run_id not in self._owned:
            info = self._crash_check(info)
        return info

    def _crash_check(self, info: RunInfo) -> RunInfo:
        """A running run whose owning process is gone reads as Crashed (as in the embedded store);
        one with no owner (``NO_OWNER``) stays Running."""
        if info.owner_pid == NO_OWNER:
            return info
        dead = owner_dead(info)
        # A server's clock and a slow sender: only a heartbeat that came, then stopped.
        stale = heartbeat_stale(info, max(_config.HEARTBEAT_TIMEOUT, 3 * HEARTBEAT_EVERY), since_start=False)
        if not (dead or stale):
            return info
        end = info.heartbeat or info.start_time
        error = CRASH_ERROR
        if dead:  # certain: record it on the server too, as MLflow users see it
            sid = info.extra.get("mlflow_run_id") or info.run_id
            try:
                tags = [{"key": STATUS_TAG, "value": CRASHED}, {"key": ERROR_TAG, "value": error}]
                self.client.call("POST", "runs/log-batch", {"run_id": sid, "tags": tags})
                update = {"run_id": sid, "status": "FAILED", "end_time": int(end * 1000)}
                self.client.call("POST", "runs/update", update)
            except RemoteError:
                pass
        return info.replace(status=CRASHED, end_time=end, error=error)

    def _raw_run(self, run_id: str) -> dict[str, Any]:
        sid = self._server_id(run_id)
        try:
            return dict(self.client.call("GET", "runs/get", {"run_id": sid})["run"])
        except RemoteAPIError as exc:
            if exc.status in (400, 404):
                raise RunNotFoundError(
                    f"no run {run_id!r} on the MLflow server at {self.location} (tracklog ls lists the runs)"
                ) from None
            raise

    def get_run(self, run_id: str) -> RunInfo:
        local = self._local.get(run_id)
        if local is not None:
            return local  # this process created it and keeps it current: no request
        try:
            try:
                info = self._info(self._raw_run(run_id))
            except RunNotFoundError:
                if not (run_id and len(run_id) < 32 and all(c in "0123456789abcdef" for c in run_id)):
                    raise
                info = self._by_prefix(run_id)
        except RemoteUnavailableError:
            cached = self._runs.get(run_id)
            if cached is None:
                raise
            info = cached
        return self._overlay(info)

    def open_env_run(self, run_id: str) -> RunInfo:
        """The run a parent process named: read quickly (2 s, no retries), else logged into at
        once as it is: the parent's sender may not have created it yet, or the server is down;
        this process's sender finds it by tracklog's id when it is there."""
        local = self._local.get(run_id)
        if local is not None:
            return local
        quick = RestClient(self._uri, attempts=0, timeout=2.0)
        try:
            raw = dict(quick.call("GET", "runs/get", {"run_id": run_id})["run"])
            return self._overlay(self._info(raw))
        except RemoteAPIError:
            try:
                found = runs_with_id(quick, run_id)
                if found:
                    return self._overlay(self._info(found[0]))
            except RemoteError:
                pass
        except RemoteError:
            pass
        finally:
            quick.close()
        info = RunInfo(run_id, "", UNKNOWN_EXPERIMENT, "", RUNNING, time.time(), extra={"artifact_uri": ""})
        self._runs.setdefault(run_id, info)
        return info

    def _overlay(self, info: RunInfo) -> RunInfo:
        """The run as this process left it: a status still on its way to the server shows."""
        local = self._local.get(info.run_id)
        if local is not None:
            return local
        pending = self._pending.get(info.run_id)
        if pending is None:
            return info
        status, end, error, position = pending
        if self._spool is not None and self._spool.cursor() >= position:
            self._pending.pop(info.run_id, None)
            return info
        return info.replace(status=status, end_time=end, error=error)

    def _by_prefix(self, prefix: str) -> RunInfo:
        found: dict[str, RunInfo] = {i: info for i, info in self._local.items() if i.startswith(prefix)}
        ids = [e.experiment_id for e in self.list_experiments()]
        if ids:
            body = {"experiment_ids": ids, "filter": f"attributes.run_id LIKE '{prefix}%'", "max_results": 2}
            for raw in self.client.call("POST", "runs/search", body).get("runs", []):
                info = self._info(raw)
                found.setdefault(info.run_id, info)
        for raw in runs_with_id(self.client, prefix, prefix=True):
            info = self._info(raw)
            found.setdefault(info.run_id, info)
        return self._overlay(the_run(list(found.values()), prefix, f"on the MLflow server at {self.location}"))

    def search_runs(
        self, experiment_id: str | None = None, parent_run_id: str | None = None
    ) -> list[RunInfo]:
        if experiment_id is not None:
            real = self._real_experiment_id(experiment_id)
            ids = [real] if real is not None else []
        else:
            ids = [e.experiment_id for e in self.list_experiments()]
        if not ids:
            return []
        body: dict[str, Any] = {
            "experiment_ids": ids,
            "max_results": 1000,
            "order_by": ["attributes.start_time DESC"],
        }
        if parent_run_id is not None:
            try:
                parent = self._server_id(parent_run_id)
            except RunNotFoundError:
                return []
            body["filter"] = f"tags.`{PARENT_TAG}` = '{parent}'"
        found = []
        while True:
            answer = self.client.call("POST", "runs/search", body)
            found.extend(self._overlay(self._info(raw)) for raw in answer.get("runs", []))
            token = answer.get("next_page_token")
            if not token:
                return found
            body["page_token"] = token

    def set_status(
        self,
        run_id: str,
        status: str,
        end_time: float | None,
        error: str | None = None,
        *,
        owner_pid: int | None = None,
    ) -> None:
        tags: list[tuple[str, str]] = []
        cached = self._runs.get(run_id)
        owner: dict[str, Any] = {}
        if status == RUNNING:  # reopened: the reopening process (or none) owns it now
            pid = os.getpid() if owner_pid is None else owner_pid
            owner = {"owner_pid": pid, "owner_host": _HOST, "heartbeat": time.time()}
            tags += [(OWNER_TAG, f"{_HOST} {pid}"), (HEARTBEAT_TAG, repr(owner["heartbeat"]))]
            if pid == NO_OWNER:
                self._owned.discard(run_id)
            else:
                self._owned.add(run_id)
        if error or (cached is not None and cached.error):
            tags.append((ERROR_TAG, (error or "")[-MAX_TAG_VALUE:]))
        if status == CRASHED or (cached is not None and cached.status == CRASHED):
            tags.append((STATUS_TAG, CRASHED if status == CRASHED else ""))
        ops = batch_ops(run_id, [], tags)
        ops.append(
            {
                "o": "s",
                "r": run_id,
                "s": TO_MLFLOW_STATUS.get(status, "RUNNING"),
                "e": int(end_time * 1000) if end_time is not None else None,
            }
        )
        if status in TERMINAL_STATUSES:
            self._owned.discard(run_id)
        position = self._spool_ops(ops)
        with self._lock:
            local = self._local.get(run_id)
            if local is not None:
                extra = {**local.extra, "mlflow_status": TO_MLFLOW_STATUS.get(status, "RUNNING")}
                self._local[run_id] = local.replace(
                    status=status, end_time=end_time, error=error or None, extra=extra, **owner
                )
            else:
                self._pending[run_id] = (status, end_time, error, position)

    def heartbeat(self, run_ids: Sequence[str], now: float) -> None:
        if not run_ids or self._spool is None:
            return
        due = [r for r in run_ids if now - self._beats.get(r, 0.0) >= HEARTBEAT_EVERY]
        for run_id in due:
            self._beats[run_id] = now
        if due:
            self._spool_ops([op for r in due for op in batch_ops(r, [], [(HEARTBEAT_TAG, repr(now))])])

    def set_param(self, run_id: str, key: str, value: str) -> None:
        """Spool a param. A value this process set before and now changes raises
        ParamConflictError; a conflict with a value on the server is reported by the sender."""
        self._check_fork()
        with self._lock:
            before = self._params.get((run_id, key))
            if before is not None and before != value:
                raise ParamConflictError(
                    f"param {key!r} of run {run_id} is already {before!r}; params cannot change "
                    f"(refused {value!r}). Log a metric or a tag for values that change."
                )
            self._params[(run_id, key)] = value
        mlflow_name, rename = self._converter.key(run_id, key)
        ops = batch_ops(run_id, [], rename) if rename else []
        ops.append({"o": "p", "r": run_id, "p": [[mlflow_name, value[:MAX_PARAM_VALUE]]]})
        self._spool_ops(ops)

    # -- management calls, made at once ----------------------------------------------------

    def _after_spooled(self, what: str) -> None:
        """Have everything spooled so far delivered before a call made at once, so the call
        never overtakes what was queued before it (a delete_tag after a set_tag); when the
        server has not taken it all, ``what`` is refused and nothing changes."""
        self._check_fork()
        sender = self._sender
        if sender is None:
            return
        end = sender.spool.end()
        if sender.spool.cursor() < end:
            self._wait(sender)
        if sender.spool.cursor() < end:
            reason = f" ({sender.last_error})" if sender.last_error else ""
            raise RemoteUnavailableError(
                f"cannot {what} now: what was logged before it is not on the MLflow server at "
                f"{self.location} yet; it waits in the spool {self.spool_path}{reason}"
            )

    def _change_run(self, run_id: str, **changes: Any) -> None:
        with self._lock:
            for cache in (self._local, self._runs):
                info = cache.get(run_id)
                if info is not None:
                    cache[run_id] = info.replace(**changes)

    def delete_tags(self, run_id: str, keys: Sequence[str]) -> None:
        """Remove tags from a run (absent keys: nothing happens), after what was spooled before."""
        self._after_spooled(f"remove tags of run {run_id}")
        tags = tags_of(self._raw_run(run_id))
        present = [k for k in dict.fromkeys(self._key(name, tags) for name in keys) if k in tags]
        manage.delete_run_tags(self.client, self._server_id(run_id), present)

    def set_run_name(self, run_id: str, name: str) -> None:
        """Rename a run (MLflow's update_run(name=...), Azure's display_name)."""
        self._after_spooled(f"rename run {run_id}")
        manage.rename_run(self.client, self._server_id(run_id), name)
        self._change_run(run_id, name=name)

    def set_run_lifecycle(self, run_id: str, lifecycle: str) -> None:
        """Mark a run deleted (MLflow's delete_run), or active again (restore_run)."""
        self._after_spooled(f"delete or restore run {run_id}")
        manage.set_run_lifecycle(self.client, self._server_id(run_id), lifecycle)
        self._change_run(run_id, lifecycle=lifecycle)

    def _server_experiment_id(self, experiment_id: str) -> str:
        real = self._real_experiment_id(experiment_id)
        if real is None:
            raise ExperimentNotFoundError(
                f"no experiment {self._experiment_name(experiment_id)!r} on the MLflow server at {self.location}"
            )
        return real

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set one tag of an experiment, after what was spooled before (its creation too)."""
        self._after_spooled(f"tag experiment {experiment_id}")
        manage.set_experiment_tag(self.client, self._server_experiment_id(experiment_id), key, value)

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, str] | None = None
    ) -> ExperimentRecord:
        """A new experiment on the server, with its tags; ExperimentExistsError when the name is taken."""
        self._after_spooled(f"create experiment {name!r}")
        record = manage.create_experiment(self.client, name, artifact_location, dict(tags or {}))
        self._remember(ExperimentInfo(record.experiment_id, record.name, record.created))
        return record

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an experiment, after what was spooled before."""
        self._after_spooled(f"remove a tag of experiment {experiment_id}")
        manage.delete_experiment_tag(self.client, self._server_experiment_id(experiment_id), key)

    def set_experiment_lifecycle(self, experiment_id: str, lifecycle: str) -> None:
        """Mark an experiment and its runs deleted (MLflow's delete_experiment), or active
        again; a deleted one's name is forgotten here, as a renamed one's is."""
        self._after_spooled(f"delete or restore experiment {experiment_id}")
        real = self._server_experiment_id(experiment_id)
        manage.set_experiment_lifecycle(self.client, real, lifecycle)
        if lifecycle != ACTIVE:
            self._forget_experiment(real)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new, unused name; ExperimentExistsError when it is taken. Its
        old name is forgotten here, so a run started in it later makes it anew, as in MLflow."""
        self._after_spooled(f"rename experiment {experiment_id}")
        real = self._server_experiment_id(experiment_id)
        manage.rename_experiment(self.client, real, new_name)
        self._forget_experiment(real)

    def _forget_experiment(self, real: str) -> None:
        """Drop what this store knows of experiment ``real``, so its old name is looked up anew."""
        with self._lock:
            self._experiments.pop(real, None)
            for name in [n for n, info in self._by_name.items() if info.experiment_id == real]:
                del self._by_name[name]
                self._asked.discard(name)
        if self._sender is not None:
            self._sender.forget_experiment(real)

    # -- files --------------------------------------------------------------------------

    def put_file(self, run_id: str, name: str, source: str | IO[bytes]) -> None:
        name = check_file_name(name)
        spool, sender = self._ensure_spool()
        copy, fits = spool.add_file(source)
        if fits:
            spool.append([{"o": "f", "r": run_id, "a": name, "f": copy}])
            sender.notify()
            return
        # Too big for the spool's room: send it now (from the copy of a stream), or say why not.
        try:
            self._put_now(run_id, name, spool.file_path(copy) if copy else source, spool)
        finally:
            if copy:
                spool.discard_file(copy)

    def _put_now(self, run_id: str, name: str, source: Any, spool: Spool) -> None:
        if run_id in self._local and self.server_id(run_id) is None:
            self.flush()  # the run is created by the sender: let it, within TRACKLOG_REMOTE_WAIT
        try:
            target = f"{self._root(run_id)}/{name}"
            with open(source, "rb") as handle:
                self.client.put_artifact(target, handle)
        except RemoteUnavailableError as exc:
            raise TracklogError(
                f"cannot upload {name!r}: it does not fit in the spool {spool.path} "
                f"(TRACKLOG_SPOOL_MAX_BYTES) and {exc}"
            ) from None

    # -- life ---------------------------------------------------------------------------------

    def flush(self) -> None:
        sender = self._sender
        if sender is not None and self._pid == os.getpid():
            self._wait(sender)

    def _wait(self, sender: Sender) -> bool:
        """Wait for the sender to deliver what is spooled, within TRACKLOG_REMOTE_WAIT.

        Once a wait ran out with the server taking nothing, a later flush waits for as long
        as the sender makes progress: it stops once STALLED_WAIT seconds pass with no
        operation delivered and no request taken, unless a request is under way to a server
        that answers (a server back from an outage may take seconds over its first request).
        One with nothing new to send does not wait at all: the full figure is waited once.
        """
        cursor, end = sender.spool.cursor(), sender.spool.end()
        stalled = self._gave_up_at is not None and cursor == self._gave_up_at
        if stalled and end == self._stalled_end:
            sender.flush(0.0, 0.0)  # nothing new since the last try: ask the sender to retry now
            return False
        wait = _seconds(ENV_REMOTE_WAIT, DEFAULT_REMOTE_WAIT)
        if stalled:
            delivered = sender.flush(wait, DOWN_GRACE, stall=STALLED_WAIT, alive=self._answers)
        else:
            delivered = sender.flush(wait, DOWN_GRACE)
        if delivered:
            self._gave_up_at = self._stalled_end = None
        else:
            self._gave_up_at, self._stalled_end = sender.spool.cursor(), end
        return delivered

    def _answers(self) -> bool:
        """Whether the server answers at all now (one quick try, no retries)."""
        quick = RestClient(self._uri, attempts=0, timeout=ALIVE_PROBE)
        try:
            return quick.answers(ALIVE_PROBE)
        finally:
            quick.close()

    def close(self) -> None:
        """Deliver what is pending (within TRACKLOG_REMOTE_WAIT), then report what is left."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        spool, sender = self._spool, self._sender
        if spool is not None and sender is not None and self._pid == os.getpid():
            delivered = self._wait(sender)
            sender.stop(5.0 if delivered else 0.2)  # a sender stuck on a silent server is left behind
            _summarize(self.location, spool, sender)
            spool.close()
            sender.client.close()
            # Data written after this (a late log record) starts a new spool: kept, not lost.
            self._spool = self._sender = None
        self.client.close()

    def __repr__(self) -> str:
        return f"MLflowStore({self.location!r})"


def _summarize(uri: str, spool: Spool, sender: Sender) -> None:
    """Say, on the tracklog logger, what could not be delivered and where it is kept."""
    left = spool.undelivered()
    if left:
        reason = f" ({sender.last_error})" if sender.last_error else ""
        _diag.logger.warning(
            "tracklog: %s could not be delivered to the MLflow server at %s%s. They are kept in %s; "
            "run `tracklog sync --pending` to send them when the server is back.",
            counts_text(left),
            uri,
            reason,
            spool.path,
        )
    if spool.dropped:
        _diag.logger.error(
            "tracklog: %s were dropped because the spool was full (bound %d bytes, %s).",
            counts_text(spool.dropped),
            spool.limit,
            "TRACKLOG_SPOOL_MAX_BYTES",
        )
    if sender.refused:
        _diag.logger.warning(
            "tracklog: the MLflow server at %s refused %s (see the warnings above).",
            uri,
            counts_text(sender.refused),
        )


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
