"""The embedded store's metric chunks as chart readers want them: summaries, step
ranges, min/max, without a Python object per point. The UI asks the Store for this
reader (``Store.series_reader()``); it never opens the database itself."""

from __future__ import annotations

import sqlite3
import sys
import threading
from array import array
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NamedTuple, Sequence

from ._chunks import unpack_values

_NAN = float("nan")
#: Bucket counts asked for are clamped to this range (one bucket per pixel).
MIN_BUCKETS, MAX_BUCKETS = 10, 4000


def bucket_count(asked: int, span: int | None = None) -> int:
    """The number of buckets to use: as asked, clamped, and never more than the steps."""
    count = max(MIN_BUCKETS, min(MAX_BUCKETS, int(asked)))
    return count if span is None else max(1, min(count, span))


class Chunk(NamedTuple):
    """Points of one metric in arrival order, with the summary the store keeps."""

    count: int
    min_step: int
    max_step: int
    ordered: bool
    min_value: float | None  # over finite numbers only; None when there are none
    max_value: float | None
    steps: Sequence[int] | None  # None: not loaded (the summary is enough)
    values: Sequence[float] | None  # numbers; NaN stands for anything else


class KeySummary(NamedTuple):
    """One metric of a run as the page lists it, without reading its points."""

    name: str
    kind: str
    count: int
    min_step: int | None
    max_step: int | None
    numeric: bool  # at least one finite number among its values
    text: bool  # some values are stored as JSON (strings, mixed)


def numbers(values: list[Any]) -> list[float]:
    """JSON-decoded values as numbers, anything else (str, None) as NaN."""
    return [v if (type(v) is float or type(v) is int) else _NAN for v in values]


