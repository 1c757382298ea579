"""The bounded on-disk spool: what is on its way to an MLflow server, kept until delivered.

Each process sending to a server has one spool folder under the spool root
(``TRACKLOG_SPOOL_DIR``, else ``$XDG_CACHE_HOME/tracklog/spool``, else
``~/.cache/tracklog/spool``)::

    <root>/<time>-<host>-<pid>-<random>/
      meta.json          the server (without credentials), host, pid, start time
      lock               held (flock) while the process lives
      ops/00000001.jsonl operations in order, one JSON object a line
      cursor             "<segment> <offset>": everything before it was delivered
      ids.jsonl          tracklog's run ids and the server's ids of the runs the sender created
      files/<n>          copies of uploaded files waiting to be sent
      mirror/<run>/...   log files, tables and text series, re-sent whole when they grow

The bound (``TRACKLOG_SPOOL_MAX_BYTES``, 1 GiB by default) counts what is not
delivered yet. Metrics, tags, params and run status are kept up to the whole
bound; log lines and file copies only up to half of it, so an outage's log
chatter can never crowd out metrics. Beyond that, new data is dropped and
counted; the count is reported on the ``tracklog`` logger and at exit.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections import Counter
from typing import IO, Any, Iterator

from .. import _diag
from .._paths import copy_source, join_inside

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; sync then trusts the user
    fcntl = None  # type: ignore[assignment]

ENV_SPOOL_DIR = "TRACKLOG_SPOOL_DIR"
ENV_SPOOL_MAX_BYTES = "TRACKLOG_SPOOL_MAX_BYTES"
DEFAULT_MAX_BYTES = 1 << 30
_SEGMENT_BYTES = 8 << 20

Position = tuple[int, int]


def spool_root() -> str:
    """Where spool folders live: TRACKLOG_SPOOL_DIR, else the user's cache folder."""
    configured = os.environ.get(ENV_SPOOL_DIR)
    if configured:
        return os.path.abspath(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "tracklog", "spool")


def max_bytes() -> int:
    """The spool's bound in bytes (TRACKLOG_SPOOL_MAX_BYTES, else 1 GiB)."""
    raw = os.environ.get(ENV_SPOOL_MAX_BYTES, "")
    try:
        value = int(float(raw))
    except ValueError:
        return DEFAULT_MAX_BYTES
    return value if value > 0 else DEFAULT_MAX_BYTES


class _Mirror:
    __slots__ = ("size", "sent")

    def __init__(self, size: int, sent: int) -> None:
        self.size = size
        self.sent = sent


