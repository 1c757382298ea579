"""The sink contract: where batches of events go (the run store, OTLP, ...).

A leaf: stores and exporters import this, never the writer that calls them.
"""

from __future__ import annotations

from typing import Protocol, Sequence

from .event import Event

__all__ = ["RetryLater", "Sink", "Stalled"]


class Sink(Protocol):
    """Where batches of events go.

    ``write`` is called on the writer thread only. A sink that wants the writer
    to retry a batch raises :class:`RetryLater` (callers wait while the queue is
    full), or :class:`Stalled` when its storage is full or failing for longer
    (callers never wait: the queue keeps what fits and counts the rest). Any other
    exception is logged and the batch is offered again in halves, so one bad event
    holds back neither the others nor the batch's speed.

    A sink with a true ``takes_tuples`` attribute gets the queue's items as they
    are (Events, or the plain-tuple layouts of :mod:`tracklog.pipeline.event`) and
    reads them by index. The run store does: that spares the writer two Events
    per logged point.
    """

    def write(self, events: Sequence[Event]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class RetryLater(Exception):
    """Raised by a sink whose backend is momentarily unavailable (locked, down)."""


class Stalled(RetryLater):
    """Raised by a sink whose storage cannot take writes for a while (disk full, file-size
    limit, read-only, I/O error, damaged file): the writer retries slowly and callers
    stop waiting for it. Nothing of the batch was written."""
