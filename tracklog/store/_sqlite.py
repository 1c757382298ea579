"""The embedded store: SQLite in WAL mode plus run folders on disk.

Many processes may write one workspace at once: each has its own connections,
writes go in short ``BEGIN IMMEDIATE`` transactions, and a busy database makes
the writer retry (``RetryLater``) instead of failing the caller. A disk that is
full, a file-size limit, a read-only mount or a damaged file make it ``Stalled``:
the pipeline keeps what fits and retries slowly; control-plane writes that can wait
(a run's status, a param) wait in memory for the next write that succeeds.

No SQLite state crosses a fork: before ``os.fork()`` each store waits for its open
transaction to end and closes its connections, so the child (and the parent, after)
opens fresh ones; see howtocorrupt.html section 2.6.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections import defaultdict
from dataclasses import replace
from typing import IO, Any, Callable, Iterator, Sequence

from .. import _config, _diag
from .._errors import ParamConflictError, RunNotFoundError, TracklogError, WorkspaceError
from .._logfile import encode_record
from .._output_format import encode_output
from .._paths import copy_source, join_inside
from .._rank import current_rank
from .._types import CRASHED, RUNNING, ExperimentInfo, MetricPoint, RunInfo
from ..pipeline.event import LOG, METRIC, METRIC_KINDS, OUTPUT, PARAM, TAG, Event
from ..pipeline.sink import RetryLater, Stalled
from ._base import Store, the_run
from ._chunks import pack_chunk, unpack_points
from ._liveness import CRASH_ERROR, crashed
from ._liveness import HOST as _HOST
from ._runlogs import LogAppender
from ._schema import check_readable, migrate, schema_version
from ._series import ChunkReader
from ._sqlite_open import (
    BUSY,
    CONTROL_BUSY_TIMEOUT,
    DAMAGED,
    STALLED,
    WRITER_BUSY_TIMEOUT,
    connect_ro,
    connect_rw,
    damaged_error,
    file_identity,
    outcome,
    read_only_dir,
    remove_orphans,
    wal_has_data,
)

_NAN = float("nan")

_RUN_COLUMNS = (
    "r.run_id, r.experiment_id, e.name, r.name, r.status, r.start_time, r.end_time, "
    "r.parent_run_id, r.error, r.owner_pid, r.owner_host, r.heartbeat"
)


_CHUNK_COLUMNS = (
    "key_id", "rank", "count", "min_step", "max_step", "ordered", "min_value", "max_value",
    "last_value", "first_ts", "last_ts", "encoding", "steps", "vals", "ts",
)
_INSERT_CHUNK = (
    f"INSERT INTO metric_chunks ({', '.join(_CHUNK_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _CHUNK_COLUMNS)})"
)

#: How long a busy database is retried before a control-plane call gives up (seconds).
_BUSY_BUDGET = 30.0
#: How long os.fork() waits for a store's open transaction to end (seconds).
_FORK_WAIT = 30.0
#: The identity of a database file not (yet) open again after the old one vanished.
_NO_FILE = (-1, -1)
#: A control-plane write that waits for space: work(conn) inside a write transaction.
_Work = Callable[[sqlite3.Connection], Any]


class SQLiteStore(Store):
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
        #: True when the workspace could only be opened for reading (a read-only mount).
        self.read_only = False
        self._lock = threading.RLock()  # the control connection, and opening
        self._wlock = threading.RLock()  # the writer's connection; taken after _lock
        self._rank = current_rank()
        self._logs = LogAppender(self._log_path)
        # Control-plane writes refused by a full disk, applied by the next write that works.
        self._deferred: list[_Work] = []
        self._deferred_status: dict[str, tuple[str, float | None, str | None]] = {}
        # Runs seen, so runs still logging carry on into a fresh file if the old one vanished.
        self._known: dict[str, RunInfo] = {}
        self._fresh_file = False
        self._ident: tuple[int, int] | None = None
        self._reset_connections()
        with self._lock:
            self._open()
        _stores.add(self)

    # -- connections -----------------------------------------------------------

    def _reset_connections(self) -> None:
        self._pid = os.getpid()
        self._cconn: sqlite3.Connection | None = None
        self._wconn: sqlite3.Connection | None = None
        self._run_pks: dict[str, int] = {}
        self._key_ids: dict[tuple[str, str], int] = {}

    def _open(self) -> None:
        """Open the control connection: read-write when the workspace can be written
        (migrating the schema if needed), else read-only. Holds _lock."""
        exists = os.path.exists(self.db_path)
        if read_only_dir(self.db_path if exists else self.root):
            if exists:
                return self._open_read_only()
            raise WorkspaceError(f"cannot create a workspace at {self.root}: it is read-only")
        try:
            os.makedirs(os.path.join(self.root, "runs"), exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create workspace {self.root}: {exc}") from exc
        try:
            conn = connect_rw(self.db_path, CONTROL_BUSY_TIMEOUT)
            try:
                self._retry(lambda: migrate(conn))
            except BaseException:
                conn.close()
                raise
        except sqlite3.Error as exc:
            kind = outcome(exc)
            if kind == DAMAGED:
                raise damaged_error(self.db_path, exc) from exc
            if kind == STALLED and exists:
                return self._open_read_only()  # a full disk or a protected file: read it
            raise WorkspaceError(f"cannot open {self.db_path}: {exc}") from exc
        self._cconn = conn
        self.read_only = False
        self._ident = file_identity(self.db_path)

    def _open_read_only(self) -> None:
        try:
            conn, immutable = connect_ro(self.db_path)
            version = schema_version(conn)
        except sqlite3.Error as exc:
            if outcome(exc) == DAMAGED:
                raise damaged_error(self.db_path, exc) from exc
            raise WorkspaceError(f"cannot open {self.db_path} for reading: {exc}") from exc
        if version == 0:
            conn.close()
            raise WorkspaceError(f"{self.db_path} holds no tracklog workspace, and it is read-only")
        try:
            check_readable(version, self.root)
        except WorkspaceError:
            conn.close()
            raise
        if immutable and wal_has_data(self.db_path):
            _diag.warn_once(
                ("read-only wal", self.db_path),
                "tracklog: the workspace at %s is read-only and its tracklog.db-wal holds data "
                "not yet in tracklog.db: what it holds is not shown (open the workspace once "
                "where it can be written, and tracklog folds it in)",
                self.root,
            )
        self._cconn = conn
        self.read_only = True
        self._ident = file_identity(self.db_path)

    def _control(self) -> sqlite3.Connection:
        """The control connection (holds _lock)."""
        if self._pid != os.getpid():
            _leave_inherited(self)  # forked without the hooks: never touch the parent's handles
        if self._cconn is None:
            self._open()
        assert self._cconn is not None
        return self._cconn

    def _writer(self) -> sqlite3.Connection:
        """The writer's connection (holds _wlock); raises sqlite3.Error when it cannot open."""
        if self._pid != os.getpid():
            _leave_inherited(self)
        if self._wconn is None:
            self._wconn = connect_rw(self.db_path, WRITER_BUSY_TIMEOUT)
        return self._wconn

    def _drop_writer(self) -> None:
        conn, self._wconn = self._wconn, None
        _close_quietly(conn)

    def _drop_connections(self, checkpoint: bool) -> None:
        """Close this process's connections (holds both locks). With ``checkpoint``, first
        fold the WAL into tracklog.db and truncate it, unless another process is using it."""
        conns = [c for c in (self._wconn, self._cconn) if c is not None]
        self._cconn = self._wconn = None
        if checkpoint and conns and not self.read_only:
            try:
                conns[0].execute("PRAGMA busy_timeout = 1000")
                conns[0].execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.Error:
                pass  # busy: another process still writes, and its close does it
        for conn in conns:
            _close_quietly(conn)

    def _vanished(self) -> bool:
        """Whether tracklog.db was deleted or replaced since this process opened it."""
        return (
            not self.read_only
            and self._ident is not None
            and file_identity(self.db_path) != self._ident
        )

    def _start_fresh_file(self) -> None:
        """tracklog.db is gone (or another file is at its path): say so once, close the old
        one, and go on in the file now at the path (a fresh one when none is)."""
        with self._lock, self._wlock:
            if not self._vanished():
                return  # another thread did it
            _diag.logger.warning(
                "tracklog: %s was deleted or replaced while this process used it; "
                "logging goes on into the file now at that path (what the old file held "
                "is not in it)",
                self.db_path,
            )
            self._drop_connections(checkpoint=False)
            remove_orphans(self.db_path)
            self._run_pks.clear()
            self._key_ids.clear()
            self._fresh_file = True
            self._ident = _NO_FILE  # still vanished, until a file is open again
            self._open()

    @staticmethod
    def _retry(action: Callable[[], Any], budget: float = _BUSY_BUDGET) -> Any:
        delay = 0.01
        deadline = time.monotonic() + budget
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if outcome(exc) != BUSY or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _tx(self, work: _Work, *, defer: Callable[[], None] | None = None) -> Any:
        """Run ``work(conn)`` in one write transaction on the control connection.

        When the disk is full (or the file-size limit reached), ``defer`` given: call it,
        keep ``work`` for the next write that succeeds, and return None.
        """

        def attempt() -> Any:
            conn = self._control()
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._apply_deferred(conn)
                result = work(conn)
                conn.execute("COMMIT")
                self._deferred_done()
                return result
            except BaseException:
                _rollback(conn)
                raise

        with self._lock:
            if self._vanished():
                self._start_fresh_file()
            if self.read_only:
                self._writable_again()
            try:
                return self._retry(attempt)
            except sqlite3.Error as exc:
                kind = outcome(exc)
                if kind == STALLED and defer is not None:
                    self._defer(work, exc)
                    defer()
                    return None
                raise self._control_error(exc, kind) from exc

    def _writable_again(self) -> None:
        """A store opened read-only: reopen read-write if the workspace can be written now."""
        if read_only_dir(self.db_path):
            raise WorkspaceError(
                f"the workspace at {self.root} is read-only: it can be read, not written"
            )
        old = self._cconn
        self._cconn = None
        try:
            self._open()
        except WorkspaceError:
            self._cconn = old
            raise
        _close_quietly(old)

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
                f"{_BUSY_BUDGET:.0f} s ({exc})"
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
        with self._lock:
            if self._vanished():
                self._start_fresh_file()
            try:
                return self._retry(lambda: self._control().execute(sql, args).fetchall())
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
        try:
            if self._vanished():
                self._start_fresh_file()
            with self._wlock:
                self._logs.retry()  # lines a full disk refused go first, or nothing goes
                lines = self._write_rows(events)
                self._logs.append(lines)
        except sqlite3.Error as exc:
            kind = outcome(exc)
            if kind == BUSY:
                raise RetryLater(f"workspace database busy ({exc})") from exc
            if kind is None:
                raise
            with self._wlock:
                self._drop_writer()  # a fresh connection after an I/O error
            raise Stalled(f"cannot write to {self.db_path}: {exc}") from exc
        except OSError as exc:
            raise Stalled(f"cannot append to the run log files in {self.root}: {exc}") from exc
        except WorkspaceError as exc:  # the file at the path is damaged, or read-only
            raise Stalled(str(exc)) from exc

    def _write_rows(self, events: Sequence[Event]) -> dict[tuple[str, str], bytes]:
        """The batch's rows in one transaction (holds _wlock); its log lines, to append."""
        conn = self._writer()
        rank = self._rank
        key_ids = self._key_ids
        new_keys: dict[tuple[str, str], int] = {}
        groups: dict[tuple[str, str], tuple[list[int], list[Any], list[float], str]] = {}
        tags: list[tuple[int, str, str]] = []
        params: list[tuple[str, int, str, str]] = []
        lines: dict[tuple[str, str], list[bytes]] = defaultdict(list)
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._apply_deferred(conn)
            # Items are read by index: Events, plain tuples of their fields, or a log
            # record's fields followed by its metric point (see Pipeline.put).
            for ev in events:
                kind = ev[1]
                if kind == LOG:  # the commonest kinds first
                    lines[(ev[0], ev[2])].append(encode_record(ev, rank))
                    if len(ev) != 13:
                        continue
                    kind, key, value, step = METRIC, (ev[0], ev[10]), ev[11], ev[12]
                elif kind in METRIC_KINDS:
                    key, value, step = (ev[0], ev[2]), ev[3], ev[4]
                else:
                    if kind == OUTPUT:
                        lines[(ev[0], ev[2])].append(encode_output(ev, rank))
                    elif kind == TAG:
                        tags.append((self._run_pk(conn, ev[0]), ev[2], ev[3]))
                    elif kind == PARAM:
                        params.append((ev[0], self._run_pk(conn, ev[0]), ev[2], ev[3]))
                    continue
                group = groups.get(key)
                if group is None:
                    group = groups[key] = ([], [], [], kind)
                group[0].append(step)
                group[1].append(value)
                group[2].append(ev[5])
            for key, (steps, values, times, kind) in groups.items():
                key_id = key_ids.get(key) or new_keys.get(key)
                if key_id is None:
                    key_id = new_keys[key] = self._key_id(conn, key[0], key[1], kind)
                self._insert_chunk(conn, key_id, rank, steps, values, times)
            if tags:
                conn.executemany("INSERT OR REPLACE INTO tags VALUES (?, ?, ?)", tags)
            for run_id, run_pk, key, value in params:
                self._insert_param(conn, run_id, run_pk, key, value, warn=True)
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        self._deferred_done()
        key_ids.update(new_keys)
        return {key: b"".join(chunk) for key, chunk in lines.items()}

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
                if not (self._fresh_file and run_id in self._known):
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
                "INSERT OR IGNORE INTO experiments (name, created) VALUES (?, ?)", (name, time.time())
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
        )
        self._known[info.run_id] = info
        waiting = self._deferred_status.get(info.run_id)
        if waiting is not None:  # written once the disk has room again
            return replace(info, status=waiting[0], end_time=waiting[1], error=waiting[2])
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
        return replace(info, status=CRASHED, end_time=end, error=error)

    def get_run(self, run_id: str) -> RunInfo:
        sql = f"SELECT {_RUN_COLUMNS} FROM runs r JOIN experiments e USING (experiment_id) "
        rows = self._query(sql + "WHERE r.run_id = ?", (run_id,))
        if not rows and run_id and all(c in "0123456789abcdef" for c in run_id):
            rows = self._query(sql + "WHERE r.run_id LIKE ? LIMIT 2", (run_id + "%",))
        return self._info(the_run(rows, run_id, f"in workspace {self.root}"))

    def search_runs(
        self, experiment_id: str | None = None, parent_run_id: str | None = None
    ) -> list[RunInfo]:
        sql = f"SELECT {_RUN_COLUMNS} FROM runs r JOIN experiments e USING (experiment_id)"
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

    def set_status(
        self, run_id: str, status: str, end_time: float | None, error: str | None = None
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            self._run_pk(conn, run_id)  # RunNotFoundError, or the run carried into a fresh file
            conn.execute(
                "UPDATE runs SET status = ?, end_time = ?, error = ?, heartbeat = ? WHERE run_id = ?",
                (status, end_time, error, time.time(), run_id),
            )

        def wait() -> None:
            self._deferred_status[run_id] = (status, end_time, error)

        self._tx(work, defer=wait)

    def heartbeat(self, run_ids: Sequence[str], now: float) -> None:
        if not run_ids:
            return
        self._tx(
            lambda conn: conn.executemany(
                "UPDATE runs SET heartbeat = ? WHERE run_id = ? AND status = ?",
                [(now, run_id, RUNNING) for run_id in run_ids],
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
        with self._lock:
            return self._run_pk(self._control(), run_id)

    def metric_kinds(self, run_id: str) -> dict[str, str]:
        rows = self._query(
            "SELECT name, kind FROM metric_keys WHERE run_pk = ? ORDER BY key_id", (self._pk(run_id),)
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
        if self.read_only:
            return ChunkReader(self.db_path, connect=lambda: connect_ro(self.db_path)[0])
        return ChunkReader(self.db_path)

    def close(self) -> None:
        """Close this process's connections. The last writer to close folds the WAL into
        tracklog.db, so the file alone holds every completed run."""
        with self._lock, self._wlock:
            if self._pid != os.getpid():
                _leave_inherited(self)
                return
            if self._deferred or self._logs.pending:
                try:
                    self._tx(lambda conn: None)  # what waited for space, if there is some now
                    self._logs.retry()
                except (sqlite3.Error, OSError, TracklogError):
                    pass
            self._drop_connections(checkpoint=True)

    def _before_fork(self) -> bool:
        """Wait for this store's open transactions to end and close its connections, so
        no SQLite state crosses the fork; holds both locks on success (False: timed out)."""
        if not self._lock.acquire(timeout=_FORK_WAIT):
            return False
        if not self._wlock.acquire(timeout=_FORK_WAIT):
            self._lock.release()
            return False
        self._drop_connections(checkpoint=False)
        return True

    def _after_fork(self) -> None:
        self._wlock.release()
        self._lock.release()


_stores: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()
_held_at_fork: list[SQLiteStore] = []
#: Connections a child inherited (only when a fork could not wait for them): never used,
#: never closed, because closing one would release the parent's locks or delete its -wal.
_inherited: list[sqlite3.Connection] = []


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the error that brought us here says more


def _close_quietly(conn: sqlite3.Connection | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass


def _leave_inherited(store: SQLiteStore) -> None:
    """In a child that inherited open connections: keep them unused, start afresh."""
    _inherited.extend(c for c in (store._cconn, store._wconn) if c is not None)
    store._reset_connections()


def _before_fork() -> None:
    for store in list(_stores):
        if store._before_fork():
            _held_at_fork.append(store)


def _after_fork_in_parent() -> None:
    for store in _held_at_fork:
        store._after_fork()
    _held_at_fork.clear()


def _after_fork_in_child() -> None:
    # The child opens its own connections on first use; locks start afresh (a thread
    # that held one in the parent does not exist here).
    for store in list(_stores):
        _leave_inherited(store)
        store._lock = threading.RLock()
        store._wlock = threading.RLock()
    _held_at_fork.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )


def _lines(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from handle


def _step_of(point: MetricPoint) -> int:
    return point[0]
