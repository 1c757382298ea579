"""The sender: drains a spool into an MLflow server, in order, on its own thread.

A run is created on the server by its ``c`` operation, the first of the run's
operations in the spool: the caller minted the run's id (tracklog's id) and never
waited; the sender finds or creates the experiment, creates the run with the tag
``tracklog._run_id`` holding tracklog's id (found again by that tag after a crash,
so a replay never makes two), and maps tracklog's id to the server's in every
request after it. The map is kept in the spool (``ids.jsonl``).

Operations go out as log-batch requests (consecutive small batches merged up to
MLflow's limits), params as their own requests (so one conflicting param cannot
take metrics down with it), run status updates after the run's log files, and
files through the artifact proxy. Connection errors, 429, 5xx and refused
credentials are retried with exponential backoff until the server takes the
data; a request the server refuses outright (400) is split until the one bad
item is found, which is reported and skipped.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.parse
from collections import Counter
from typing import Any, Callable

from .. import _diag
from .._threads import start_thread
from ._http import RemoteAPIError, RemoteError, RemoteUnavailableError, RestClient
from ._mlflow_map import (
    ID_TAG,
    MAX_METRICS,
    MAX_TAG_BYTES,
    MAX_TAGS,
    PARENT_TAG,
    ROWS_SUFFIX,
    render_table,
)
from ._mlflow_reads import create_experiment, find_experiment, runs_with_id, safe_id
from ._spool import Position, Spool, describe

_TERMINAL = {"FINISHED", "FAILED", "KILLED"}
#: How long a run another process is creating may stay missing on the server before
#: what this spool holds for it is reported and dropped.
NOT_FOUND_PATIENCE = 60.0

#: Told when the sender created a run: (tracklog's id, the server's id, artifact root, experiment id).
OnCreated = Callable[[str, str, "str | None", str], None]
#: Told when the sender found or created an experiment: (name, id).
OnExperiment = Callable[[str, str], None]


class _Stopped(Exception):
    """The sender was told to stop while the server was unreachable."""


class Sender:
    """Delivers one spool's operations and mirror files to one server."""

    def __init__(
        self,
        client: RestClient,
        spool: Spool,
        *,
        upload_interval: float = 10.0,
        max_backoff: float = 5.0,
        on_run_done: Callable[[str], None] | None = None,
        on_created: OnCreated | None = None,
        on_experiment: OnExperiment | None = None,
    ) -> None:
        self.client = client
        self.spool = spool
        self.upload_interval = upload_interval
        self.max_backoff = max_backoff
        self.on_run_done = on_run_done
        self.on_created = on_created
        self.on_experiment = on_experiment
        self.down_since: float | None = None
        #: True while the server cannot be reached at all (or refuses our credentials);
        #: a server answering 429 or 5xx is alive, and flushes keep waiting for it.
        self.unreachable = False
        self.last_error = ""
        #: What the server refused outright (reported and skipped), by kind.
        self.refused: Counter[str] = Counter()
        self._cond = threading.Condition()
        self._stop = False
        self._poke = False
        self._mirror_requested = 0
        self._mirror_done = 0
        self._next_upload = time.monotonic() + upload_interval
        self._roots: dict[str, str | None] = {}
        #: tracklog's run id -> the server's (None: refused, or never found: its data is dropped).
        self._ids: dict[str, str | None] = dict(spool.known_ids())
        #: The params sent per run (tracklog's id -> key -> value): one set again with its
        #: value is not sent again, one set to another value is refused here.
        self._sent_params: dict[str, dict[str, str]] = {}
        self._experiment_ids: dict[str, str | None] = {}
        self._missing_since: dict[str, float] = {}
        self._attempting = False  # a request is under way (set by the sender's thread)
        #: Requests the server took (each one progress, for a flush watching for a stall).
        self.answers = 0
        self._thread: threading.Thread | None = None

    # -- the caller's side ------------------------------------------------------

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = start_thread(self._run, "tracklog-mlflow-sender")

    def notify(self) -> None:
        """New operations were spooled."""
        with self._cond:
            self._cond.notify_all()

    def know_run(self, run_id: str, server_id: str, root: str | None) -> None:
        """Remember a run the store read: the server's id for tracklog's, and where its artifacts go."""
        self._ids[run_id] = server_id
        if root is not None:
            self._roots[run_id] = root

    def server_id(self, run_id: str) -> str | None:
        """The server's id of a run, when this sender knows it (None: not yet, or refused)."""
        return self._ids.get(run_id)

    def forget_experiment(self, experiment_id: str) -> None:
        """Forget the names found for an experiment (renamed: its old name may be made anew)."""
        for name, known in list(self._experiment_ids.items()):
            if known == experiment_id:
                self._experiment_ids.pop(name, None)

    def flush(
        self,
        timeout: float | None,
        grace: float,
        stall: float | None = None,
        alive: Callable[[], bool] | None = None,
    ) -> bool:
        """Wait until everything spooled so far (and the log files) reached the server.

        A sender backing off from an unreachable server retries at once; if the
        server still cannot be reached ``grace`` seconds later, or ``timeout``
        seconds pass, or (with ``stall``) the sender made no progress for ``stall``
        seconds, this gives up and returns False (the data stays spooled).

        Progress is an operation delivered or any request the server took. A request
        still under way when ``stall`` runs out is given another ``stall`` seconds
        while ``alive()`` says the server answers (a server just back may take seconds
        to answer its first request, or a big batch); one that does not answer, or a
        sender that is only backing off, ends the wait.
        """
        target = self.spool.end()
        with self._cond:
            self._mirror_requested += 1
            wanted = self._mirror_requested
            self._poke = True
            self._cond.notify_all()
        start = moved = time.monotonic()
        deadline = None if timeout is None else start + timeout
        last = (self.spool.cursor(), self.answers)
        # The server is asked while the window runs, so a silent one costs ``stall``, not more.
        probe = _Probe(alive) if stall is not None and alive is not None else None
        while True:
            with self._cond:
                while True:
                    cursor = self.spool.cursor()
                    if cursor >= target and self._mirror_done >= wanted:
                        return True
                    now = time.monotonic()
                    if (cursor, self.answers) != last:
                        last, moved = (cursor, self.answers), now
                        probe = None  # asked before this progress: ask again if it stalls
                    if self._thread is None or not self._thread.is_alive():
                        return False
                    # Unreachable, and no try under way (a server just back may answer its first slowly).
                    if self.down_since is not None and self.unreachable and not self._attempting and now - start > grace:
                        return False
                    if deadline is not None and now >= deadline:
                        return False
                    if stall is not None:
                        if probe is None and alive is not None and now - moved >= stall / 2:
                            probe = _Probe(alive)
                        if now - moved >= stall:
                            break
                    self._cond.wait(0.05)
            # No progress for ``stall`` seconds: on only while a request is under way to a
            # server that answers (waited for outside the lock: the sender's thread needs it).
            if not (self._attempting and probe is not None and probe.answered(stall)):
                return False
            moved = time.monotonic()
            probe = _Probe(alive) if alive is not None else None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (what is left stays in the spool)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the sender's thread ------------------------------------------------------------

    def _run(self) -> None:
        with _diag.doing_io():  # what urllib3 logs here must not feed back into runs
            while True:
                with self._cond:
                    while not self._stop and not self._has_work():
                        self._cond.wait(max(0.01, self._next_upload - time.monotonic()))
                    if self._stop:
                        return
                try:
                    self._step()
                except _Stopped:
                    return
                except Exception:  # a bug here must not end delivery for good
                    if self._stop:
                        return  # left behind at exit (a silent server): the spool keeps the rest
                    _diag.logger.error("tracklog: the MLflow sender failed; retrying", exc_info=True)
                    time.sleep(1.0)

    def _has_work(self) -> bool:
        if self.spool.cursor() < self.spool.end() or self._mirror_requested > self._mirror_done:
            return True
        if time.monotonic() >= self._next_upload:
            if self.spool.dirty_mirrors():
                return True
            self._next_upload = time.monotonic() + self.upload_interval
        return False

    def _step(self) -> None:
        items = self.spool.read(256)
        if items:
            self._deliver(items)
            with self._cond:
                self._cond.notify_all()
            if self.spool.cursor() < self.spool.end():
                return  # more operations first; mirrors when they are drained or due
        with self._cond:
            requested = self._mirror_requested
        if requested > self._mirror_done or time.monotonic() >= self._next_upload:
            self._upload_mirrors(None)
            self._next_upload = time.monotonic() + self.upload_interval
            with self._cond:
                self._mirror_done = max(self._mirror_done, requested)
                self._cond.notify_all()

    def _deliver(self, items: list[tuple[dict[str, Any], Position]]) -> None:
        index = 0
        while index < len(items):
            if self._stop:
                raise _Stopped  # what is left stays spooled, uncommitted
            op, position = items[index]
            kind = op.get("o")
            run_id = str(op.get("r", ""))
            if kind == "c":
                index += 1
                self._create_run(op)
            elif kind == "e":
                index += 1
                self._experiment_id(str(op.get("xn", "")))
            elif self._sid(run_id) is None:
                index += 1
                self._drop(run_id, op)
            elif kind == "b":
                metrics, tags = list(op.get("m", ())), list(op.get("t", ()))
                tag_bytes = sum(len(k) + len(v) for k, v in tags)
                index += 1
                while index < len(items):
                    nxt = items[index][0]
                    if nxt.get("o") != "b" or nxt.get("r") != run_id:
                        break
                    more_m, more_t = nxt.get("m", ()), nxt.get("t", ())
                    more_bytes = sum(len(k) + len(v) for k, v in more_t)
                    if (
                        len(metrics) + len(tags) + len(more_m) + len(more_t) > MAX_METRICS
                        or len(tags) + len(more_t) > MAX_TAGS
                        or tag_bytes + more_bytes > MAX_TAG_BYTES
                    ):
                        break
                    metrics.extend(more_m)
                    tags.extend(more_t)
                    tag_bytes += more_bytes
                    position = items[index][1]
                    index += 1
                self._send_batch(run_id, metrics, _dedupe_tags(tags))
            else:
                index += 1
                if kind == "p":
                    self._send_params(run_id, op.get("p", ()))
                elif kind == "s":
                    self._send_status(run_id, op)
                elif kind == "f":
                    self._send_file(run_id, op)
            self.spool.commit(position)

    # -- requests ---------------------------------------------------------------------

    def _retrying(self, action: Callable[[], Any]) -> Any:
        delay = 0.25
        while True:
            self._attempting = True
            try:
                result = action()
            except RemoteUnavailableError as exc:
                self._down(str(exc), unreachable=exc.status is None)
            except RemoteAPIError as exc:
                if exc.status not in (401, 403):
                    raise
                self._down(str(exc), unreachable=True)
            else:
                self.answers += 1
                self._up()
                return result
            finally:
                self._attempting = False
            with self._cond:
                # Back off, unless a flush asks to try again now (the server may be back).
                until = time.monotonic() + delay
                while not self._stop and not self._poke and time.monotonic() < until:
                    self._cond.wait(until - time.monotonic())
                if self._stop:
                    raise _Stopped
                if self._poke:
                    self._poke = False
                    continue
            delay = min(delay * 2, self.max_backoff)

    def _down(self, reason: str, unreachable: bool) -> None:
        self.last_error = reason
        self.unreachable = unreachable
        if self.down_since is None and not self._stop:  # stopping: the exit summary says it
            self.down_since = time.monotonic()
            _diag.logger.warning(
                "tracklog: %s; keeping data in %s and retrying", reason, self.spool.path
            )

    def _up(self) -> None:
        self.unreachable = False
        if self.down_since is not None:
            _diag.logger.warning(
                "tracklog: the MLflow server at %s takes data again after %.1fs; sending what was kept",
                self.client.uri,
                time.monotonic() - self.down_since,
            )
            self.down_since = None

    def _send_batch(self, run_id: str, metrics: list[Any], tags: list[Any]) -> None:
        body = {
            "run_id": self._ids[run_id],
            "metrics": [{"key": k, "value": v, "timestamp": ts, "step": s} for k, v, ts, s in metrics],
            "tags": [{"key": k, "value": v} for k, v in tags],
        }
        try:
            self._retrying(lambda: self.client.call("POST", "runs/log-batch", body))
        except RemoteAPIError as exc:
            if _run_gone(exc) or len(metrics) + len(tags) <= 1:
                self._refuse(run_id, exc, metrics, tags)
                return
            half_m, half_t = len(metrics) // 2, len(tags) // 2
            self._send_batch(run_id, metrics[:half_m], tags[:half_t])
            self._send_batch(run_id, metrics[half_m:], tags[half_t:])

    def _refuse(self, run_id: str, exc: RemoteAPIError, metrics: list[Any], tags: list[Any]) -> None:
        if metrics:
            self.refused["metric points"] += len(metrics)
        if tags:
            self.refused["tags"] += len(tags)
        names = sorted({m[0] for m in metrics} | {t[0] for t in tags})
        _diag.warn_once(
            ("mlflow-refused", run_id, tuple(names[:5]), exc.code),
            "tracklog: the MLflow server refused %d metric points and %d tags of run %s (%s): %s",
            len(metrics),
            len(tags),
            run_id,
            ", ".join(names[:5]),
            exc,
        )

    def _send_params(self, run_id: str, params: Any) -> None:
        sent = self._sent_params.setdefault(run_id, {})
        unique: dict[str, str] = {}
        for key, value in params:
            before = unique.get(key, sent.get(key))
            if before is None:
                unique[key] = value
            elif before != value:  # the server would refuse it too: params cannot change
                self._refuse_param(run_id, f"it is already {before!r}, params cannot change (refused {value!r})", [key])
        if not unique:
            return  # each was sent before with this value (the run API's, then its event's)
        sid = self._ids[run_id]
        body = {"run_id": sid, "params": [{"key": k, "value": v} for k, v in unique.items()]}
        try:
            self._retrying(lambda: self.client.call("POST", "runs/log-batch", body))
            sent.update(unique)
            return
        except RemoteAPIError as exc:
            if _run_gone(exc) or len(unique) == 1:
                self._refuse_param(run_id, exc, list(unique))
                return
        for key, value in unique.items():
            one = {"run_id": sid, "key": key, "value": value}
            try:
                self._retrying(lambda: self.client.call("POST", "runs/log-parameter", one))
                sent[key] = value
            except RemoteAPIError as exc:
                self._refuse_param(run_id, exc, [key])

    def _refuse_param(self, run_id: str, exc: RemoteAPIError | str, keys: list[str]) -> None:
        """Count and say (once) params not delivered: the server refused them (``exc``), or
        we did (a reason: a param set before to another value, which it would refuse)."""
        self.refused["params"] += len(keys)
        _diag.warn_once(
            ("mlflow-param", run_id, tuple(keys)),
            "tracklog: %s params %s of run %s: %s",
            "the MLflow server refused" if isinstance(exc, RemoteAPIError) else "refused",
            ", ".join(keys),
            run_id,
            exc,
        )

    def _send_status(self, run_id: str, op: dict[str, Any]) -> None:
        status = str(op.get("s"))
        self._upload_mirrors(run_id)
        body: dict[str, Any] = {"run_id": self._ids[run_id], "status": status}
        if op.get("e") is not None:
            body["end_time"] = int(op["e"])
        try:
            self._retrying(lambda: self.client.call("POST", "runs/update", body))
        except RemoteAPIError as exc:
            self.refused["run status updates"] += 1
            _diag.logger.error(
                "tracklog: the MLflow server refused status %s of run %s: %s", status, run_id, exc
            )
        if status in _TERMINAL:
            if self.on_run_done is not None:
                self.on_run_done(run_id)
            self.spool.drop_mirrors(run_id)

    def _send_file(self, run_id: str, op: dict[str, Any]) -> None:
        name, source = str(op.get("a")), str(op.get("f"))
        try:
            root = self._root(run_id)
            path = self.spool.file_path(source)
            size = os.path.getsize(path)
            self._retrying(lambda: self._put(f"{root}/{name}", path, size))
        except FileNotFoundError:
            self.refused["files"] += 1
            _diag.logger.error("tracklog: the spooled copy of %s (run %s) is gone", name, run_id)
        except RemoteError as exc:
            self.refused["files"] += 1
            _diag.logger.error("tracklog: could not upload %s to run %s: %s", name, run_id, exc)
        self.spool.remove_file(source)

    def _upload_mirrors(self, run_id: str | None) -> None:
        for run, name, size in self.spool.dirty_mirrors(run_id):
            try:
                root = self._root(run)
            except RemoteError as exc:
                _diag.warn_once(
                    ("mlflow-root", run), "tracklog: log files of run %s stay local: %s", run, exc
                )
                continue
            path = name
            local = self.spool.mirror_path(run, name)
            try:
                if name.endswith(ROWS_SUFFIX):
                    path = name[: -len(ROWS_SUFFIX)]
                    table = render_table(self.spool.read_mirror(run, name, size))
                    self._retrying(lambda: self.client.put_artifact(f"{root}/{path}", table))
                else:  # a log file grows while it is sent: send its first ``size`` bytes
                    self._retrying(lambda: self._put(f"{root}/{path}", local, size))
            except RemoteAPIError as exc:
                _diag.warn_once(
                    ("mlflow-upload", run, path), "tracklog: could not upload %s of run %s: %s", path, run, exc
                )
                continue
            self.spool.mirror_sent(run, name, size)

    def _put(self, target: str, path: str, size: int) -> None:
        with open(path, "rb") as handle:
            self.client.put_artifact(target, _Prefix(handle, size))

    def _root(self, run_id: str) -> str:
        root = self._roots.get(run_id)
        if root is None:
            sid = self._sid(run_id)
            if sid is None:
                raise RemoteError(f"run {run_id} is not on the MLflow server at {self.client.uri}")
            answer = self._retrying(lambda: self.client.call("GET", "runs/get", {"run_id": sid}))
            uri = answer.get("run", {}).get("info", {}).get("artifact_uri", "")
            root = self._roots[run_id] = proxy_path(uri)
        return root

    # -- runs and experiments ------------------------------------------------------------

    def _experiment_id(self, name: str) -> str | None:
        """The id of the experiment ``name``, found or created (None: deleted on the server)."""
        if name in self._experiment_ids:
            return self._experiment_ids[name]

        def attempt() -> dict[str, Any] | None:
            raw = find_experiment(self.client, name)
            if raw is None:
                create_experiment(self.client, name)
                raw = find_experiment(self.client, name)
            return raw

        try:
            raw = self._retrying(attempt)
        except RemoteAPIError as exc:
            raw, reason = None, str(exc)
        else:
            reason = "it is deleted there: restore it (mlflow experiments restore) or use another name"
        if raw is None:
            self._experiment_ids[name] = None
            _diag.logger.error(
                "tracklog: no experiment %r on the MLflow server at %s (%s); its new runs are not sent",
                name,
                self.client.uri,
                reason,
            )
            return None
        experiment_id = str(raw["experiment_id"])
        self._experiment_ids[name] = experiment_id
        if self.on_experiment is not None:
            self.on_experiment(name, experiment_id)
        return experiment_id

    def _create_run(self, op: dict[str, Any]) -> None:
        """Create the run of a ``c`` operation, or find the one an earlier attempt created."""
        run_id = str(op.get("r", ""))
        if self._ids.get(run_id):
            return  # created before this spool was replayed
        experiment_id = op.get("x") or self._experiment_id(str(op.get("xn", "")))
        if experiment_id is None:
            self._ids[run_id] = None
            self.refused["runs"] += 1
            return
        tags = [list(t) for t in op.get("g", ())]
        parent = op.get("pr")
        if parent:
            parent_sid = self._sid(str(parent))
            if parent_sid is not None:
                tags.append([PARENT_TAG, parent_sid])
        body = {
            "experiment_id": experiment_id,
            "start_time": op.get("t"),
            "run_name": op.get("n", ""),
            "tags": [{"key": k, "value": v} for k, v in tags],
        }
        search = {
            "experiment_ids": [experiment_id],
            "filter": f"tags.`{ID_TAG}` = '{safe_id(run_id)}'",
            "max_results": 1,
        }

        def attempt() -> dict[str, Any]:
            # A try that failed after the server created the run must not make a second one.
            found = self.client.call("POST", "runs/search", search).get("runs", [])
            if found:
                return dict(found[0])
            return dict(self.client.call("POST", "runs/create", body, idempotent=False)["run"])

        try:
            raw = self._retrying(attempt)
        except RemoteAPIError as exc:
            self._ids[run_id] = None
            self.refused["runs"] += 1
            _diag.logger.error("tracklog: the MLflow server refused to create run %s: %s", run_id, exc)
            return
        sid = str(raw.get("info", {}).get("run_id"))
        self._learn(run_id, sid, raw)
        self.spool.record_id(run_id, sid)
        if self.on_created is not None:
            self.on_created(run_id, sid, self._roots.get(run_id), str(experiment_id))

    def _learn(self, run_id: str, sid: str, raw: dict[str, Any]) -> None:
        self._ids[run_id] = sid
        try:
            self._roots[run_id] = proxy_path(raw.get("info", {}).get("artifact_uri", ""))
        except RemoteError:
            pass  # said when its files are sent

    def _sid(self, run_id: str) -> str | None:
        """The server's id for tracklog's ``run_id``: known, or looked up (by id, then by tag)."""
        if run_id in self._ids:
            return self._ids[run_id]
        try:
            return self._retrying(lambda: self._find(run_id))  # type: ignore[no-any-return]
        except RemoteAPIError:
            self._ids[run_id] = None  # the server refuses to say: its data is reported, not retried forever
            return None

    def _find(self, run_id: str) -> str | None:
        try:
            raw = self.client.call("GET", "runs/get", {"run_id": run_id})["run"]
        except RemoteAPIError as exc:
            if exc.status not in (400, 404) and not _run_gone(exc):
                raise
            found = runs_with_id(self.client, run_id)
            if not found:
                # Another process may not have created it yet (its sender is behind ours).
                first = self._missing_since.setdefault(run_id, time.monotonic())
                if time.monotonic() - first < NOT_FOUND_PATIENCE:
                    raise RemoteUnavailableError(
                        f"run {run_id} is not on the MLflow server at {self.client.uri} yet", 404
                    ) from None
                self._ids[run_id] = None
                return None
            raw = found[0]
        self._learn(run_id, str(raw.get("info", {}).get("run_id")), raw)
        return self._ids[run_id]

    def _drop(self, run_id: str, op: dict[str, Any]) -> None:
        """An operation of a run the server does not have (refused, or never found): counted."""
        self.refused.update(describe(op))
        _diag.warn_once(
            ("mlflow-no-run", run_id),
            "tracklog: run %s is not on the MLflow server at %s; what this process logged into it "
            "is not sent",
            run_id,
            self.client.uri,
        )


