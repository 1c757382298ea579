"""This process's connections to one ``tracklog.db``: opened read-write or read-only,
reopened on a fresh file when the old one vanished, never carried across a fork, and
folded into ``tracklog.db`` (WAL checkpoint) when closed.

Two connections: the control connection (runs, statuses, reads) under ``lock``, and the
writer's (batches of events) under ``wlock``; whoever needs both takes ``lock`` first.
Before ``os.fork()`` every Database waits for its open transactions to end and closes
both connections, so no SQLite state (the unix VFS's per-file lock records, an open
transaction, a connection that would checkpoint or delete the parent's -wal when closed)
reaches the child; see https://www.sqlite.org/howtocorrupt.html section 2.6.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from typing import Any, Callable

from .. import _diag
from .._errors import WorkspaceError
from ._schema import check_readable, migrate, schema_version
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

__all__ = ["BUSY_BUDGET", "Database", "close_quietly", "retry", "rollback"]

#: How long a busy database is retried before a control-plane call gives up (seconds).
BUSY_BUDGET = 30.0
#: How long os.fork() waits for a database's open transaction to end (seconds).
_FORK_WAIT = 30.0
#: The identity of a database file not (yet) open again after the old one vanished.
_NO_FILE = (-1, -1)


def retry(action: Callable[[], Any], budget: float = BUSY_BUDGET) -> Any:
    """``action()``, retried while SQLite says busy, for at most ``budget`` seconds."""
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


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back an open transaction; an error doing so is dropped (the one that brought
    us here says more)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def close_quietly(conn: sqlite3.Connection | None) -> None:
    """Close a connection, ignoring SQLite's complaints (a full disk at close)."""
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass


