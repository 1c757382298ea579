"""Events in, sinks out: the one pipeline every source feeds and every sink drains.

The caller's side only appends an :class:`~tracklog.pipeline.event.Event` to a deque. A
background writer thread drains it in batches and hands each batch to every
sink. When the deque holds ``capacity`` events the caller waits for the writer
(backpressure): events are never dropped on the way to the sinks while the sinks
can write.

A sink that cannot write for a while (a full disk, a read-only mount) says
``Stalled``: then callers stop waiting. The deque keeps the oldest ``capacity``
events and counts the newer ones it could not keep; the writer retries, and says
once when the sink stalled and once when it writes again (or at exit, if it never
did), with the number of events lost. Flushes wait at most a second for a stalled
sink.

Under the GIL the writer's work is the caller's loss while both want the CPU,
so the writer yields to a burst: while events keep arriving it waits, until
the oldest waiting event is ``max_defer`` seconds old (twice the flush
interval, at most a second), the queue is three quarters full, or somebody
flushes. A burst that ends sooner is written in the pause after it, in
bigger batches.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from itertools import repeat
from typing import Any, Callable, Iterable, Sequence

from .. import _config, _diag, _lifecycle
from .._threads import start_thread
from . import registry
from .event import Event, as_events
from .registry import SinkFactory
from .sink import RetryLater, Sink, Stalled

__all__ = ["Pipeline"]


class _FlushMarker:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


#: deque.popleft as a function of the deque: map() calls it without a Python frame.
_popleft = deque.popleft
#: How often a yielding writer looks whether the burst is over (seconds).
_BURST_POLL = 0.01
#: How long a flush waits for a sink that reports itself stalled (seconds).
STALL_FLUSH_WAIT = 1.0
#: The longest pause between the writer's attempts at a stalled sink (seconds).
_STALL_RETRY_MAX = 2.0
#: Errors already reported with a traceback (later ones of a kind go to debug).
_reported: set[object] = set()


class Pipeline:
    """A bounded queue of events and the writer thread that drains it into sinks."""

    def __init__(
        self,
        sinks: Iterable[Sink],
        *,
        capacity: int | None = None,
        batch_size: int = 20_000,
        interval: float | None = None,
        max_defer: float | None = None,
        on_tick: Callable[[], None] | None = None,
        on_start: Callable[[], None] | None = None,
        name: str = "tracklog-writer",
    ) -> None:
        self._sinks: list[Sink] = list(sinks)
        self._capacity = capacity or _config.queue_capacity()
        self._batch_size = batch_size
        self._interval = interval or _config.flush_interval()
        # The longest a burst of callers keeps its events from the writer (seconds).
        self._max_defer = max_defer if max_defer is not None else min(2 * self._interval, 1.0)
        self._on_tick = on_tick
        # Called once, on the caller's thread holding no lock, before the first writer
        # starts (the engine opens OTLP routing from the environment there).
        self._on_start = on_start
        self._name = name
        self._closed = False
        self._init_state()
        self._from_factories: dict[SinkFactory, Sink] = {}
        for factory in registry.register(self):
            self.attach(factory)

    def reset_after_fork(self) -> None:
        """In a forked child: an empty queue and no writer (it did not survive the fork)."""
        self._init_state()

    def _init_state(self) -> None:
        #: The events waiting for the writer. A source whose every call counts may do what
        #: put() does, inline, saving a Python call per event: ``queue.append(item)``, then
        #: ``kick()`` once ``len(queue) >= kick_at`` (RunHandler's fast path does).
        self.queue: deque[object] = deque()
        # Flush markers put and not yet taken by the writer (under _marker_lock): while
        # there are none, the writer takes a batch in one C-level call (see _drain).
        self._markers = 0
        self._marker_lock = threading.Lock()
        self._wake = threading.Event()
        self._space = threading.Condition(threading.Lock())
        self._waiters = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        #: The queue length at which a put must call kick(): the first put after creation
        #: or fork (it starts the writer), a full batch (it wakes the writer), a full queue
        #: (the caller waits), every put after close() (it writes inline).
        self.kick_at = 0
        # When the first event since the writer last drained arrived (monotonic).
        self._first_at: float | None = None
        # A flush or wake() is waiting: the writer must not yield to a burst.
        self._urgent = False
        # Set by flush() and close(): a writer pausing for a stalled sink tries again now.
        self._retry_now = threading.Event()
        # While a sink reports itself stalled: since when (monotonic), why, the events of
        # the batch it holds, and how many newer events the queue could not keep.
        self._stall_since: float | None = None
        self._stall_reason = ""
        self._stall_batch = 0
        self._shed = 0
        self._shed_lock = threading.Lock()
        self._stall_reported = False

    # -- the caller's side -------------------------------------------------

    def put(self, event: Event | tuple[Any, ...]) -> None:
        """Enqueue one event; waits only when the queue is full. Never raises.

        Hot paths may pass a plain tuple of the Event's ten fields instead: the
        garbage collector stops tracking a plain tuple of atoms at its next pass,
        but never an Event, so a long queue of Events slows every collection on
        the caller's side.
        pipeline.event lists the shorter layouts RunHandler puts; each is converted
        back to Events once, by as_events(), for a sink that does not read them itself.
        """
        q = self.queue
        q.append(event)
        if len(q) >= self.kick_at:
            self.kick()

    def put_many(self, events: Iterable[Event | tuple[Any, ...]], wait: bool = True) -> None:
        """Enqueue several events in order. ``wait=False``: never wait for space, even past
        the capacity, for a source that bounds what it puts itself (the OTLP receiver
        answers "retry later" instead, and must not hold a request while the sink cannot write)."""
        q = self.queue
        q.extend(events)
        if len(q) >= self.kick_at:
            self.kick(wait)

    def kick(self, wait: bool = True) -> None:
        """What a put does once the queue reached ``kick_at``. Never raises."""
        try:
            if self._closed:
                # Late events after close() (a handler kept on a logger): the caller
                # writes them itself rather than restarting the writer or keeping them.
                with _diag.handling():
                    self._drain()
                return
            thread = self._thread
            if thread is None or not thread.is_alive():
                on_start, self._on_start = self._on_start, None
                if on_start is not None:
                    # What on_start logs may come back through a RunHandler, whose put
                    # would start the writer: inside handling, records stay log lines.
                    with _diag.handling():
                        on_start()
                self._start()
            if self._first_at is None:
                self._first_at = time.monotonic()
            pending = len(self.queue)
            if pending >= self._batch_size and not self._wake.is_set():
                self._wake.set()  # a batch is ready; lone events wait for the interval
            if pending >= self._capacity and wait and threading.current_thread() is not self._thread:
                if self._stall_since is None:
                    self._wait_for_space()
                if self._stall_since is not None:
                    self._shed_excess()  # a stalled sink: callers never wait for it
            else:
                # Next kick after another batch; the writer lowers it again once drained.
                self.kick_at = min(pending + self._batch_size, self._capacity)
        except Exception:  # the caller's path never raises
            _diag.logger.debug("tracklog pipeline kick failed", exc_info=True)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = start_thread(self._run, self._name)
            self.kick_at = self._batch_size

    def _wait_for_space(self) -> None:
        low = self._capacity // 2
        with self._space:
            self._waiters += 1
            try:
                while (
                    len(self.queue) > low
                    and self._stall_since is None
                    and self._thread is not None
                    and self._thread.is_alive()
                ):
                    self._wake.set()
                    self._space.wait(0.1)
            finally:
                self._waiters -= 1

    def _shed_excess(self) -> None:
        """Keep the oldest ``capacity`` events (and every flush marker); count the rest."""
        q = self.queue
        markers: list[_FlushMarker] = []
        dropped = 0
        with self._shed_lock:
            while len(q) > self._capacity:
                try:
                    item = q.pop()
                except IndexError:
                    break
                if type(item) is _FlushMarker:
                    markers.append(item)
                else:
                    dropped += 1
            q.extend(reversed(markers))
            self._shed += dropped

    def wake(self) -> None:
        """Ask the writer to drain now rather than at its next interval."""
        self._urgent = True
        self.kick()
        self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every event enqueued before this call reached the sinks."""
        if self._closed:
            if self.queue:
                self.kick()
            return True
        if threading.current_thread() is self._thread:
            self._drain()
            return True
        if self._thread is None and not self.queue:
            return True  # nothing was ever put: no writer to start for a read
        marker = _FlushMarker()
        with self._marker_lock:
            self._markers += 1  # before it is in the queue: _drain must not take it in bulk
        self.queue.append(marker)
        self._urgent = True
        self.kick()
        self._wake.set()
        return self._wait_for(marker, timeout)

    def _wait_for(self, marker: _FlushMarker, timeout: float | None) -> bool:
        """Wait for a flush marker: at most ``timeout``, and at most STALL_FLUSH_WAIT while
        a sink reports itself stalled (the writer tries it again at once)."""
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        if self._stall_since is not None:
            self._retry_now.set()
        while True:
            step = 0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))
            if marker.done.wait(step):
                return True
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            since = self._stall_since
            if since is not None and now - max(since, start) >= STALL_FLUSH_WAIT:
                return False

    def close(self, timeout: float | None = 10.0) -> None:
        """Flush, stop the writer and close the sinks. Idempotent."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        self.kick_at = 0  # every later put goes through kick, which writes it inline
        self._urgent = True
        self._retry_now.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.report_stall()
        for sink in self._sinks:
            try:
                sink.close()
            except Exception:
                _diag.logger.warning("tracklog: closing sink %r failed", sink, exc_info=True)

    def add_sink(self, sink: Sink) -> None:
        """Add a sink; it sees every batch written from now on."""
        self._sinks = [*self._sinks, sink]

    def remove_sink(self, sink: Sink) -> None:
        """Remove a sink added before; it is not closed."""
        self._sinks = [s for s in self._sinks if s is not sink]

    def attach(self, factory: SinkFactory) -> None:
        """Add the sink ``factory(self)`` returns, once per factory (see the registry)."""
        if factory in self._from_factories:
            return
        sink = factory(self)
        if sink is not None:
            self._from_factories[factory] = sink
            self.add_sink(sink)

    def detach(self, factory: SinkFactory) -> None:
        """Remove the sink a factory gave this pipeline (not closed)."""
        sink = self._from_factories.pop(factory, None)
        if sink is not None:
            self.remove_sink(sink)

    @property
    def sinks(self) -> tuple[Sink, ...]:
        return tuple(self._sinks)

    @property
    def closed(self) -> bool:
        """True once close() ran: later puts are written inline, no writer thread."""
        return self._closed

    @property
    def pending(self) -> int:
        """Events waiting for the writer."""
        return len(self.queue)

    # -- the writer's side -------------------------------------------------

    def _run(self) -> None:
        next_tick = time.monotonic()
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            self._yield_to_burst()
            # Events from now on are the next round's: the first of them stamps
            # _first_at again (a put kicks once kick_at is 1).
            self._urgent = False
            self._first_at = None
            self.kick_at = 1
            with _diag.handling():
                self._drain()
                now = time.monotonic()
                if self._on_tick is not None and now >= next_tick:
                    next_tick = now + _config.HEARTBEAT_INTERVAL
                    try:
                        self._on_tick()
                    except Exception:
                        _diag.logger.debug("tracklog tick failed", exc_info=True)
            if self._closed and not self.queue:
                return

    def _yield_to_burst(self) -> None:
        """Wait while callers keep enqueueing, within max_defer and 3/4 of capacity."""
        q = self.queue
        high_water = self._capacity * 3 // 4
        max_defer = self._max_defer
        while not self._urgent and not self._closed:
            first = self._first_at
            if first is None or len(q) >= high_water or time.monotonic() - first >= max_defer:
                return
            before = len(q)
            time.sleep(_BURST_POLL)
            if len(q) == before:
                return  # the burst is over: write now

    def _drain(self) -> None:
        q = self.queue
        popleft = q.popleft
        batch_size = min(self._batch_size, self._capacity)
        while q:
            batch: list[Event] = []
            markers: list[_FlushMarker] = []
            try:
                count = min(len(q), batch_size)
                if not self._markers:
                    # No flush marker among the items counted (a flush counts its marker
                    # before it queues it): take them in C, not one Python-level loop turn
                    # per item. Only the writer takes from the left, and a stalled sink's
                    # shedding never takes from the right below capacity, so they are there.
                    # Should they not be (a late put draining inline while a timed-out writer
                    # still drains), list.extend keeps what it took before the IndexError.
                    batch.extend(map(_popleft, repeat(q, count)))  # type: ignore[arg-type]
                else:
                    for _ in range(batch_size):
                        item = popleft()
                        if type(item) is _FlushMarker:
                            with self._marker_lock:
                                self._markers -= 1
                            markers.append(item)  # everything before it is in this batch
                            break
                        batch.append(item)  # type: ignore[arg-type]
            except IndexError:
                pass
            if batch:
                self._write(batch)
            if markers:
                self._flush_sinks()
                for marker in markers:
                    marker.done.set()
            if self._waiters and len(q) <= self._capacity // 2:
                with self._space:
                    self._space.notify_all()

    def _write(self, batch: list[Event]) -> None:
        events = None
        for sink in self._sinks:
            if getattr(sink, "takes_tuples", False):
                self._write_to(sink, batch)
            else:
                if events is None:
                    events = as_events(batch)
                self._write_to(sink, events)

    def _write_to(self, sink: Sink, batch: Sequence[Event]) -> None:
        delay = 0.05
        while True:
            try:
                sink.write(batch)
            except Stalled as exc:
                self._stalled(sink, exc, len(batch))
                if self._closed:
                    self._shed += len(batch)  # nobody waits for space to return now
                    self._stall_batch = 0
                    return
                self._retry_now.wait(delay)
                self._retry_now.clear()
                delay = min(delay * 2, _STALL_RETRY_MAX)
                continue
            except RetryLater as exc:
                _diag.warn_once(("retry", type(sink)), "tracklog: %s; retrying", exc)
                if self._closed and delay > 2:
                    _diag.logger.error("tracklog: giving up on %d events at close: %s", len(batch), exc)
                    return
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            except Exception as exc:
                if len(batch) == 1:
                    _report_once(
                        ("skipped", type(sink), type(exc)),
                        exc,
                        "tracklog: %r could not write %r; skipped",
                        sink,
                        batch[0],
                    )
                    return
                # Halves, not one event per write: a bad event costs its batch a few
                # writes (twice the log of its size), never one write per event.
                _report_once(
                    ("bisect", type(sink), type(exc)),
                    exc,
                    "tracklog: %r failed on a batch of %d; writing it in halves to find the "
                    "events it refuses",
                    sink,
                    len(batch),
                )
                middle = len(batch) // 2
                self._write_to(sink, batch[:middle])
                self._write_to(sink, batch[middle:])
                return
            else:
                if self._stall_since is not None:
                    self._recovered(sink)
                return

    def _stalled(self, sink: Sink, exc: Stalled, size: int) -> None:
        self._stall_batch = size
        if self._stall_since is None:
            self._stall_since = time.monotonic()
            self._stall_reason = str(exc)
            _diag.logger.warning(
                "tracklog: %r cannot be written (%s); up to %d events wait in memory while "
                "the writer retries, and logging calls do not wait for it",
                sink,
                exc,
                self._capacity,
            )

    def _recovered(self, sink: Sink) -> None:
        since, self._stall_since = self._stall_since, None
        self._stall_batch = 0
        self._stall_reported = False
        with self._shed_lock:
            shed, self._shed = self._shed, 0
        took = time.monotonic() - (since or 0.0)
        if shed:
            _diag.logger.warning(
                "tracklog: %r is written again after %.0f s; %d events logged meanwhile could "
                "not be kept in memory and are lost",
                sink,
                took,
                shed,
            )
        else:
            _diag.logger.info("tracklog: %r is written again after %.0f s; nothing lost", sink, took)

    @property
    def stalled(self) -> bool:
        """True while a sink reports that it cannot write (disk full, read-only, ...)."""
        return self._stall_since is not None

    def report_stall(self) -> None:
        """Say once what a sink still stalled holds back: lost unless it writes again."""
        if self._stall_reported or (self._stall_since is None and not self._shed):
            return
        self._stall_reported = True
        with self._shed_lock:
            waiting = sum(1 for item in self.queue if type(item) is not _FlushMarker)
            waiting += self._stall_batch
            shed, self._shed = self._shed, 0
            self._stall_batch = 0
        if waiting or shed:
            _diag.logger.warning(
                "tracklog: the run store still cannot be written (%s): %d events are lost "
                "(%d waiting in memory, %d not kept)",
                self._stall_reason or "stalled",
                waiting + shed,
                waiting,
                shed,
            )

    def _flush_sinks(self) -> None:
        for sink in self._sinks:
            try:
                sink.flush()
            except Exception:
                _diag.logger.warning("tracklog: flushing %r failed", sink, exc_info=True)


def _report_once(key: object, exc: BaseException, msg: str, *args: object) -> None:
    """An error with its traceback the first time for ``key``, at debug after that."""
    if key in _reported:
        _diag.logger.debug(msg, *args, exc_info=exc)
        return
    _reported.add(key)
    _diag.logger.error(msg, *args, exc_info=exc)


def _report_stalls_at_exit() -> None:
    for pipeline in registry.live_pipelines():
        pipeline.report_stall()


_lifecycle.at_exit(_lifecycle.CLOSE, _report_stalls_at_exit)
