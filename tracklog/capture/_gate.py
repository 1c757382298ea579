"""Metric points read from a job's output wait until it is known whether the job logs them itself.

A Python job under ``tracklog run`` that logs ``loss`` in-process (a RunHandler record,
the structlog processor, ``tracklog.log_metric``, ``run.log``) and also prints the same
numbers would get every point twice: the precise one from its call, and the one parsed
from the printed line. The in-process value wins: a metric name the job logs in-process
is not read from its output.

The job's points reach the run's store through its own writer, up to its flush latency
(``Pipeline``'s ``max_defer``, at most a second) after the print. So the points parsed
from output are held ``HOLD`` seconds; then a thread of ours asks the store for the run's
metric names and how many points each holds (``Store.metric_counts``). A name the store
has that we never released, or with more points than we released, is written by another
writer: the job. Such a name is known for good and its parsed points are dropped; every
other point goes on, seconds late at most. At the job's end, after it exited (its exit
flushes its writer), what is still held is decided. Only metric points wait: the output
lines, tags and params go on at once.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .. import _diag
from .._threads import start_thread
from ..pipeline.event import METRIC, POINTS

if TYPE_CHECKING:
    from ..pipeline.writer import Pipeline

#: Seconds a parsed point waits before it is decided: the job's writer lag, with room.
HOLD = 1.5
#: Seconds between the thread's looks at the store (a remote one answers each with a request).
POLL = 0.5
#: Seconds points wait at most while the store cannot answer; then they are recorded.
MAX_WAIT = 10.0

#: The run's metric names and their point counts (None: the store cannot count cheaply).
Counts = Callable[[], Mapping[str, "int | None"]]


class ParsedMetricGate:
    """Holds the metric points parsed from one job's output (both streams), then passes on
    those of names the job does not log in-process."""

    def __init__(self, pipeline: Pipeline, counts: Counts, *, hold: float = HOLD, poll: float = POLL) -> None:
        self._pipeline = pipeline
        self._counts = counts
        self.hold = hold
        self.poll = poll
        self._held: deque[tuple[float, list[Any]]] = deque()
        self._released: dict[str, int] = {}  # points of each name we passed on
        #: Names the job logs in-process: their parsed points are not recorded.
        self.logged: set[str] = set()
        self._lock = threading.Lock()  # one decision at a time: the thread's, or close()'s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed = False

    def split(self, events: list[Any]) -> list[Any]:
        """The events to put now; metric points are held. On the reading thread: no I/O."""
        now: list[Any] = []
        held: list[Any] = []
        logged = self.logged
        for item in events:
            if type(item) is tuple:
                kind = item[1]
            else:
                kind = item.kind
            if kind == METRIC or kind == POINTS:
                if item[2] not in logged:
                    held.append(item)
            else:
                now.append(item)
        if held:
            self._held.append((time.monotonic(), held))
            if self._thread is None:
                self._thread = start_thread(self._loop, "tracklog-output-metrics")
        return now

    def close(self) -> None:
        """Decide everything still held; call once the job has exited."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join()
        self._decide(None)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            self._decide(time.monotonic() - self.hold)

    def _decide(self, before: float | None) -> None:
        """Pass on or drop the points that arrived before ``before`` (monotonic; None: all)."""
        with self._lock:
            held = self._held
            if not held or (before is not None and held[0][0] > before):
                return
            counts = self._store_counts()  # asked after the points' hold ran out
            if counts is None:  # no answer (a remote store that does not know the run yet)
                if before is not None and held[0][0] > before - MAX_WAIT:
                    return  # ask again at the next look
                counts = {}  # waited long enough, or the job has ended: record them
            out: list[Any] = []
            while held and (before is None or held[0][0] <= before):
                for item in held.popleft()[1]:
                    name = item[2]
                    if not self._in_process(name, counts):
                        self._released[name] = self._released.get(name, 0) + (
                            len(item[3]) if item[1] == POINTS else 1
                        )
                        out.append(item)
            if out:
                try:
                    self._pipeline.put_many(out)
                except Exception:
                    _diag.logger.warning("tracklog: recording metrics read from output failed", exc_info=True)

    def _in_process(self, name: str, counts: Mapping[str, int | None]) -> bool:
        if name in self.logged:
            return True
        if name not in counts:
            return False
        stored = counts[name]
        released = self._released.get(name)
        if released is not None and (stored is None or stored <= released):
            return False  # only our own points (as far as the store can count)
        self.logged.add(name)
        _diag.logger.debug(
            "tracklog: the job logs metric %r itself; its lines in the output are not read as %r again",
            name, name,
        )
        return True

    def _store_counts(self) -> Mapping[str, int | None] | None:
        try:
            return self._counts()
        except Exception:
            if not self._failed:
                self._failed = True
                _diag.logger.debug("tracklog: cannot read the run's metric names", exc_info=True)
            return None
