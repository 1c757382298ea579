"""Events in, sinks out: the one pipeline every source feeds and every sink drains.

The caller's side only appends an :class:`~tracklog.pipeline.event.Event` to a deque. A
background writer thread drains it in batches and hands each batch to every
sink. When the deque holds ``capacity`` events the caller waits for the writer
(backpressure): events are never dropped on the way to the sinks.

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
from typing import Any, Callable, Iterable, Sequence

from .. import _config, _diag
from . import registry
from .event import Event, as_events
from .registry import SinkFactory
from .sink import RetryLater, Sink

__all__ = ["Pipeline"]


class _FlushMarker:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


#: How often a yielding writer looks whether the burst is over (seconds).
_BURST_POLL = 0.01


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
        self._q: deque[object] = deque()
        self._wake = threading.Event()
        self._space = threading.Condition(threading.Lock())
        self._waiters = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        # The first put after creation or fork starts the writer (see _kick).
        self._kick_at = 0
        # When the first event since the writer last drained arrived (monotonic).
        self._first_at: float | None = None
        # A flush or wake() is waiting: the writer must not yield to a burst.
        self._urgent = False

    # -- the caller's side -------------------------------------------------

    def put(self, event: Event | tuple[Any, ...]) -> None:
        """Enqueue one event; waits only when the queue is full. Never raises.

        Hot paths may pass a plain tuple of the Event's ten fields instead: the
        garbage collector stops tracking a plain tuple of atoms at its next pass,
        but never an Event, so a long queue of Events slows every collection on
        the caller's side.
        A log event's ten fields followed by a metric point's name, value and step
        (13 in all) is a log record that carried one point: the writer makes it the
        two events, the point first.
        """
        q = self._q
        q.append(event)
        if len(q) >= self._kick_at:
            self._kick()

    def put_many(self, events: Iterable[Event | tuple[Any, ...]]) -> None:
        """Enqueue several events in order."""
        q = self._q
        q.extend(events)
        if len(q) >= self._kick_at:
            self._kick()

    def _kick(self) -> None:
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
            pending = len(self._q)
            if pending >= self._batch_size and not self._wake.is_set():
                self._wake.set()  # a batch is ready; lone events wait for the interval
            if pending >= self._capacity and threading.current_thread() is not self._thread:
                self._wait_for_space()
            else:
                # Next kick after another batch; the writer lowers it again once drained.
                self._kick_at = min(pending + self._batch_size, self._capacity)
        except Exception:  # the caller's path never raises
            _diag.logger.debug("tracklog pipeline kick failed", exc_info=True)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
            self._kick_at = self._batch_size

    def _wait_for_space(self) -> None:
        low = self._capacity // 2
        with self._space:
            self._waiters += 1
            try:
                while len(self._q) > low and self._thread is not None and self._thread.is_alive():
                    self._wake.set()
                    self._space.wait(0.1)
            finally:
                self._waiters -= 1

    def wake(self) -> None:
        """Ask the writer to drain now rather than at its next interval."""
        self._urgent = True
        self._kick()
        self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every event enqueued before this call reached the sinks."""
        if self._closed:
            if self._q:
                self._kick()
            return True
        if threading.current_thread() is self._thread:
            self._drain()
            return True
        if self._thread is None and not self._q:
            return True  # nothing was ever put: no writer to start for a read
        marker = _FlushMarker()
        self._q.append(marker)
        self._urgent = True
        self._kick()
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = 10.0) -> None:
        """Flush, stop the writer and close the sinks. Idempotent."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        self._kick_at = 0  # every later put goes through _kick, which writes it inline
        self._urgent = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
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
        return len(self._q)

    # -- the writer's side -------------------------------------------------

    def _run(self) -> None:
        next_tick = time.monotonic()
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            self._yield_to_burst()
            # Events from now on are the next round's: the first of them stamps
            # _first_at again (a put kicks once _kick_at is 1).
            self._urgent = False
            self._first_at = None
            self._kick_at = 1
            with _diag.handling():
                self._drain()
                now = time.monotonic()
                if self._on_tick is not None and now >= next_tick:
                    next_tick = now + _config.HEARTBEAT_INTERVAL
                    try:
                        self._on_tick()
                    except Exception:
                        _diag.logger.debug("tracklog tick failed", exc_info=True)
            if self._closed and not self._q:
                return

    def _yield_to_burst(self) -> None:
        """Wait while callers keep enqueueing, within max_defer and 3/4 of capacity."""
        q = self._q
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
        q = self._q
        popleft = q.popleft
        while q:
            batch: list[Event] = []
            markers: list[_FlushMarker] = []
            try:
                for _ in range(self._batch_size):
                    item = popleft()
                    if type(item) is _FlushMarker:
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
                return
            except RetryLater as exc:
                _diag.warn_once(("retry", type(sink)), "tracklog: %s; retrying", exc)
                if self._closed and delay > 2:
                    _diag.logger.error("tracklog: giving up on %d events at close: %s", len(batch), exc)
                    return
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            except Exception:
                if len(batch) == 1:
                    _diag.logger.error(
                        "tracklog: %r could not write %r; skipped", sink, batch[0], exc_info=True
                    )
                    return
                _diag.logger.warning(
                    "tracklog: %r failed on a batch of %d; retrying one by one",
                    sink,
                    len(batch),
                    exc_info=True,
                )
                for event in batch:
                    self._write_to(sink, [event])
                return

    def _flush_sinks(self) -> None:
        for sink in self._sinks:
            try:
                sink.flush()
            except Exception:
                _diag.logger.warning("tracklog: flushing %r failed", sink, exc_info=True)
