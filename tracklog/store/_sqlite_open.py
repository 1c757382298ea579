"""Opening the workspace database, and what its errors mean.

The embedded store opens ``tracklog.db`` read-write when it can and read-only when the
workspace is on a read-only mount (or the file is write-protected): reading a workspace
never needs to write it. SQLite's errors fall into a few outcomes: busy (another process
holds the write lock: retry soon), stalled (disk full, file-size limit, read-only, I/O
error: retry slowly, callers stop waiting), damaged (not a database, or malformed: a
:class:`~tracklog._errors.WorkspaceError` saying what to do).
"""

from __future__ import annotations

import os
import sqlite3
from urllib.parse import quote

from .._errors import WorkspaceError

#: The writer's connection waits this long for another process's write lock (seconds);
#: the pipeline retries after it, so the writer stays responsive to close and flush.
WRITER_BUSY_TIMEOUT = 2.0
#: Control-plane calls (start a run, end it) wait this long for the write lock.
CONTROL_BUSY_TIMEOUT = 10.0

BUSY = "busy"
STALLED = "stalled"
DAMAGED = "damaged"

_CODES = {
    5: BUSY,  # SQLITE_BUSY
    6: BUSY,  # SQLITE_LOCKED
    8: STALLED,  # SQLITE_READONLY
    10: STALLED,  # SQLITE_IOERR (EFBIG, EIO, ...)
    13: STALLED,  # SQLITE_FULL (ENOSPC)
    14: STALLED,  # SQLITE_CANTOPEN
    15: STALLED,  # SQLITE_PROTOCOL
    11: DAMAGED,  # SQLITE_CORRUPT
    26: DAMAGED,  # SQLITE_NOTADB
}
_TEXTS = (
    ("locked", BUSY),
    ("busy", BUSY),
    ("full", STALLED),
    ("disk i/o", STALLED),
    ("readonly", STALLED),
    ("read-only", STALLED),
    ("unable to open", STALLED),
    ("malformed", DAMAGED),
    ("not a database", DAMAGED),
)


def outcome(exc: BaseException) -> str | None:
    """BUSY, STALLED or DAMAGED for an SQLite error (or an OSError of our file writes),
    None for anything else (a bug, or bad data)."""
    if isinstance(exc, OSError):
        return STALLED
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return _CODES.get(code & 0xFF)
    text = str(exc).lower()
    for needle, result in _TEXTS:
        if needle in text:
            return result
    return None


def stall_hint(exc: BaseException) -> str:
    """What a stalled write usually means, for the one warning a user sees."""
    text = str(exc).lower()
    if "full" in text or "no space" in text:
        return "the disk is full"
    if "readonly" in text or "read-only" in text:
        return "the workspace is read-only"
    if "too large" in text or "disk i/o" in text:
        return "a file-size limit (ulimit -f), or a failing disk"
    return "the disk cannot be written"


def damaged_error(db_path: str, exc: BaseException) -> WorkspaceError:
    """The one clear message for a database file that is not (or no longer) a database."""
    return WorkspaceError(
        f"{db_path} is damaged or is not a tracklog database ({exc}). Move it aside "
        f"(the runs/ folder keeps the log files) and tracklog starts a fresh one; "
        f"`sqlite3 {os.path.basename(db_path)} .recover` may save what it held."
    )


def read_only_dir(path: str) -> bool:
    """Whether ``path`` (a file or folder) is on a read-only mount or cannot be written."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(path, os.W_OK)


def connect_rw(db_path: str, busy_timeout: float) -> sqlite3.Connection:
    """A read-write connection in WAL mode; raises sqlite3.Error as SQLite does."""
    conn = sqlite3.connect(db_path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            # Switching an empty, new file needs no sync (about 11 ms of tracklog run's start-up);
            # a file with data keeps the synced switch.
            fresh = conn.execute("PRAGMA page_count").fetchone()[0] == 0
            if fresh:
                conn.execute("PRAGMA synchronous = OFF")
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def connect_ro(db_path: str) -> tuple[sqlite3.Connection, bool]:
    """A read-only connection, and whether it had to be ``immutable`` (the -wal beside
    the file, if any, is then not read: SQLite cannot share it from a read-only folder)."""
    base = "file:" + quote(os.path.abspath(db_path)) + "?mode=ro"
    last: sqlite3.Error | None = None
    for uri, immutable in ((base, False), (base + "&immutable=1", True)):
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            last = exc
            continue
        try:
            conn.execute("PRAGMA busy_timeout = 2000")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            if outcome(exc) == DAMAGED:
                raise
            last = exc
            continue
        return conn, immutable
    assert last is not None
    raise last


def wal_has_data(db_path: str) -> bool:
    """Whether a -wal file beside the database holds frames (data not yet checkpointed)."""
    try:
        return os.path.getsize(db_path + "-wal") > 32  # more than the WAL header
    except OSError:
        return False


def file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file now at ``path``, or None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def remove_orphans(db_path: str) -> None:
    """Remove a -wal and -shm left beside a database file that is gone, so a fresh file
    made at the path never replays another database's pages."""
    if os.path.exists(db_path):
        return
    for suffix in ("-wal", "-shm"):
        try:
            os.unlink(db_path + suffix)
        except OSError:
            pass
