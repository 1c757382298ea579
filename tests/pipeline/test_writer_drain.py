"""The writer takes batches from the queue in bulk: flush markers never reach a sink, and
every flush still waits for exactly the events put before it."""

from __future__ import annotations

import threading

from tracklog.pipeline import Pipeline
from tracklog.pipeline.event import METRIC


class _Recorder:
    """A sink that keeps every queue item it was given, as it was queued."""

    takes_tuples = True

    def __init__(self) -> None:
        self.items: list[tuple] = []  # type: ignore[type-arg]
        self.lock = threading.Lock()

    def write(self, events) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            self.items.extend(events)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_flushes_racing_puts_see_their_events_and_no_marker_is_written():
    """Four threads put and flush at once: each flush returns with its own thread's
    earlier points written, every point is written once, and nothing else is."""
    sink = _Recorder()
    pipeline = Pipeline([sink], capacity=5_000, batch_size=700, interval=0.01, max_defer=0.02)
    failures: list[str] = []

    def worker(who: int) -> None:
        for i in range(6_000):
            pipeline.put((who, METRIC, "m", float(i), i, 1.0, 0, "", "", None))
            if i % 500 == 499:
                assert pipeline.flush(timeout=30)
                with sink.lock:
                    mine = sum(1 for item in sink.items if item[0] == who)
                if mine < i + 1:
                    failures.append(f"thread {who}: {mine} of {i + 1} points after its flush")

    threads = [threading.Thread(target=worker, args=(who,)) for who in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pipeline.close()
    assert not failures
    assert [item for item in sink.items if type(item) is not tuple] == []
    for who in range(4):
        assert [item[4] for item in sink.items if item[0] == who] == list(range(6_000))


def test_a_closed_pipeline_still_writes_late_events():
    """After close, a put is written inline, with no writer thread to take it."""
    sink = _Recorder()
    pipeline = Pipeline([sink], interval=0.01)
    pipeline.put(("r", METRIC, "m", 1.0, 0, 1.0, 0, "", "", None))
    pipeline.close()
    pipeline.put(("r", METRIC, "m", 2.0, 1, 1.0, 0, "", "", None))
    assert [item[3] for item in sink.items] == [1.0, 2.0]
