"""The engine room: one Engine per workspace location per process joins a store to
its pipeline, keeps the live runs' targets, beats their hearts, and opens OTLP
routing from the environment once, before the process's first writer starts.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Sequence

from . import _diag, _lifecycle, exporters
from ._types import CANCELED, COMPLETED, FAILED
from .pipeline import Pipeline, RunTarget, flush_all
from .pipeline.registry import set_run_lookup
from .store import Store, open_store

__all__ = ["Engine", "engine_for", "live_engines", "never_route_from_env"]


class StoreSink:
    """The pipeline sink that writes batches into the run store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.takes_tuples = getattr(store, "takes_tuples", False)

    def write(self, events: Sequence) -> None:  # type: ignore[type-arg]
        self.store.write_batch(events)

    def flush(self) -> None:
        self.store.flush()

    def close(self) -> None:
        """The store outlives the pipeline; nothing to close here."""

    def __repr__(self) -> str:
        return f"<run store {self.store.location}>"


class Engine:
    """A workspace's store, its pipeline, and the targets of the runs this process knows."""

    def __init__(self, location: str, store: Store) -> None:
        self.location = location
        self.store = store
        self.targets: dict[str, RunTarget] = {}
        self._lock = threading.Lock()
        self.pipeline = Pipeline([StoreSink(store)], on_tick=self._tick, on_start=_route_from_env_once)

    def target(self, run_id: str) -> RunTarget:
        """The target of ``run_id`` in this process (one per run, made on first ask)."""
        target = self.targets.get(run_id)
        if target is None:
            with self._lock:
                target = self.targets.setdefault(run_id, RunTarget(run_id, self.pipeline))
        return target

    def knows(self, run_id: str) -> bool:
        """Whether this process has a target for ``run_id`` (it logged into the run)."""
        return run_id in self.targets

    def _tick(self) -> None:
        targets = list(self.targets.values())
        owned = [t.run_id for t in targets if t.owned and not t.closed]
        if owned:
            self.store.heartbeat(owned, time.time())
        for target in targets:
            if target.watched and not target.closed and not target.owned:
                self._close_if_ended(target)

    def _close_if_ended(self, target: RunTarget) -> None:
        """Close a watched run here once its owner ended it, so every source refuses its
        later run data as for any ended run. A run read as Crashed is not closed: that status
        is inferred (its owner stopped beating, maybe only paused), not one its owner set."""
        try:
            status = self.store.get_run(target.run_id).status
        except Exception:
            _diag.logger.debug("tracklog: cannot read the status of run %s", target.run_id, exc_info=True)
            return
        if status in ENDED_BY_OWNER:
            target.closed = True

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything put so far is in the store."""
        self.pipeline.flush(timeout)

    def reset_after_fork(self) -> None:
        self._lock = threading.Lock()


#: The statuses a run's owner sets when it ends it (Crashed is inferred by readers).
ENDED_BY_OWNER = frozenset({COMPLETED, FAILED, CANCELED})

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
_env_checked = False


def engine_for(location: str, create: bool = True) -> Engine:
    """The engine of a workspace location, opening its store on first use."""
    engine = _engines.get(location)
    if engine is None:
        with _engines_lock:
            engine = _engines.get(location)
            if engine is None:
                engine = _engines[location] = Engine(location, open_store(location, create=create))
                if engine.store.close_at_exit:
                    _lifecycle.at_exit(_lifecycle.CLOSE, engine.store.close)
    return engine


def live_engines() -> list[Engine]:
    """Every engine of this process."""
    return list(_engines.values())


def forget_engines() -> None:
    """Drop every engine (tests use this after closing them)."""
    _engines.clear()


def engine_of_run(run_id: str) -> Engine | None:
    """The engine whose pipeline carries ``run_id`` in this process, if any."""
    for engine in live_engines():
        if engine.knows(run_id):
            return engine
    return None


class _Lookup:
    """Answers the sinks' questions about runs from the engines of this process."""

    def target_of(self, run_id: str) -> RunTarget | None:
        engine = engine_of_run(run_id)
        return None if engine is None else engine.target(run_id)

    def describe(self, run_id: str) -> tuple[str, str] | None:
        engine = engine_of_run(run_id)
        if engine is None:
            return None
        info = engine.store.get_run(run_id)
        return info.experiment_name, info.name


def never_route_from_env() -> None:
    """Leave ``TRACKLOG_OTLP`` unread in this process, for an OTLP receiver's own process:
    what it takes in must not go out again by the environment (with the default endpoint,
    that is its own port, and every record would come back, forever). Call it before the
    first writer starts; an explicit ``route_to_otlp`` is still the caller's to make."""
    global _env_checked
    _env_checked = True


def _route_from_env_once() -> None:
    # TRACKLOG_OTLP=1 turns OTLP routing on in any process, with no code change:
    # checked once, just before the process's first writer thread starts. The
    # OpenTelemetry SDK is imported (through exporters.route_from_env) only then.
    global _env_checked
    if not _env_checked:
        _env_checked = True
        if exporters.otlp_requested():
            try:
                exporters.route_from_env()
            except Exception as exc:  # the SDK failed to import: runs go on, unrouted
                _diag.logger.warning("tracklog: TRACKLOG_OTLP=1 but OTLP routing could not start: %s", exc)


def _after_fork_in_child() -> None:
    global _engines_lock
    _engines_lock = threading.Lock()
    for engine in _engines.values():
        engine.reset_after_fork()


set_run_lookup(_Lookup())
_lifecycle.at_exit(_lifecycle.FLUSH, lambda: flush_all(timeout=30.0))
_lifecycle.flush_on_termination(flush_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
