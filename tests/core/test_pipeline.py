"""The pipeline's writer: queue items, and how it yields to a burst of logging calls."""

from __future__ import annotations

import threading
import time

import pytest

from tracklog.pipeline import writer as pipeline_module
from tracklog.pipeline.event import LOG, METRIC, Event, line_head
from tracklog.pipeline import Pipeline


class _Recorder:
    """A sink that keeps what it was given and when (monotonic seconds)."""

    def __init__(self) -> None:
        self.writes: list[tuple[float, list[Event]]] = []

    def write(self, events):
        self.writes.append((time.monotonic(), list(events)))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def events(self) -> list[Event]:
        return [event for _, batch in self.writes for event in batch]


def _point(i: int) -> tuple:
    return ("r", METRIC, "m", float(i), i, 1.0, 0, "", "", None)


class _Burst(threading.Thread):
    """Enqueues points in a busy loop until ``seconds`` pass or ``stop`` is set.

    Each point costs a few microseconds of Python work, as a training loop's
    would, so a burst stays far below the queue's high water unless a test
    shrinks the capacity.
    """

    def __init__(self, pipeline: Pipeline, seconds: float) -> None:
        super().__init__()
        self.pipeline, self.seconds = pipeline, seconds
        self.stop = threading.Event()
        self.count = 0
        self.started = self.ended = 0.0
        self.start()

    def run(self) -> None:
        self.started = time.monotonic()
        deadline = self.started + self.seconds
        i = 0
        while True:
            self.pipeline.put(_point(i))
            i += 1
            for _ in range(40):
                pass
            if i % 256 == 0 and (time.monotonic() >= deadline or self.stop.is_set()):
                break
        self.count = i
        self.ended = time.monotonic()


def _values(sink: _Recorder) -> list[float]:
    return [e.value for e in sink.events]


def test_plain_tuples_and_record_points_reach_a_sink_as_events_in_order():
    sink = _Recorder()
    pipeline = Pipeline([sink])
    event = Event("r", METRIC, "a", 1.0, 0, 5.0)
    head = line_head("r", "python.log")
    pipeline.put(("r", LOG, "python.log", None, None, 4.0, 20, "app", "first", None))
    pipeline.put((head, 4.25, 30, "app", "a line"))
    pipeline.put((head, 4.5, 20, "app", "with a point", "loss", 0.5, 7))
    pipeline.put(event)
    assert pipeline.flush(timeout=10)
    pipeline.close()
    got = sink.events
    assert all(type(e) is Event for e in got)
    assert [(e.run_id, e.kind, e.name, e.message) for e in got] == [
        ("r", LOG, "python.log", "first"),
        ("r", LOG, "python.log", "a line"),
        ("r", METRIC, "loss", ""),  # a record's point comes before its log line
        ("r", LOG, "python.log", "with a point"),
        ("r", METRIC, "a", ""),
    ]
    assert (got[1].ts, got[1].level, got[1].logger, got[1].attrs) == (4.25, 30, "app", None)
    assert (got[2].value, got[2].step, got[2].ts) == (0.5, 7, 4.5)


def test_a_burst_that_ends_is_written_whole_without_a_flush():
    """The writer notices the pause after a burst; it does not sit out max_defer."""
    sink = _Recorder()
    pipeline = Pipeline([sink], capacity=10_000_000, interval=0.05, max_defer=60.0)
    burst = _Burst(pipeline, 0.3)
    burst.join()
    deadline = time.monotonic() + 10
    while len(sink.events) < burst.count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _values(sink) == [float(i) for i in range(burst.count)]
    pipeline.close()


@pytest.mark.parametrize(
    "max_defer, capacity",
    [
        (0.3, 10_000_000),  # the wait ends after max_defer
        (60.0, 4_000),  # the queue fills long before max_defer; backpressure drops nothing
    ],
    ids=["max-defer", "full-queue"],
)
def test_a_long_burst_is_written_while_it_runs(max_defer, capacity):
    """The writer waits for a busy caller at most max_defer, or until the queue fills."""
    sink = _Recorder()
    pipeline = Pipeline(
        [sink], capacity=capacity, batch_size=min(capacity // 4, 20_000), interval=0.05, max_defer=max_defer
    )
    burst = _Burst(pipeline, 3.0)
    burst.join()
    assert sink.writes, "nothing was written during a 3 s burst"
    assert sink.writes[0][0] < burst.ended, "the writer waited for the whole burst"
    assert pipeline.flush(timeout=30)
    assert _values(sink) == [float(i) for i in range(burst.count)]
    pipeline.close()


def test_flush_during_a_burst_does_not_wait_for_it(monkeypatch):
    # Long looks, so that no pause of the burst's (the GIL going elsewhere) ends the wait.
    monkeypatch.setattr(pipeline_module, "_BURST_POLL", 0.5)
    sink = _Recorder()
    pipeline = Pipeline([sink], capacity=10_000_000, interval=0.05, max_defer=60.0)
    burst = _Burst(pipeline, 30.0)
    try:
        time.sleep(0.3)
        pipeline.put(("r", LOG, "python.log", None, None, 1.0, 20, "app", "flush me", None))
        started = time.monotonic()
        assert pipeline.flush(timeout=20)
        # Waiting for the burst would take until high water: about ten seconds here.
        assert time.monotonic() - started < 4
        assert any(e.message == "flush me" for e in sink.events)
        assert burst.is_alive()  # the flush did not wait for the burst to end
    finally:
        burst.stop.set()
        burst.join()
        pipeline.close()