class Database:
    """The connections of this process to ``<root>/tracklog.db``."""

    def __init__(self, root: str, on_fresh_file: Callable[[], None]) -> None:
        self.root = root
        self.path = os.path.join(root, "tracklog.db")
        #: True when the workspace could only be opened for reading (a read-only mount).
        self.read_only = False
        #: True once the file vanished and this process went on in a fresh one.
        self.fresh_file = False
        self.lock = threading.RLock()
        self.wlock = threading.RLock()
        self._on_fresh_file = on_fresh_file
        self._ident: tuple[int, int] | None = None
        self._reset()
        with self.lock:
            self._open()
        _databases.add(self)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cconn: sqlite3.Connection | None = None
        self._wconn: sqlite3.Connection | None = None

    # -- opening ------------------------------------------------------------------

    def _open(self) -> None:
        """Open the control connection: read-write when the workspace can be written
        (migrating the schema if needed), else read-only. Holds ``lock``."""
        exists = os.path.exists(self.path)
        if read_only_dir(self.path if exists else self.root):
            if exists:
                return self._open_read_only()
            raise WorkspaceError(f"cannot create a workspace at {self.root}: it is read-only")
        try:
            os.makedirs(os.path.join(self.root, "runs"), exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create workspace {self.root}: {exc}") from exc
        try:
            conn = connect_rw(self.path, CONTROL_BUSY_TIMEOUT)
            try:
                retry(lambda: migrate(conn))
            except BaseException:
                conn.close()
                raise
        except sqlite3.Error as exc:
            kind = outcome(exc)
            if kind == DAMAGED:
                raise damaged_error(self.path, exc) from exc
            if kind == STALLED and exists:
                return self._open_read_only()  # a full disk or a protected file: read it
            raise WorkspaceError(f"cannot open {self.path}: {exc}") from exc
        self._cconn = conn
        self.read_only = False
        self._ident = file_identity(self.path)

    def _open_read_only(self) -> None:
        try:
            conn, immutable = connect_ro(self.path)
            version = schema_version(conn)
        except sqlite3.Error as exc:
            if outcome(exc) == DAMAGED:
                raise damaged_error(self.path, exc) from exc
            raise WorkspaceError(f"cannot open {self.path} for reading: {exc}") from exc
        try:
            if version == 0:
                raise WorkspaceError(f"{self.path} holds no tracklog workspace, and it is read-only")
            check_readable(version, self.root)
        except WorkspaceError:
            conn.close()
            raise
        if immutable and wal_has_data(self.path):
            _diag.warn_once(
                ("read-only wal", self.path),
                "tracklog: the workspace at %s is read-only and its tracklog.db-wal holds data "
                "not yet in tracklog.db: what it holds is not shown (open the workspace once "
                "where it can be written, and tracklog folds it in)",
                self.root,
            )
        self._cconn = conn
        self.read_only = True
        self._ident = file_identity(self.path)

    def writable_again(self) -> None:
        """Opened read-only: reopen read-write if the workspace can be written now, else a
        WorkspaceError saying it is read-only. Holds ``lock``."""
        if read_only_dir(self.path):
            raise WorkspaceError(f"the workspace at {self.root} is read-only: it can be read, not written")
        old = self._cconn
        self._cconn = None
        try:
            self._open()
        except WorkspaceError:
            self._cconn = old
            raise
        close_quietly(old)

    def read_connector(self) -> Callable[[], sqlite3.Connection] | None:
        """How chart readers open the file: as this process did on a read-only workspace,
        else None (their own default)."""
        if not self.read_only:
            return None
        return lambda: connect_ro(self.path)[0]

    # -- the two connections --------------------------------------------------------

    def control(self) -> sqlite3.Connection:
        """The control connection (holds ``lock``)."""
        if self._pid != os.getpid():
            self._leave_inherited()  # forked without the hooks: never touch the parent's handles
        if self._cconn is None:
            self._open()
        assert self._cconn is not None
        return self._cconn

    def writer(self) -> sqlite3.Connection:
        """The writer's connection (holds ``wlock``); sqlite3.Error when it cannot open."""
        if self._pid != os.getpid():
            self._leave_inherited()
        if self._wconn is None:
            self._wconn = connect_rw(self.path, WRITER_BUSY_TIMEOUT)
        return self._wconn

    def drop_writer(self) -> None:
        """Close the writer's connection (after an I/O error: the next one is fresh)."""
        with self.wlock:
            conn, self._wconn = self._wconn, None
            close_quietly(conn)

    def close(self, checkpoint: bool = True) -> None:
        """Close this process's connections. With ``checkpoint``, first fold the WAL into
        tracklog.db and truncate it, unless another process is using it (its close will)."""
        with self.lock, self.wlock:
            if self._pid != os.getpid():
                self._leave_inherited()
                return
            self._close(checkpoint)

    def _close(self, checkpoint: bool) -> None:
        conns = [c for c in (self._wconn, self._cconn) if c is not None]
        self._cconn = self._wconn = None
        if checkpoint and conns and not self.read_only:
            try:
                conns[0].execute("PRAGMA busy_timeout = 1000")
                conns[0].execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.Error:
                pass  # busy: another process still writes, and its close does it
        for conn in conns:
            close_quietly(conn)

    # -- a file that vanished ----------------------------------------------------------

    def vanished(self) -> bool:
        """Whether tracklog.db was deleted or replaced since this process opened it."""
        return not self.read_only and self._ident is not None and file_identity(self.path) != self._ident

    def start_fresh_file(self) -> None:
        """tracklog.db is gone (or another file is at its path): say so once, close the old
        one, and go on in the file now at the path (a fresh one when none is)."""
        with self.lock, self.wlock:
            if not self.vanished():
                return  # another thread did it
            _diag.logger.warning(
                "tracklog: %s was deleted or replaced while this process used it; "
                "logging goes on into the file now at that path (what the old file held "
                "is not in it)",
                self.path,
            )
            self._close(checkpoint=False)
            remove_orphans(self.path)
            self.fresh_file = True
            self._ident = _NO_FILE  # still vanished, until a file is open again
            self._on_fresh_file()
            self._open()

    # -- fork ------------------------------------------------------------------------------

    def _before_fork(self) -> bool:
        """Wait for open transactions to end and close both connections; holds both locks
        on success (False: timed out, and the child must leave what it inherits alone)."""
        if not self.lock.acquire(timeout=_FORK_WAIT):
            return False
        if not self.wlock.acquire(timeout=_FORK_WAIT):
            self.lock.release()
            return False
        self._close(checkpoint=False)
        return True

    def _after_fork_in_parent(self) -> None:
        self.wlock.release()
        self.lock.release()

    def _leave_inherited(self) -> None:
        """In a child holding inherited connections: keep them, unused, and start afresh."""
        _inherited.extend(c for c in (self._cconn, self._wconn) if c is not None)
        self._reset()

    def _after_fork_in_child(self) -> None:
        self._leave_inherited()
        self.lock = threading.RLock()  # a parent thread that held one does not exist here
        self.wlock = threading.RLock()


_databases: weakref.WeakSet[Database] = weakref.WeakSet()
_held_at_fork: list[Database] = []
#: Connections a child inherited (only when a fork could not wait for them): never used,
#: never closed, because closing one would release the parent's locks or delete its -wal.
_inherited: list[sqlite3.Connection] = []


def _before_fork() -> None:
    for db in list(_databases):
        if db._before_fork():
            _held_at_fork.append(db)


def _after_fork_in_parent() -> None:
    for db in _held_at_fork:
        db._after_fork_in_parent()
    _held_at_fork.clear()


def _after_fork_in_child() -> None:
    for db in list(_databases):
        db._after_fork_in_child()
    _held_at_fork.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )
