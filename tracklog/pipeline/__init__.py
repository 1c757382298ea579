"""Everything between a source and a sink, knowing neither.

``event`` is the one event type, ``sink`` the contract sinks implement, ``writer``
the queue and its background thread, ``registry`` the live pipelines and the sink
factories they share, ``target`` what a source writes into, ``current`` which run
is current, ``conventions`` the record fields that become run data.
"""

from __future__ import annotations

from .event import Event
from .registry import add_global_sink_factory, flush_all, remove_global_sink_factory
from .sink import RetryLater, Sink
from .target import HasTarget, RunTarget
from .writer import Pipeline

__all__ = [
    "Event",
    "HasTarget",
    "Pipeline",
    "RetryLater",
    "RunTarget",
    "Sink",
    "add_global_sink_factory",
    "flush_all",
    "remove_global_sink_factory",
]