def proxy_path(artifact_uri: str) -> str:
    """The artifact proxy's path for a run's ``artifact_uri`` (``mlflow-artifacts:/1/<id>/artifacts``)."""
    parts = urllib.parse.urlsplit(artifact_uri)
    if parts.scheme == "mlflow-artifacts":
        return parts.path.strip("/")
    anchor = "/api/2.0/mlflow-artifacts/artifacts/"
    if parts.scheme in ("http", "https") and anchor in parts.path:
        return parts.path.split(anchor, 1)[1].strip("/")
    raise RemoteError(
        f"the server keeps this run's artifacts at {artifact_uri!r}, outside its artifact proxy; "
        "run `mlflow server` with artifact serving on (the default, --serve-artifacts) so "
        "tracklog can upload log files and images"
    )


class _Probe:
    """``alive()`` asked once on a thread of its own, so that its wait overlaps a flush's."""

    def __init__(self, alive: Callable[[], bool]) -> None:
        self._alive = alive
        self._answer = False
        self._done = threading.Event()
        start_thread(self._ask, "tracklog-mlflow-probe")

    def _ask(self) -> None:
        try:
            self._answer = bool(self._alive())
        except Exception:
            self._answer = False
        finally:
            self._done.set()

    def answered(self, wait: float) -> bool:
        """True if the server answered (waiting at most ``wait`` seconds more for it to say)."""
        return self._done.wait(wait) and self._answer


class _Prefix:
    """The first ``size`` bytes of an open file, streamed by requests with a Content-Length."""

    def __init__(self, handle: Any, size: int) -> None:
        self._handle = handle
        self._left = size
        self._size = size

    def __len__(self) -> int:
        return self._size

    def read(self, amount: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        amount = self._left if amount is None or amount < 0 else min(amount, self._left)
        data = self._handle.read(amount)
        self._left -= len(data)
        return data


def _run_gone(exc: RemoteAPIError) -> bool:
    text = str(exc)
    return exc.code == "RESOURCE_DOES_NOT_EXIST" or "must be in the 'active' state" in text


def _dedupe_tags(tags: list[Any]) -> list[Any]:
    last: dict[str, Any] = {}
    for key, value in tags:
        last.pop(key, None)
        last[key] = value
    return [[k, v] for k, v in last.items()]
