"""The embedded store: SQLite in WAL mode plus run folders on disk.

Many processes may write one workspace at once: each has its own connections,
writes go in short ``BEGIN IMMEDIATE`` transactions, and a busy database makes
the writer retry (``RetryLater``) instead of failing the caller. A disk that is
full, a file-size limit, a read-only mount or a damaged file make it ``Stalled``:
the pipeline keeps what fits and retries slowly; control-plane writes that can wait
(a run's status, a param) wait in memory for the next write that succeeds.

Connections, read-only opening, a vanished file and fork safety are in
``_sqlite_db.Database``; what SQLite's errors mean is in ``_sqlite_open``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from itertools import repeat
from operator import itemgetter
from typing import IO, Any, Callable, Iterator, Sequence

from .. import _config, _diag
from .._errors import (
    ParamConflictError,
    RunNotFoundError,
    TracklogError,
    WorkspaceError,
)
from .._logfile import encode_record, encode_records
from .._output_format import encode_output
from .._paths import copy_source, join_inside
from .._rank import current_rank
from .._types import CRASHED, NO_OWNER, RUNNING, ExperimentInfo, MetricPoint, RunInfo
from ..pipeline.event import (
    EVENT_FIELDS,
    LOG,
    METRIC,
    METRIC_KINDS,
    OUTPUT,
    PARAM,
    POINTS,
    TAG,
    Event,
)
from ..pipeline.sink import RetryLater, Stalled
from ._base import Store, the_run
from ._chunks import collector_paused, pack_chunk, unpack_points
from ._liveness import CRASH_ERROR, crashed
from ._liveness import HOST as _HOST
from ._runlogs import LogAppender
from ._series import ChunkReader
from ._sqlite_db import BUSY_BUDGET, Database, retry, rollback
from ._sqlite_open import BUSY, DAMAGED, STALLED, damaged_error, outcome, stall_hint
from ._sqlite_registry import RegistryTables
from ._sqlite_tracking import TrackingTables, new_experiment_id

_NAN = float("nan")
#: No run id, file name or metric name is this: the first item of a batch looks its keys up.
_NO_KEY: Any = object()

_RUN_COLUMNS = (
    "r.run_id, r.experiment_id, e.name, r.name, r.status, r.start_time, r.end_time, "
    "r.parent_run_id, r.error, r.owner_pid, r.owner_host, r.heartbeat, r.lifecycle, "
    "r.description, r.user_id"
)
#: Every run with its experiment's name, in _RUN_COLUMNS.
_SELECT_RUNS = f"SELECT {_RUN_COLUMNS} FROM runs r JOIN experiments e USING (experiment_id)"


_CHUNK_COLUMNS = (
    "key_id", "rank", "count", "min_step", "max_step", "ordered", "min_value", "max_value",
    "last_value", "first_ts", "last_ts", "encoding", "steps", "vals", "ts",
)
_INSERT_CHUNK = (
    f"INSERT INTO metric_chunks ({', '.join(_CHUNK_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _CHUNK_COLUMNS)})"
)


class _Points:
    """One metric's points in a batch, in arrival order: the columns, and the log records
    with a point (LOG_LINE_WITH_POINT) that arrived since they were last moved into them. The
    records' columns are taken out in C (itemgetter) rather than appended one by one."""

    __slots__ = ("kind", "records", "steps", "times", "values")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.steps: list[int] = []
        self.values: list[Any] = []
        self.times: list[float] = []
        self.records: list[tuple[Any, ...]] = []

    @staticmethod
    def of(groups: dict[tuple[str, str], _Points], run_id: str, name: str, kind: str) -> _Points:
        """The points of ``name`` of ``run_id`` in ``groups``, new ones of ``kind`` if none yet."""
        found = groups.get((run_id, name))
        if found is None:
            found = groups[(run_id, name)] = _Points(kind)
        return found

    def appenders(self) -> tuple[Callable[[Any], None], ...]:
        """The bound appends of the records, steps, values and times lists."""
        return self.records.append, self.steps.append, self.values.append, self.times.append

    def take_records(self) -> None:
        """Move the waiting records' points into the columns (before a point of another kind)."""
        records = self.records
        if records:
            self.steps.extend(map(_RECORD_STEP, records))
            self.values.extend(map(_RECORD_VALUE, records))
            self.times.extend(map(_RECORD_TIME, records))
            records.clear()