class ChunkReader:
    """Reads the embedded store's metric chunks over its own read-only connections.

    The store's own control connection is shared and locked; chart reads are
    heavier, so each request borrows a connection from a small pool instead.
    Every read is one read transaction (WAL gives it a snapshot), so several
    SELECTs never see a writer's commit land between them; :meth:`snapshot`
    widens that to several reads (a whole page of charts).
    """

    def __init__(self, db_path: str, connect: Callable[[], sqlite3.Connection] | None = None) -> None:
        self.db_path = db_path
        #: Opens one connection; the default opens the file with writes refused (query_only).
        self._connect = connect or self._connect_query_only
        self._pool: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._pinned = threading.local()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Make every read of this thread inside the block see one snapshot of the database."""
        if getattr(self._pinned, "conn", None) is not None:
            yield  # already inside one: the outer block's snapshot holds
            return
        with self._transaction() as conn:
            self._pinned.conn = conn
            try:
                yield
            finally:
                self._pinned.conn = None

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        pinned = getattr(self._pinned, "conn", None)
        if pinned is not None:
            yield pinned
            return
        with self._transaction() as conn:
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection inside one read transaction (BEGIN ... COMMIT)."""
        with self._lock:
            conn = self._pool.pop() if self._pool else None
        if conn is None:
            conn = self._connect()
            conn.isolation_level = None  # transactions only where BEGIN says
        healthy = False
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")  # a read transaction: ends the snapshot, writes nothing
                healthy = True
        finally:
            with self._lock:
                if self._closed or len(self._pool) >= 8 or not healthy:
                    conn.close()
                else:
                    self._pool.append(conn)

    def _connect_query_only(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=30.0, check_same_thread=False)
        conn.execute("PRAGMA query_only = 1")
        return conn

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for conn in pool:
            conn.close()

    def summaries(self, run_id: str) -> list[KeySummary]:
        """Every metric of the run with its kind, point count and step range, by first use."""
        sql = (
            "SELECT k.name, k.kind, SUM(c.count), MIN(c.min_step), MAX(c.max_step), "
            "MAX(c.min_value IS NOT NULL), MAX(c.encoding = 'json') "
            "FROM metric_keys k JOIN runs r USING (run_pk) "
            "LEFT JOIN metric_chunks c USING (key_id) "
            "WHERE r.run_id = ? GROUP BY k.key_id ORDER BY k.key_id"
        )
        with self._conn() as conn:
            rows = conn.execute(sql, (run_id,)).fetchall()
        return [
            KeySummary(name, kind, count or 0, lo, hi, bool(numeric), bool(text))
            for name, kind, count, lo, hi, numeric, text in rows
        ]

    def chunks(
        self, run_id: str, name: str, buckets: int, lo: int | None = None, hi: int | None = None
    ) -> list[Chunk]:
        """The chunks of one metric overlapping [lo, hi], ready for :func:`downsample`.

        Chunks that lie inside one bucket come back already merged per bucket
        (SQLite groups them from the summary index, without their points); the
        others come with their points.
        """
        with self._conn() as conn:
            row = conn.execute(
                "SELECT k.key_id FROM metric_keys k JOIN runs r USING (run_pk) "
                "WHERE r.run_id = ? AND k.name = ?",
                (run_id, name),
            ).fetchone()
            if row is None:
                return []
            key_id = row[0]
            first, last = conn.execute(
                "SELECT MIN(min_step), MAX(max_step) FROM metric_chunks WHERE key_id = ?", (key_id,)
            ).fetchone()
            if first is None:
                return []
            low = first if lo is None else lo
            high = last if hi is None else hi
            if high < low:
                return []
            overlap = "key_id = :key AND max_step >= :low AND min_step <= :high"
            args: dict[str, Any] = {"key": key_id, "low": low, "high": high}
            total = conn.execute(
                f"SELECT SUM(count) FROM metric_chunks WHERE {overlap}", args
            ).fetchone()[0] or 0
            span = high - low + 1
            args["width"] = width = bucket_count(buckets, span)
            args["span"] = span
            if total <= 2 * bucket_count(buckets) or span * width >= 2**62:
                return self._loaded(conn, overlap, args)
            # Inside the range and within one bucket: (min_step - low) * width / span is
            # the bucket, the same integer arithmetic as downsample() uses.
            one_bucket = (
                "min_step >= :low AND max_step <= :high AND "
                "(min_step - :low) * :width / :span = (max_step - :low) * :width / :span"
            )
            grouped = [
                Chunk(count, s0, s1, True, mn, mx, None, None)
                for count, s0, s1, mn, mx in conn.execute(
                    "SELECT SUM(count), MIN(min_step), MAX(max_step), MIN(min_value), MAX(max_value) "
                    f"FROM metric_chunks WHERE key_id = :key AND {one_bucket} "
                    "GROUP BY (min_step - :low) * :width / :span",
                    args,
                )
            ]
            return grouped + self._loaded(conn, f"{overlap} AND NOT ({one_bucket})", args)

    @staticmethod
    def _loaded(conn: sqlite3.Connection, where: str, args: dict[str, Any]) -> list[Chunk]:
        """Chunks matching ``where`` with their points unpacked into arrays."""
        chunks = []
        for count, s0, s1, ordered, mn, mx, encoding, steps, vals in conn.execute(
            "SELECT count, min_step, max_step, ordered, min_value, max_value, encoding, steps, vals "
            f"FROM metric_chunks WHERE {where} ORDER BY chunk_id",
            args,
        ):
            if encoding == "f8":
                values: Sequence[float] = _unpack_array("d", vals)
            elif encoding == "i8":
                values = _unpack_array("q", vals)
            else:
                values = numbers(unpack_values(encoding, vals))
            chunks.append(Chunk(count, s0, s1, bool(ordered), mn, mx, _unpack_array("q", steps), values))
        return chunks

    def raw_values(self, run_id: str, name: str, limit: int) -> tuple[int, list[tuple[int, Any]]]:
        """The last ``limit`` (step, value) pairs of a metric, as stored (strings kept)."""
        sql = (
            "SELECT c.count, c.steps, c.vals, c.encoding FROM metric_chunks c "
            "JOIN metric_keys k USING (key_id) JOIN runs r USING (run_pk) "
            "WHERE r.run_id = ? AND k.name = ? ORDER BY c.chunk_id DESC"
        )
        pairs: list[tuple[int, Any]] = []
        total = 0
        with self._conn() as conn:
            for count, steps, vals, encoding in conn.execute(sql, (run_id, name)):
                total += count
                if not limit or len(pairs) < limit:
                    pairs[:0] = list(zip(_unpack_array("q", steps), unpack_values(encoding, vals)))
        pairs.sort(key=lambda p: p[0])
        return total, pairs[-limit:] if limit else pairs


def _unpack_array(typecode: str, blob: bytes) -> array:  # type: ignore[type-arg]
    """A little-endian packed array, kept as an array (no Python object per item)."""
    items = array(typecode)
    items.frombytes(blob)
    if sys.byteorder != "little":
        items.byteswap()
    return items


