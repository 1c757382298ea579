"""The embedded store: SQLite in WAL mode plus run folders on disk.

Many processes may write one workspace at once: each has its own connections,
writes go in short ``BEGIN IMMEDIATE`` transactions, and a busy database makes
the writer retry (``RetryLater``) instead of failing the caller.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections import defaultdict
from typing import IO, Any, Iterator, Sequence

from .. import _config, _diag
from .._errors import ParamConflictError, RunNotFoundError, WorkspaceError
from .._logfile import encode_record
from .._output_format import encode_output
from .._paths import copy_source, join_inside
from .._rank import current_rank
from .._types import CRASHED, RUNNING, ExperimentInfo, MetricPoint, RunInfo
from ..pipeline.event import LOG, METRIC, METRIC_KINDS, OUTPUT, PARAM, TAG, Event
from ..pipeline.sink import RetryLater
from ._base import Store, the_run
from ._chunks import pack_chunk, unpack_points
from ._liveness import CRASH_ERROR, crashed
from ._liveness import HOST as _HOST
from ._schema import migrate
from ._series import ChunkReader

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


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SQLiteStore(Store):
    """Runs in ``<root>/tracklog.db`` and files in ``<root>/runs/<run_id>/``."""

    #: write_batch reads the pipeline's items by index (see Sink.takes_tuples).
    takes_tuples = True

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
        try:
            os.makedirs(os.path.join(self.root, "runs"), exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create workspace {self.root}: {exc}") from exc
        self._lock = threading.RLock()
        _stores.add(self)
        self._pid = -1
        self._rank = current_rank()
        self._reset_connections()
        conn = self._control()
        with self._lock:
            self._retry(lambda: migrate(conn))

    # -- connections -----------------------------------------------------------

    def _reset_connections(self) -> None:
        self._pid = os.getpid()
        self._cconn: sqlite3.Connection | None = None
        self._wconn: sqlite3.Connection | None = None
        self._run_pks: dict[str, int] = {}
        self._key_ids: dict[tuple[str, str], int] = {}

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise WorkspaceError(f"cannot open {self.db_path}: {exc}") from exc
        conn.execute("PRAGMA busy_timeout = 30000")
        self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _control(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            self._reset_connections()  # a forked child must not share the parent's handles
        if self._cconn is None:
            self._cconn = self._connect()
        return self._cconn

    def _writer(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            self._reset_connections()
        if self._wconn is None:
            self._wconn = self._connect()
        return self._wconn

    @staticmethod
    def _retry(action: Any, attempts: int = 50) -> Any:
        delay = 0.01
        for attempt in range(attempts):
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == attempts - 1:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _tx(self, work: Any) -> Any:
        """Run ``work(conn)`` in one write transaction on the control connection."""

        def attempt() -> Any:
            conn = self._control()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        with self._lock:
            return self._retry(attempt)

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._retry(lambda: self._control().execute(sql, args).fetchall())

    # -- the data-plane primitive ----------------------------------------------

    def write_batch(self, events: Sequence[Event]) -> None:
        conn = self._writer()
        rank = self._rank
        key_ids = self._key_ids
        new_keys: dict[tuple[str, str], int] = {}
        groups: dict[tuple[str, str], tuple[list[int], list[Any], list[float], str]] = {}
        tags: list[tuple[int, str, str]] = []
        params: list[tuple[str, int, str, str]] = []
        lines: dict[tuple[str, str], list[bytes]] = defaultdict(list)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
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
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise RetryLater(f"workspace database busy ({exc})") from exc
            raise
        key_ids.update(new_keys)
        for (run_id, filename), chunk in lines.items():
            self._append(run_id, filename, b"".join(chunk))

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

    def _append(self, run_id: str, filename: str, data: bytes) -> None:
        path = join_inside(self.run_dir(run_id), "logs/" + filename)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)

    def _run_pk(self, conn: sqlite3.Connection, run_id: str) -> int:
        pk = self._run_pks.get(run_id)
        if pk is None:
            row = conn.execute("SELECT run_pk FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFoundError(f"no run {run_id!r} in workspace {self.root}")
            pk = self._run_pks[run_id] = row[0]
        return pk

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
        except sqlite3.Error:
            pass  # reading must still work on a read-only workspace
        from dataclasses import replace

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
            cur = conn.execute(
                "UPDATE runs SET status = ?, end_time = ?, error = ?, heartbeat = ? WHERE run_id = ?",
                (status, end_time, error, time.time(), run_id),
            )
            if cur.rowcount == 0:
                raise RunNotFoundError(f"no run {run_id!r} in workspace {self.root}")

        self._tx(work)

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
        self._tx(
            lambda conn: self._insert_param(conn, run_id, self._run_pk(conn, run_id), key, value, False)
        )

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
        """Chart reads over read-only connections of their own (see store/_series.py)."""
        return ChunkReader(self.db_path)

    def close(self) -> None:
        with self._lock:
            for conn in (self._cconn, self._wconn):
                if conn is not None and self._pid == os.getpid():
                    try:
                        conn.close()
                    except sqlite3.Error:
                        pass
            self._cconn = self._wconn = None


_stores: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # Another thread may have held a store's lock at the fork; the child starts with
    # fresh locks and opens its own connections on first use.
    for store in list(_stores):
        store._lock = threading.RLock()
        store._reset_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _lines(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from handle


def _step_of(point: MetricPoint) -> int:
    return point[0]
