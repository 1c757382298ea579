"""The live pipelines of this process, the sink factories every one of them gets, flush_all.

OTLP routing adds a sink factory here, so one call covers every workspace of the
process; atexit and ``logging.shutdown`` flush through :func:`flush_all`.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from .sink import Sink
    from .target import RunTarget
    from .writer import Pipeline

__all__ = ["RunLookup", "SinkFactory", "run_lookup", "set_run_lookup", "add_global_sink_factory", "flush_all", "live_pipelines", "remove_global_sink_factory"]

#: Given a pipeline, the sink it should also write to (None: none).
SinkFactory = Callable[["Pipeline"], "Sink | None"]

_pipelines: weakref.WeakSet[Pipeline] = weakref.WeakSet()
_factories: list[SinkFactory] = []
_lock = threading.Lock()


class RunLookup(Protocol):
    """What a sink may ask about a run it sees events of (the engine answers)."""

    def target_of(self, run_id: str) -> RunTarget | None:
        """The run's target in this process, to put events for it (None: not here)."""

    def describe(self, run_id: str) -> tuple[str, str] | None:
        """The run's experiment name and run name, or None when unknown."""


_lookup: RunLookup | None = None


def set_run_lookup(lookup: RunLookup) -> None:
    """Install the answer to :class:`RunLookup` questions (the engine does, once)."""
    global _lookup
    _lookup = lookup


def run_lookup() -> RunLookup | None:
    """The installed :class:`RunLookup`, or None before any engine exists."""
    return _lookup


def register(pipeline: Pipeline) -> list[SinkFactory]:
    """Remember a new pipeline; the factories it must attach now."""
    with _lock:
        _pipelines.add(pipeline)
        return list(_factories)


def live_pipelines() -> list[Pipeline]:
    """Every pipeline of this process that is still referenced."""
    with _lock:
        return list(_pipelines)


def add_global_sink_factory(factory: SinkFactory) -> None:
    """Give every live and future pipeline the sink ``factory(pipeline)`` returns."""
    with _lock:
        if factory not in _factories:
            _factories.append(factory)
        pipelines = list(_pipelines)
    for pipeline in pipelines:
        pipeline.attach(factory)


def remove_global_sink_factory(factory: SinkFactory) -> None:
    """Undo :func:`add_global_sink_factory`: its sinks leave every pipeline (not closed)."""
    with _lock:
        if factory in _factories:
            _factories.remove(factory)
        pipelines = list(_pipelines)
    for pipeline in pipelines:
        pipeline.detach(factory)


def flush_all(timeout: float | None = None) -> None:
    """Flush every live pipeline in this process."""
    for pipeline in live_pipelines():
        pipeline.flush(timeout)


def _after_fork_in_child() -> None:
    # The writer threads did not survive the fork; each pipeline starts afresh with an
    # empty queue, so the child neither replays the parent's events nor waits on a
    # dead writer. The lock may have been held by a parent thread at fork.
    global _lock
    _lock = threading.Lock()
    for pipeline in list(_pipelines):
        pipeline.reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