class Spool:
    """One process's spool folder: an ordered log of operations, file copies and mirrors.

    Writers (the pipeline's writer thread, control-plane callers) append; one
    reader (the sender) reads in order and commits what the server accepted.
    """

    def __init__(self, path: str, *, limit: int | None = None, meta: dict[str, Any] | None = None) -> None:
        self.path = path
        self.limit = limit or max_bytes()
        self._lock = threading.RLock()
        for sub in ("ops", "files", "mirror"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        self._lock_fd = _take_lock(os.path.join(path, "lock"))
        meta_path = os.path.join(path, "meta.json")
        if meta is not None and not os.path.exists(meta_path):
            _write_atomic(meta_path, json.dumps(meta).encode())
        self.meta = _read_json(meta_path)
        self.dropped: Counter[str] = Counter()
        self._cursor = self._read_cursor()
        segments = self._segments()
        self._segment = max(segments[-1] if segments else 1, self._cursor[0])
        self._sizes = {n: os.path.getsize(self._segment_path(n)) for n in segments}
        self._sizes.setdefault(self._segment, 0)
        self._fd = os.open(self._segment_path(self._segment), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._reader: IO[bytes] | None = None
        self._reader_segment = 0
        self._files_bytes = sum(_tree_size(os.path.join(path, "files")))
        self._mirrors: dict[tuple[str, str], _Mirror] = {}
        for run_id, name, size in self._walk_mirrors():
            self._mirrors[(run_id, name)] = _Mirror(size, 0)

    @classmethod
    def create(cls, uri: str) -> Spool:
        """A new spool folder for this process, sending to ``uri`` (shown without credentials)."""
        host = socket.gethostname()
        name = "{}-{}-{}-{}".format(
            time.strftime("%Y%m%dT%H%M%S"), _safe(host), os.getpid(), uuid.uuid4().hex[:8]
        )
        path = os.path.join(spool_root(), name)
        os.makedirs(path, mode=0o700, exist_ok=True)
        meta = {"uri": uri, "host": host, "pid": os.getpid(), "created": time.time()}
        return cls(path, meta=meta)

    # -- accounting ---------------------------------------------------------------

    def _ops_pending(self) -> int:
        segment, offset = self._cursor
        return sum(size for n, size in self._sizes.items() if n >= segment) - offset

    def pending_bytes(self) -> int:
        """Bytes not delivered yet: operations, file copies and unsent mirror growth."""
        with self._lock:
            mirrors = sum(m.size - m.sent for m in self._mirrors.values())
            return self._ops_pending() + self._files_bytes + mirrors

    def _room(self, size: int, essential: bool) -> bool:
        bound = self.limit if essential else self.limit // 2
        return self.pending_bytes() + size <= bound

    def _refuse(self, what: str, count: int) -> None:
        first = not self.dropped
        self.dropped[what] += count
        if first:
            _diag.logger.error(
                "tracklog: the spool %s is full (%d bytes undelivered, bound %d, set by %s): "
                "dropping new %s until the MLflow server takes data again",
                self.path,
                self.pending_bytes(),
                self.limit,
                ENV_SPOOL_MAX_BYTES,
                what,
            )

    # -- operations ---------------------------------------------------------------

    def append(self, ops: list[dict[str, Any]]) -> bool:
        """Append operations in order; False (and counted as dropped) when the spool is full."""
        if not ops:
            return True
        data = b"".join(_line(op) for op in ops)
        with self._lock:
            if not self._room(len(data), True):
                for op in ops:
                    for what, count in describe(op).items():
                        self._refuse(what, count)
                return False
            if self._sizes[self._segment] >= _SEGMENT_BYTES:
                os.close(self._fd)
                self._segment += 1
                self._sizes[self._segment] = 0
                self._fd = os.open(
                    self._segment_path(self._segment), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600
                )
            _write_all(self._fd, data)
            self._sizes[self._segment] += len(data)
            return True

    def end(self) -> Position:
        """The position after the last appended operation."""
        with self._lock:
            return (self._segment, self._sizes[self._segment])

    def cursor(self) -> Position:
        """The position up to which everything was delivered."""
        with self._lock:
            return self._cursor

    def read(self, limit: int = 64) -> list[tuple[dict[str, Any], Position]]:
        """Up to ``limit`` undelivered operations after the cursor, each with its end position."""
        result: list[tuple[dict[str, Any], Position]] = []
        with self._lock:
            segment, offset = self._cursor
            ends = dict(self._sizes)
            current = self._segment
        while len(result) < limit:
            available = ends.get(segment, 0)
            if offset >= available:
                if segment >= current or segment + 1 not in ends:
                    break
                segment, offset = segment + 1, 0
                continue
            handle = self._open_reader(segment)
            handle.seek(offset)
            while len(result) < limit and offset < available:
                line = handle.readline(available - offset)
                if not line.endswith(b"\n"):
                    return result  # a line cut short by a crash: nothing after it is readable
                offset += len(line)
                try:
                    result.append((json.loads(line), (segment, offset)))
                except ValueError:
                    _diag.logger.error("tracklog: skipped an unreadable line in the spool %s", self.path)
        return result

    def _open_reader(self, segment: int) -> IO[bytes]:
        if self._reader is None or self._reader_segment != segment:
            if self._reader is not None:
                self._reader.close()
            self._reader = open(self._segment_path(segment), "rb")
            self._reader_segment = segment
        return self._reader

    def commit(self, position: Position) -> None:
        """Everything up to ``position`` was delivered: move the cursor, drop spent segments."""
        with self._lock:
            if position <= self._cursor:
                return
            self._cursor = position
            _write_atomic(os.path.join(self.path, "cursor"), f"{position[0]} {position[1]}".encode())
            for number in [n for n in self._sizes if n < position[0]]:
                del self._sizes[number]
                if self._reader is not None and self._reader_segment == number:
                    self._reader.close()
                    self._reader = None
                try:
                    os.unlink(self._segment_path(number))
                except OSError:
                    pass

    def undelivered(self) -> Counter[str]:
        """What the undelivered operations hold: metric points, tags, params, files, statuses."""
        counts: Counter[str] = Counter()
        with self._lock:
            segment, offset = self._cursor
            numbers = sorted(n for n in self._sizes if n >= segment)
        for number in numbers:
            try:
                with open(self._segment_path(number), "rb") as handle:
                    if number == segment:
                        handle.seek(offset)
                    for line in handle:
                        try:
                            counts.update(describe(json.loads(line)))
                        except ValueError:
                            continue
            except OSError:
                continue
        with self._lock:
            unsent = [key for key, m in self._mirrors.items() if m.size > m.sent]
        if unsent:
            counts["log and table files"] += len(unsent)
        return counts

    # -- run ids --------------------------------------------------------------------

    def record_id(self, run_id: str, server_id: str) -> None:
        """Remember the server's id of a run (kept with the spool, so a later sync knows it)."""
        line = json.dumps({"r": run_id, "s": server_id}).encode() + b"\n"
        with self._lock:
            fd = os.open(os.path.join(self.path, "ids.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                _write_all(fd, line)
            finally:
                os.close(fd)

    def known_ids(self) -> dict[str, str]:
        """tracklog's run id -> the server's, for every run this spool's senders created."""
        found: dict[str, str] = {}
        try:
            with open(os.path.join(self.path, "ids.jsonl"), "rb") as handle:
                for line in handle:
                    try:
                        item = json.loads(line)
                        found[str(item["r"])] = str(item["s"])
                    except (ValueError, KeyError, TypeError):
                        continue
        except OSError:
            pass
        return found

    # -- file copies --------------------------------------------------------------

    def add_file(self, source: str | IO[bytes]) -> tuple[str | None, bool]:
        """Copy a file into the spool: (its spool-relative name, whether it fits the bound).

        A file that does not fit is not copied (a stream is: it can be read only
        once); the caller sends it at once and removes the copy with ``discard_file``.
        """
        name = "files/" + uuid.uuid4().hex
        dest = os.path.join(self.path, name)
        if isinstance(source, (str, os.PathLike)) and not self._room(os.path.getsize(source), False):
            return None, False
        try:
            copy_source(source, dest)
        except BaseException:
            if os.path.exists(dest):
                os.unlink(dest)
            raise
        size = os.path.getsize(dest)
        with self._lock:
            if not self._room(size, False):
                return name, False
            self._files_bytes += size
        return name, True

    def discard_file(self, name: str) -> None:
        """Remove a copy that did not fit (it was never counted)."""
        try:
            os.unlink(self.file_path(name))
        except OSError:
            pass

    def file_path(self, name: str) -> str:
        return join_inside(self.path, name)

    def remove_file(self, name: str) -> None:
        path = self.file_path(name)
        try:
            size = os.path.getsize(path)
            os.unlink(path)
        except OSError:
            return
        with self._lock:
            self._files_bytes -= size

    # -- mirrors ------------------------------------------------------------------

    def mirror_path(self, run_id: str, name: str) -> str:
        return join_inside(os.path.join(self.path, "mirror"), f"{run_id}/{name}")

    def has_mirror(self, run_id: str, name: str) -> bool:
        with self._lock:
            return (run_id, name) in self._mirrors

    def seed_mirror(self, run_id: str, name: str, data: bytes) -> None:
        """Start a mirror with what the server holds already (counted as sent)."""
        path = self.mirror_path(run_id, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write_atomic(path, data)
        with self._lock:
            self._mirrors[(run_id, name)] = _Mirror(len(data), len(data))

    def mirror_append(self, run_id: str, name: str, data: bytes) -> bool:
        """Append to a mirror file; False (counted) when the spool is too full for logs."""
        with self._lock:
            if not self._room(len(data), False):
                room = self.limit // 2 - self.pending_bytes()
                cut = data.rfind(b"\n", 0, max(room, 0)) + 1  # whole lines only
                self._refuse("log lines", data.count(b"\n", cut))
                if cut <= 0:
                    return False
                data = data[:cut]
            mirror = self._mirrors.get((run_id, name))
            path = self.mirror_path(run_id, name)
            if mirror is None:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                mirror = self._mirrors[(run_id, name)] = _Mirror(0, 0)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            mirror.size += len(data)
            return True

    def dirty_mirrors(self, run_id: str | None = None) -> list[tuple[str, str, int]]:
        """(run, name, size) of every mirror that grew since it was last sent."""
        with self._lock:
            return [
                (run, name, m.size)
                for (run, name), m in self._mirrors.items()
                if m.size > m.sent and (run_id is None or run == run_id)
            ]

    def read_mirror(self, run_id: str, name: str, size: int) -> bytes:
        with open(self.mirror_path(run_id, name), "rb") as handle:
            return handle.read(size)

    def mirror_sent(self, run_id: str, name: str, size: int) -> None:
        with self._lock:
            mirror = self._mirrors.get((run_id, name))
            if mirror is not None and size > mirror.sent:
                mirror.sent = size

    def drop_mirrors(self, run_id: str) -> None:
        """Forget a run's mirrors once sent (the run ended)."""
        with self._lock:
            if any(m.size > m.sent for (run, _), m in self._mirrors.items() if run == run_id):
                return
            for key in [k for k in self._mirrors if k[0] == run_id]:
                del self._mirrors[key]
            shutil.rmtree(os.path.join(self.path, "mirror", run_id), ignore_errors=True)

    def _walk_mirrors(self) -> Iterator[tuple[str, str, int]]:
        root = os.path.join(self.path, "mirror")
        for folder, _dirs, files in os.walk(root):
            for file in files:
                full = os.path.join(folder, file)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                run_id, _, name = rel.partition("/")
                if name:
                    yield run_id, name, os.path.getsize(full)

    # -- life -------------------------------------------------------------------------

    def is_empty(self) -> bool:
        """Nothing left to deliver."""
        with self._lock:
            return (
                self._ops_pending() == 0
                and self._files_bytes == 0
                and all(m.size == m.sent for m in self._mirrors.values())
            )

    def close(self, remove_if_empty: bool = True) -> bool:
        """Close handles and release the lock; remove the folder when all was delivered."""
        with self._lock:
            empty = self.is_empty()  # what was dropped is reported, not kept
            for handle in (self._reader,):
                if handle is not None:
                    handle.close()
            self._reader = None
            try:
                os.close(self._fd)
            except OSError:
                pass
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
        if empty and remove_if_empty:
            shutil.rmtree(self.path, ignore_errors=True)
            return True
        return False

    def release_after_fork(self) -> None:
        """In a forked child: close the inherited handles, leaving the parent's lock held."""
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._lock_fd = None
        self._reader = None

    # -- helpers ------------------------------------------------------------------------

    def _segment_path(self, number: int) -> str:
        return os.path.join(self.path, "ops", f"{number:08d}.jsonl")

    def _segments(self) -> list[int]:
        names = os.listdir(os.path.join(self.path, "ops"))
        return sorted(int(n.split(".")[0]) for n in names if n.endswith(".jsonl") and n[:8].isdigit())

    def _read_cursor(self) -> Position:
        try:
            with open(os.path.join(self.path, "cursor"), "rb") as handle:
                segment, offset = handle.read().split()
                return (int(segment), int(offset))
        except (OSError, ValueError):
            return (1, 0)


def describe(op: dict[str, Any]) -> Counter[str]:
    """What one operation carries, for summaries: metric points, tags, params, files, statuses,
    runs to create."""
    kind = op.get("o")
    counts: Counter[str] = Counter()
    if kind == "b":
        if op.get("m"):
            counts["metric points"] += len(op["m"])
        if op.get("t"):
            counts["tags"] += len(op["t"])
    elif kind == "p":
        counts["params"] += len(op.get("p", ()))
    elif kind == "f":
        counts["files"] += 1
    elif kind == "s":
        counts["run status updates"] += 1
    elif kind == "c":
        counts["runs to create"] += 1
    return counts


def counts_text(counter: Counter[str]) -> str:
    """Counts as a phrase for people: "1200 metric points, 3 tags" (zeros left out)."""
    return ", ".join(f"{count} {what}" for what, count in sorted(counter.items()) if count)


def leftover_spools(root: str | None = None) -> list[str]:
    """Spool folders under ``root`` whose process is gone (their lock is free)."""
    root = root or spool_root()
    found = []
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    for name in names:
        path = os.path.join(root, name)
        if not os.path.isfile(os.path.join(path, "meta.json")):
            continue
        lock = _take_lock(os.path.join(path, "lock"), probe=True)
        if lock is False:
            continue
        found.append(path)
    return found


def _take_lock(path: str, probe: bool = False) -> Any:
    """Hold an exclusive lock on ``path``: its fd; with ``probe``, only test it (False if held)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if fcntl is None:
        if probe:
            os.close(fd)
            return True
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        if probe:
            return False
        raise RuntimeError(f"the spool {os.path.dirname(path)} is in use by another process") from None
    if probe:
        os.close(fd)
        return True
    return fd


def _line(op: dict[str, Any]) -> bytes:
    return json.dumps(op, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            value = json.load(handle)
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def _tree_size(root: str) -> Iterator[int]:
    for folder, _dirs, files in os.walk(root):
        for file in files:
            try:
                yield os.path.getsize(os.path.join(folder, file))
            except OSError:
                continue


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:40]