#: A LOG_LINE_WITH_POINT record's point: its step, value and time.
_RECORD_STEP, _RECORD_VALUE, _RECORD_TIME = itemgetter(7), itemgetter(6), itemgetter(1)

#: A control-plane write that waits for space: work(conn) inside a write transaction.
_Work = Callable[[sqlite3.Connection], Any]


class SQLiteStore(TrackingTables, RegistryTables, Store):
    """Runs in ``<root>/tracklog.db`` and files in ``<root>/runs/<run_id>/``."""

    #: write_batch reads the pipeline's items by index (see Sink.takes_tuples).
    takes_tuples = True
    #: Closed at exit: the last writer's close folds the WAL into tracklog.db.
    close_at_exit = True

    def __init__(self, root: str, *, create: bool = True) -> None:
        self.root = os.path.abspath(root)
        self.location = self.root
        self.db_path = os.path.join(self.root, "tracklog.db")
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise WorkspaceError(f"workspace path {self.root} is a file, not a folder")
        if not create and not os.path.exists(self.db_path):
            raise WorkspaceError(
                f"no tracklog workspace at {self.root}: log a run first, or pass --workspace"
            )
        self._rank = current_rank()
        self._logs = LogAppender(self._log_path)
        # Control-plane writes refused by a full disk, applied by the next write that works.
        self._deferred: list[_Work] = []
        self._deferred_status: dict[str, tuple[str, float | None, str | None]] = {}
        # Runs seen, so runs still logging carry on into a fresh file if the old one vanished.
        self._known: dict[str, RunInfo] = {}
        self._run_pks: dict[str, int] = {}
        self._key_ids: dict[tuple[str, str], int] = {}
        self._db = Database(self.root, on_fresh_file=self._forget_ids)

    @property
    def read_only(self) -> bool:
        """True when the workspace could only be opened for reading (a read-only mount)."""
        return self._db.read_only

    def _forget_ids(self) -> None:
        self._run_pks.clear()
        self._key_ids.clear()

    def _tx(self, work: _Work, *, defer: Callable[[], None] | None = None) -> Any:
        """Run ``work(conn)`` in one write transaction on the control connection.

        When the disk is full (or the file-size limit reached), ``defer`` given: call it,
        keep ``work`` for the next write that succeeds, and return None.
        """

        db = self._db

        def attempt() -> Any:
            conn = db.control()
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._apply_deferred(conn)
                result = work(conn)
                conn.execute("COMMIT")
                self._deferred_done()
                return result
            except BaseException:
                rollback(conn)
                raise

        with db.lock:
            if db.vanished():
                db.start_fresh_file()
            if db.read_only:
                db.writable_again()
            try:
                return retry(attempt)
            except sqlite3.Error as exc:
                kind = outcome(exc)
                if kind == STALLED and defer is not None:
                    self._defer(work, exc)
                    defer()
                    return None
                raise self._control_error(exc, kind) from exc

    def _control_error(self, exc: sqlite3.Error, kind: str | None) -> Exception:
        if kind == DAMAGED:
            return damaged_error(self.db_path, exc)
        if kind == STALLED:
            return WorkspaceError(
                f"cannot write to the workspace at {self.root}: {exc} (a full disk, a "
                f"file-size limit or a read-only mount?)"
            )
        if kind == BUSY:
            return WorkspaceError(
                f"the workspace at {self.root} stayed locked by another process for "
                f"{BUSY_BUDGET:.0f} s ({exc})"
            )
        return exc

    def _defer(self, work: _Work, exc: sqlite3.Error) -> None:
        _diag.warn_once(
            ("deferred", self.root),
            "tracklog: cannot write to the workspace at %s (%s): run status and param "
            "changes wait in memory until it can be written",
            self.root,
            exc,
        )
        self._deferred.append(work)

    def _apply_deferred(self, conn: sqlite3.Connection) -> None:
        """Inside a write transaction: the control-plane writes that waited for space."""
        for work in list(self._deferred):
            work(conn)

    def _deferred_done(self) -> None:
        if self._deferred:
            self._deferred.clear()
            self._deferred_status.clear()

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        db = self._db
        with db.lock:
            if db.vanished():
                db.start_fresh_file()
            try:
                return retry(lambda: db.control().execute(sql, args).fetchall())
            except sqlite3.Error as exc:
                if outcome(exc) == DAMAGED:
                    raise damaged_error(self.db_path, exc) from exc
                raise

    # -- the data-plane primitive ----------------------------------------------

    def write_batch(self, events: Sequence[Event]) -> None:
        """Write the batch in one transaction, then append its log lines.

        Busy: RetryLater. Disk full, file-size limit, read-only, I/O error, damaged file:
        Stalled, with nothing of the batch written.
        """
        db = self._db
        try:
            if db.vanished():
                db.start_fresh_file()
            with db.wlock:
                self._logs.retry()  # lines a full disk refused go first, or nothing goes
                lines = self._write_rows(events)
                self._logs.append(lines)
        except sqlite3.Error as exc:
            kind = outcome(exc)
            if kind == BUSY:
                raise RetryLater(f"workspace database busy ({exc})") from exc
            if kind is None:
                raise
            db.drop_writer()  # a fresh connection after an I/O error
            raise Stalled(f"cannot write to {self.db_path}: {exc}; {stall_hint(exc)}?") from exc
        except OSError as exc:
            raise Stalled(
                f"cannot append to the run log files in {self.root}: {exc}; {stall_hint(exc)}?"
            ) from exc
        except WorkspaceError as exc:  # the file at the path is damaged, or read-only
            raise Stalled(str(exc)) from exc

    def _write_rows(self, events: Sequence[Event]) -> dict[tuple[str, str], bytes]:
        """The batch's rows in one transaction (holds the writer's lock); its log lines."""
        conn = self._db.writer()
        rank = self._rank
        key_ids = self._key_ids
        new_keys: dict[tuple[str, str], int] = {}
        groups: dict[tuple[str, str], _Points] = {}
        tags: list[tuple[int, str, str]] = []
        params: list[tuple[str, int, str, str]] = []
        # Each file's LOG and OUTPUT events in order, encoded once the loop is done; the
        # files that got OUTPUT events too (their lines are encoded one event at a time).
        logs: dict[tuple[str, str], list[Any]] = {}
        mixed: set[tuple[str, str]] = set()
        # The last log file's and the last metric's keys and list appends: a batch is mostly
        # long runs of one file and one metric, so most items skip the key and its lookup.
        log_run: Any = _NO_KEY
        log_file: Any = _NO_KEY
        log_head: Any = _NO_KEY  # the last LOG_LINE head, whose file log_append is
        log_append: Callable[[Any], None] = [].append  # replaced by the first log item
        point_run: Any = _NO_KEY
        point_name: Any = _NO_KEY
        group = _Points(METRIC)  # replaced by the first point's, as its appends are
        add_record, add_step, add_value, add_time = group.appenders()
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._apply_deferred(conn)
            # Items are read by index: Events, plain tuples of their fields, or RunHandler's
            # LOG_LINE and LOG_LINE_WITH_POINT layouts (see pipeline.event).
            for ev in events:
                head = ev[0]
                if head is log_head or type(head) is tuple:  # a LOG_LINE, the commonest item
                    if head is not log_head:
                        log_head, log_run, log_file = head, head[0], head[2]
                        log_append = logs.setdefault((log_run, log_file), []).append
                    log_append(ev)
                    if len(ev) == 5:  # LOG_LINE, as a constant in the writer's hot loop
                        continue
                    # A log record with its metric point (LOG_LINE_WITH_POINT): the point.
                    if ev[5] is not point_name or log_run is not point_run:
                        point_run, point_name = log_run, ev[5]
                        group = _Points.of(groups, point_run, point_name, METRIC)
                        add_record, add_step, add_value, add_time = group.appenders()
                    add_record(ev)
                    continue
                kind = ev[1]
                if kind == LOG or kind == OUTPUT:
                    if head is not log_run or ev[2] is not log_file:
                        log_run, log_file, log_head = head, ev[2], _NO_KEY
                        log_append = logs.setdefault((log_run, log_file), []).append
                    log_append(ev)
                    if kind == OUTPUT:
                        mixed.add((log_run, log_file))
                elif kind in METRIC_KINDS:
                    if ev[2] is not point_name or ev[0] is not point_run:
                        point_run, point_name = ev[0], ev[2]
                        group = _Points.of(groups, point_run, point_name, kind)
                        add_record, add_step, add_value, add_time = group.appenders()
                    if group.records:
                        group.take_records()  # they came first
                    add_step(ev[4])
                    add_value(ev[3])
                    add_time(ev[5])
                elif kind == POINTS:  # many points of one metric (see pipeline.event)
                    many = _Points.of(groups, ev[0], ev[2], METRIC)
                    many.take_records()
                    many.steps.extend(ev[4])
                    many.values.extend(ev[3])
                    many.times.extend(repeat(ev[5], len(ev[3])))
                elif kind == TAG:
                    tags.append((self._run_pk(conn, ev[0]), ev[2], ev[3]))
                elif kind == PARAM:
                    params.append((ev[0], self._run_pk(conn, ev[0]), ev[2], ev[3]))
            lines = {key: self._encode_lines(chunk, key in mixed) for key, chunk in logs.items()}
            for key, points in groups.items():
                points.take_records()
                key_id = key_ids.get(key) or new_keys.get(key)
                if key_id is None:
                    key_id = new_keys[key] = self._key_id(conn, key[0], key[1], points.kind)
                self._insert_chunk(conn, key_id, rank, points.steps, points.values, points.times)
            if tags:
                conn.executemany("INSERT OR REPLACE INTO tags VALUES (?, ?, ?)", tags)
            for run_id, run_pk, key, value in params:
                self._insert_param(conn, run_id, run_pk, key, value, warn=True)
            conn.execute("COMMIT")
        except BaseException:
            rollback(conn)
            raise
        self._deferred_done()
        key_ids.update(new_keys)
        return lines

    def _encode_lines(self, events: list[Any], mixed: bool) -> bytes:
        """One file's LOG (and OUTPUT) events as its lines, in order."""
        if not mixed:
            return encode_records(events, self._rank)
        return b"".join(
            encode_output(ev, self._rank) if len(ev) == EVENT_FIELDS and ev[1] == OUTPUT else encode_record(ev, self._rank)
            for ev in events
        )

    @staticmethod
    def _insert_chunk(
        conn: sqlite3.Connection,
        key_id: int,
        rank: int | None,
        steps: list[int],
        values: list[Any],
        times: list[float],
    ) -> None:
        row = pack_chunk(steps, values, times)
        row["key_id"] = key_id
        row["rank"] = rank
        conn.execute(_INSERT_CHUNK, row)

    def _log_path(self, run_id: str, filename: str) -> str:
        return join_inside(self.run_dir(run_id), "logs/" + filename)

    def _run_pk(self, conn: sqlite3.Connection, run_id: str) -> int:
        pk = self._run_pks.get(run_id)
        if pk is None:
            row = conn.execute("SELECT run_pk FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                if not (self._db.fresh_file and run_id in self._known):
                    raise RunNotFoundError(f"no run {run_id!r} in workspace {self.root}")
                row = (self._carry_over(conn, self._known[run_id]),)
            pk = self._run_pks[run_id] = row[0]
        return pk

    def _carry_over(self, conn: sqlite3.Connection, info: RunInfo) -> int:
        """A run of the vanished file, made again in the fresh one: its run_pk."""
        conn.execute(
            "INSERT OR IGNORE INTO experiments (name, created) VALUES (?, ?)",
            (info.experiment_name, time.time()),
        )
        (experiment_id,) = conn.execute(
            "SELECT experiment_id FROM experiments WHERE name = ?", (info.experiment_name,)
        ).fetchone()
        conn.execute(
            "INSERT OR IGNORE INTO runs (run_id, experiment_id, name, status, start_time, "
            "parent_run_id, owner_pid, owner_host, heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (info.run_id, experiment_id, info.name, RUNNING, info.start_time, info.parent_run_id,
             info.owner_pid, info.owner_host, time.time()),
        )
        return conn.execute("SELECT run_pk FROM runs WHERE run_id = ?", (info.run_id,)).fetchone()[0]

    def _key_id(self, conn: sqlite3.Connection, run_id: str, name: str, kind: str) -> int:
        run_pk = self._run_pk(conn, run_id)
        conn.execute(
            "INSERT OR IGNORE INTO metric_keys (run_pk, name, kind) VALUES (?, ?, ?)",
            (run_pk, name, kind),
        )
        key_id, stored_kind = conn.execute(
            "SELECT key_id, kind FROM metric_keys WHERE run_pk = ? AND name = ?", (run_pk, name)
        ).fetchone()
        if stored_kind != kind:
            _diag.warn_once(
                ("kind", run_id, name),
                "tracklog: metric %r of run %s was first logged as a %s, now as a %s; "
                "it is read back as a %s",
                name,
                run_id,
                stored_kind,
                kind,
                stored_kind,
            )
        return key_id

    def _insert_param(
        self, conn: sqlite3.Connection, run_id: str, run_pk: int, key: str, value: str, warn: bool
    ) -> None:
        conn.execute("INSERT OR IGNORE INTO params VALUES (?, ?, ?)", (run_pk, key, value))
        stored = conn.execute(
            "SELECT value FROM params WHERE run_pk = ? AND key = ?", (run_pk, key)
        ).fetchone()[0]
        if stored != value:
            message = (
                f"param {key!r} of run {run_id} is already {stored!r}; params cannot change "
                f"(refused {value!r}). Log a metric or a tag for values that change."
            )
            if not warn:
                raise ParamConflictError(message)
            _diag.warn_once(("param", run_id, key, value), "tracklog: %s", message)

    # -- control plane ------------------------------------------------------------

    def get_or_create_experiment(self, name: str) -> ExperimentInfo:
        found = self.get_experiment(name)  # reading needs no write (a read-only workspace)
        if found is not None:
            return found

        def work(conn: sqlite3.Connection) -> ExperimentInfo:
            conn.execute(
                "INSERT OR IGNORE INTO experiments (experiment_id, name, created) VALUES (?, ?, ?)",
                (new_experiment_id(conn, name), name, time.time()),
            )
            row = conn.execute(
                "SELECT experiment_id, name, created FROM experiments WHERE name = ?", (name,)
            ).fetchone()
            return ExperimentInfo(str(row[0]), row[1], row[2])

        return self._tx(work)

    def get_experiment(self, name: str) -> ExperimentInfo | None:
        rows = self._query("SELECT experiment_id, name, created FROM experiments WHERE name = ?", (name,))
        return ExperimentInfo(str(rows[0][0]), rows[0][1], rows[0][2]) if rows else None

    def list_experiments(self) -> list[ExperimentInfo]:
        rows = self._query("SELECT experiment_id, name, created FROM experiments ORDER BY experiment_id")
        return [ExperimentInfo(str(r[0]), r[1], r[2]) for r in rows]

    def create_run(
        self,
        experiment_id: str,
        name: str,
        *,
        parent_run_id: str | None = None,
        owner_pid: int | None = None,
    ) -> RunInfo:
        run_id = uuid.uuid4().hex
        now = time.time()
        pid = os.getpid() if owner_pid is None else owner_pid

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO runs (run_id, experiment_id, name, status, start_time, parent_run_id, "
                "owner_pid, owner_host, heartbeat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, int(experiment_id), name, RUNNING, now, parent_run_id, pid, _HOST, now),
            )

        self._tx(work)
        os.makedirs(self.run_dir(run_id), exist_ok=True)
        return self.get_run(run_id)

    def run_dir(self, run_id: str) -> str:
        """The folder holding the run's files."""
        return os.path.join(self.root, "runs", run_id)

    def _info(self, row: tuple[Any, ...]) -> RunInfo:
        info = RunInfo(
            run_id=row[0],
            experiment_id=str(row[1]),
            experiment_name=row[2],
            name=row[3],
            status=row[4],
            start_time=row[5],
            end_time=row[6],
            parent_run_id=row[7],
            error=row[8],
            owner_pid=row[9],
            owner_host=row[10],
            heartbeat=row[11],
            lifecycle=row[12],
            description=row[13],
            user_id=row[14],
        )
        self._known[info.run_id] = info
        waiting = self._deferred_status.get(info.run_id)
        if waiting is not None:  # written once the disk has room again
            return info.replace(status=waiting[0], end_time=waiting[1], error=waiting[2])
        if info.status == RUNNING and self._owner_dead(info):
            return self._mark_crashed(info)
        return info

    @staticmethod
    def _owner_dead(info: RunInfo) -> bool:
        return crashed(info, _config.HEARTBEAT_TIMEOUT)

    def _mark_crashed(self, info: RunInfo) -> RunInfo:
        end = info.heartbeat or info.start_time
        error = CRASH_ERROR

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE runs SET status = ?, end_time = ?, error = ? WHERE run_id = ? AND status = ?",
                (CRASHED, end, error, info.run_id, RUNNING),
            )

        try:
            self._tx(work)
        except (sqlite3.Error, TracklogError):
            pass  # reading must still work on a read-only or full workspace
        return info.replace(status=CRASHED, end_time=end, error=error)

    def get_run(self, run_id: str) -> RunInfo:
        sql = _SELECT_RUNS + " "
        rows = self._query(sql + "WHERE r.run_id = ?", (run_id,))
        if not rows and run_id and all(c in "0123456789abcdef" for c in run_id):
            rows = self._query(sql + "WHERE r.run_id LIKE ? LIMIT 2", (run_id + "%",))
        return self._info(the_run(rows, run_id, f"in workspace {self.root}"))

    def search_runs(
        self, experiment_id: str | None = None, parent_run_id: str | None = None
    ) -> list[RunInfo]:
        sql = _SELECT_RUNS
        where, args = [], []
        if experiment_id is not None:
            where.append("r.experiment_id = ?")
            args.append(int(experiment_id))
        if parent_run_id is not None:
            where.append("r.parent_run_id = ?")
            args.append(parent_run_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.start_time DESC, r.run_pk DESC"
        return [self._info(row) for row in self._query(sql, args)]

    def last_made_run(self) -> RunInfo | None:
        rows = self._query(_SELECT_RUNS + " ORDER BY r.run_pk DESC LIMIT 1")
        return self._info(rows[0]) if rows else None

    def set_status(
        self,
        run_id: str,
        status: str,
        end_time: float | None,
        error: str | None = None,
        *,
        owner_pid: int | None = None,
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            self._run_pk(conn, run_id)  # RunNotFoundError, or the run carried into a fresh file
            if status == RUNNING:  # reopened: the reopening process (or none) owns it now
                conn.execute(
                    "UPDATE runs SET status = ?, end_time = ?, error = ?, heartbeat = ?, owner_pid = ?, "
                    "owner_host = ? WHERE run_id = ?",
                    (status, end_time, error, time.time(), os.getpid() if owner_pid is None else owner_pid,
                     _HOST, run_id),
                )
                return
            conn.execute(
                "UPDATE runs SET status = ?, end_time = ?, error = ?, heartbeat = ? WHERE run_id = ?",
                (status, end_time, error, time.time(), run_id),
            )

        def wait() -> None:
            self._deferred_status[run_id] = (status, end_time, error)

        self._tx(work, defer=wait)

    def release_runs(self, run_ids: Sequence[str]) -> None:
        """Leave these runs, where still Running and held by this process, to no owner
        (``NO_OWNER``): they stay Running until someone ends them, as MLflow's do."""
        if run_ids:
            self._tx(
                lambda conn: conn.executemany(
                    "UPDATE runs SET owner_pid = ? WHERE run_id = ? AND status = ? AND owner_pid = ? "
                    "AND owner_host = ?",
                    [(NO_OWNER, run_id, RUNNING, os.getpid(), _HOST) for run_id in run_ids],
                )
            )

    def heartbeat(self, run_ids: Sequence[str], now: float) -> None:
        """Beat for these runs; one a reader marked Crashed while its owner (this process) was
        paused (SIGSTOP, a sleeping laptop) is Running again: it was never dead."""
        if not run_ids:
            return
        pid = os.getpid()
        self._tx(
            lambda conn: conn.executemany(
                "UPDATE runs SET heartbeat = ?, status = ?, end_time = NULL, error = NULL "
                "WHERE run_id = ? AND (status = ? OR (status = ? AND error = ? AND owner_pid = ? "
                "AND owner_host = ?))",
                [(now, RUNNING, run_id, RUNNING, CRASHED, CRASH_ERROR, pid, _HOST) for run_id in run_ids],
            )
        )

    def set_param(self, run_id: str, key: str, value: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            self._insert_param(conn, run_id, self._run_pk(conn, run_id), key, value, False)

        def later(conn: sqlite3.Connection) -> None:
            # Applied by a later write: a conflict found then is a warning, not an error.
            self._insert_param(conn, run_id, self._run_pk(conn, run_id), key, value, True)

        self._tx(work, defer=lambda: self._deferred.append(later))

    # -- reads ----------------------------------------------------------------------

    def _pk(self, run_id: str) -> int:
        with self._db.lock:
            return self._run_pk(self._db.control(), run_id)

    def metric_kinds(self, run_id: str) -> dict[str, str]:
        rows = self._query(
            "SELECT name, kind FROM metric_keys WHERE run_pk = ? ORDER BY key_id", (self._pk(run_id),)
        )
        return dict(rows)

    def metric_counts(self, run_id: str) -> dict[str, int | None]:
        rows = self._query(
            "SELECT k.name, COALESCE(SUM(c.count), 0) FROM metric_keys k LEFT JOIN metric_chunks c"
            " USING (key_id) WHERE k.run_pk = ? GROUP BY k.key_id ORDER BY k.key_id",
            (self._pk(run_id),),
        )
        return dict(rows)

    def metric_history(self, run_id: str, name: str, rank: int | None = None) -> list[MetricPoint]:
        sql = (
            "SELECT c.encoding, c.steps, c.vals, c.ts, c.rank, c.ordered, c.min_step, c.max_step "
            "FROM metric_chunks c JOIN metric_keys k USING (key_id) WHERE k.run_pk = ? AND k.name = ?"
        )
        args: list[Any] = [self._pk(run_id), name]
        if rank is not None:
            sql += " AND c.rank = ?"
            args.append(rank)
        rows = self._query(sql + " ORDER BY c.chunk_id", args)
        points: list[MetricPoint] = []
        in_order = True
        high = None
        with collector_paused():
            for encoding, steps, vals, ts, chunk_rank, ordered, min_step, max_step in rows:
                if not ordered or (high is not None and min_step < high):
                    in_order = False
                high = max_step if high is None else max(high, max_step)
                points.extend(unpack_points(encoding, steps, vals, ts, chunk_rank))
        if not in_order:
            points.sort(key=_step_of)  # stable: equal steps keep their arrival order
        return points

    def last_values(self, run_id: str) -> dict[str, Any]:
        rows = self._query(
            "SELECT k.name, (SELECT c.last_value FROM metric_chunks c WHERE c.key_id = k.key_id "
            "ORDER BY c.max_step DESC, c.chunk_id DESC LIMIT 1) FROM metric_keys k "
            "WHERE k.run_pk = ? ORDER BY k.key_id",
            (self._pk(run_id),),
        )
        return {name: (_NAN if value is None else value) for name, value in rows}

    def get_tags(self, run_id: str) -> dict[str, str]:
        return dict(self._query("SELECT key, value FROM tags WHERE run_pk = ? ORDER BY key", (self._pk(run_id),)))

    def get_params(self, run_id: str) -> dict[str, str]:
        return dict(
            self._query("SELECT key, value FROM params WHERE run_pk = ? ORDER BY key", (self._pk(run_id),))
        )

    # -- files ------------------------------------------------------------------------

    def put_file(self, run_id: str, name: str, source: str | IO[bytes]) -> None:
        dest = join_inside(self.run_dir(run_id), name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = f"{dest}.tmp-{os.getpid()}-{threading.get_ident()}"
        try:
            copy_source(source, tmp)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def list_files(self, run_id: str) -> list[str]:
        root = self.run_dir(run_id)
        names = []
        for folder, _dirs, files in os.walk(root):
            for file in files:
                rel = os.path.relpath(os.path.join(folder, file), root)
                names.append(rel.replace(os.sep, "/"))
        return sorted(names)

    def open_file(self, run_id: str, name: str) -> IO[bytes]:
        path = join_inside(self.run_dir(run_id), name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"run {run_id} has no file {name!r} (get_file_names() lists them)")
        return open(path, "rb")

    def iter_log_lines(self, run_id: str, filename: str) -> Iterator[bytes]:
        path = join_inside(self.run_dir(run_id), "logs/" + filename)
        if not os.path.exists(path):
            return iter(())
        return _lines(path)

    def series_reader(self) -> ChunkReader:
        """Chart reads over read-only connections of their own (see store/_series.py); on a
        read-only workspace they open the file as this store did."""
        return ChunkReader(self.db_path, connect=self._db.read_connector())

    def close(self) -> None:
        """Close this process's connections. The last writer to close folds the WAL into
        tracklog.db, so the file alone holds every completed run."""
        if self._deferred or self._logs.pending:
            try:
                self._tx(lambda conn: None)  # what waited for space, if there is some now
                self._logs.retry()
            except (sqlite3.Error, OSError, TracklogError):
                pass
        self._db.close(checkpoint=True)


def _lines(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from handle


def _step_of(point: MetricPoint) -> int:
    return point[0]
