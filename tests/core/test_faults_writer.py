"""The writer facing a sink that stalls (disk full, read-only) or refuses one event of a batch."""

from __future__ import annotations

import logging
import threading
import time

from tracklog.pipeline import Event, Pipeline
from tracklog.pipeline.sink import Stalled


class _DiskLikeSink:
    """A real sink whose storage is 'full' until ``room`` is set: it raises Stalled, as the
    SQLite store does on SQLITE_FULL, and keeps what it is given once there is room."""

    def __init__(self) -> None:
        self.room = threading.Event()
        self.kept: list[Event] = []
        self.attempts = 0

    def write(self, events):  # type: ignore[no-untyped-def]
        self.attempts += 1
        if not self.room.is_set():
            raise Stalled("disk full (test)")
        self.kept.extend(events)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class _PickySink:
    """A real sink that refuses any batch holding a value it cannot store."""

    def __init__(self) -> None:
        self.kept: list[Event] = []
        self.writes = 0

    def write(self, events):  # type: ignore[no-untyped-def]
        self.writes += 1
        if any(e.value == "bad" for e in events):
            raise ValueError("cannot store 'bad'")
        self.kept.extend(events)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _point(i: int) -> Event:
    return Event("r", "metric", "x", i, i, 0.0)


def test_a_stalled_sink_never_makes_callers_wait_and_counts_what_was_not_kept(caplog):
    """Queue full of a stalled sink: puts return at once, the oldest events are kept and
    written when room returns, and one warning gives the number that could not be kept."""
    sink = _DiskLikeSink()
    pipeline = Pipeline([sink], capacity=1_000, batch_size=100, interval=0.05)
    caplog.set_level(logging.INFO, logger="tracklog")
    worst = [0.0]

    def caller() -> None:
        for i in range(1, 5_000):
            start = time.monotonic()
            pipeline.put(_point(i))
            worst[0] = max(worst[0], time.monotonic() - start)

    try:
        pipeline.put(_point(0))
        deadline = time.monotonic() + 30
        while sink.attempts == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        thread = threading.Thread(target=caller, daemon=True)
        thread.start()
        thread.join(30)
        assert not thread.is_alive()  # before: the caller waited until room returned
        assert worst[0] < 1.0
        start = time.monotonic()
        assert pipeline.flush(timeout=60) is False  # a stalled sink: flush returns, bounded
        assert time.monotonic() - start < 10
        sink.room.set()
        assert pipeline.flush(timeout=60) is True
    finally:
        sink.room.set()
        pipeline.close()
    kept = [e.value for e in sink.kept]
    assert kept == sorted(kept) and kept[0] == 0  # the oldest first, in order
    lost = 5_000 - len(kept)
    assert lost > 0
    messages = [r.getMessage() for r in caplog.records if r.name == "tracklog"]
    assert sum("cannot be written" in m for m in messages) == 1
    assert any(f"{lost} events logged meanwhile could not be kept" in m for m in messages), messages


def test_a_sink_stalled_at_close_gives_up_quickly_and_says_how_many_were_lost(caplog):
    """Closing a pipeline whose sink never recovers: bounded, one warning with the count."""
    sink = _DiskLikeSink()
    pipeline = Pipeline([sink], capacity=10_000, batch_size=100, interval=0.05)
    for i in range(2_000):
        pipeline.put(_point(i))
    start = time.monotonic()
    pipeline.close(timeout=30)
    assert time.monotonic() - start < 15
    messages = [r.getMessage() for r in caplog.records if r.name == "tracklog"]
    assert any("2000 events are lost" in m for m in messages), messages


def test_one_refused_event_costs_its_batch_a_few_writes_not_one_per_event(caplog):
    """A batch of 20,000 with one event the sink refuses: bisected in ~30 writes, the rest kept."""
    sink = _PickySink()
    pipeline = Pipeline([sink], capacity=100_000, batch_size=20_000, interval=0.05)
    caplog.set_level(logging.ERROR, logger="tracklog")
    try:
        events = [_point(i) for i in range(20_000)]
        events[12_345] = Event("r", "metric", "x", "bad", 12_345, 0.0)
        pipeline.put_many(events)
        assert pipeline.flush(timeout=60)
    finally:
        pipeline.close()
    assert len(sink.kept) == 19_999
    assert sink.writes <= 2 * 15 + 1  # before: 20,001 writes, one per event
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1
