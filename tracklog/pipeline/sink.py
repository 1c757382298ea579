"""The sink contract: where batches of events go (the run store, OTLP, ...).

A leaf: stores and exporters import this, never the writer that calls them.
"""

from __future__ import annotations

from typing import Protocol, Sequence

from .event import Event

__all__ = ["RetryLater", "Sink"]


class Sink(Protocol):
    """Where batches of events go.

    ``write`` is called on the writer thread only. A sink that wants the writer
    to retry a batch raises :class:`RetryLater`; any other exception is logged
    and the batch is offered again event by event, so one bad event cannot hold
    back the others.

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
