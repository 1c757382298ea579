"""Workspace and Experiment: where runs are kept, and the named groups they belong to."""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Iterator

from . import _config
from ._errors import ExperimentNotFoundError
from ._types import ExperimentInfo, RunInfo
from .pipeline import Pipeline
from .store import Store, open_store

if TYPE_CHECKING:
    from .run import Run

__all__ = ["Experiment", "Workspace"]

_default_location: str | None = None


def set_default_location(location: str | None) -> None:
    """Make ``location`` what ``Workspace()`` opens (``set_tracking_uri`` uses this)."""
    global _default_location
    _default_location = location


def _resolve(location: str | os.PathLike[str] | None) -> str:
    raw = _config.workspace_location(location if location is not None else _default_location)
    if "://" in raw or raw.startswith(("file:", "sqlite:")):
        return raw
    return os.path.abspath(raw)


class _RunState:
    """What this process knows about one live run: its step counters and whether it ended."""

    __slots__ = ("run_id", "steps", "closed", "owned", "auto", "row_columns")

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.steps: dict[str, int] = {}
        self.closed = False
        self.owned = False
        self.auto = False
        self.row_columns: dict[str, list[str]] = {}

    def step_for(self, name: str, step: int | None) -> int:
        """``step`` when given (and remember it), else the next step for ``name``."""
        steps = self.steps
        if step is None:
            step = steps.get(name, 0)
            steps[name] = step + 1
        elif step >= steps.get(name, 0):
            steps[name] = step + 1
        return step


class _Core:
    """One per workspace location per process: the store, the pipeline, live run states."""

    def __init__(self, location: str, store: Store) -> None:
        self.location = location
        self.store = store
        self.states: dict[str, _RunState] = {}
        self._lock = threading.Lock()
        self._pipeline: Pipeline | None = None

    @property
    def pipeline(self) -> Pipeline:
        pipeline = self._pipeline
        if pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    self._pipeline = Pipeline([_StoreSink(self.store)], on_tick=self._tick)
                pipeline = self._pipeline
        return pipeline

    def has_pipeline(self) -> bool:
        return self._pipeline is not None

    def state(self, run_id: str) -> _RunState:
        state = self.states.get(run_id)
        if state is None:
            with self._lock:
                state = self.states.setdefault(run_id, _RunState(run_id))
        return state

    def _tick(self) -> None:
        owned = [s.run_id for s in list(self.states.values()) if s.owned and not s.closed]
        if owned:
            self.store.heartbeat(owned, time.time())

    def flush(self, timeout: float | None = None) -> None:
        if self._pipeline is not None:
            self._pipeline.flush(timeout)


class _StoreSink:
    """The pipeline sink that writes batches into the run store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.takes_tuples = getattr(store, "takes_tuples", False)

    def write(self, events: list) -> None:  # type: ignore[type-arg]
        self.store.write_batch(events)

    def flush(self) -> None:
        self.store.flush()

    def close(self) -> None:
        """The store outlives the pipeline; nothing to close here."""

    def __repr__(self) -> str:
        return f"<run store {self.store.location}>"


_cores: dict[str, _Core] = {}
_cores_lock = threading.Lock()


def _core(location: str, create: bool) -> _Core:
    core = _cores.get(location)
    if core is None:
        with _cores_lock:
            core = _cores.get(location)
            if core is None:
                core = _cores[location] = _Core(location, open_store(location, create=create))
    return core


def _all_cores() -> list[_Core]:
    return list(_cores.values())


def _after_fork_in_child() -> None:
    global _cores_lock
    _cores_lock = threading.Lock()
    for core in _cores.values():
        core._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Workspace:
    """Where runs live: a folder (``./.tracklog`` by default) holding a SQLite store.

    ``Workspace()`` opens the location given by ``set_tracking_uri``, else the
    ``TRACKLOG_WORKSPACE`` environment variable, else ``./.tracklog``.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        self.location = _resolve(path)
        self._core = _core(self.location, create)

    @property
    def store(self) -> Store:
        return self._core.store

    @property
    def path(self) -> str:
        """The workspace folder (or URI for a remote store)."""
        return self.location

    def experiment(self, name: str) -> Experiment:
        """The experiment called ``name``, created when missing."""
        return Experiment(self, name)

    def get_experiment(self, name: str) -> Experiment:
        """The existing experiment called ``name``; ExperimentNotFoundError otherwise."""
        info = self.store.get_experiment(name)
        if info is None:
            raise ExperimentNotFoundError(f"no experiment {name!r} in workspace {self.location}")
        return Experiment(self, name, _info=info)

    @property
    def experiments(self) -> dict[str, Experiment]:
        """Every experiment by name (Azure ML's ``ws.experiments``)."""
        return {i.name: Experiment(self, i.name, _info=i) for i in self.store.list_experiments()}

    def get_run(self, run_id: str) -> Run:
        """The run with this id (or unique prefix); RunNotFoundError when there is none."""
        from .run import Run

        info = self.store.get_run(run_id)
        return Run._from_info(self, info)

    def get_runs(self) -> Iterator[Run]:
        """Every run in the workspace, newest first."""
        from .run import Run

        for info in self.store.search_runs():
            yield Run._from_info(self, info)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything logged so far is in the store."""
        self._core.flush(timeout)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other.location == self.location

    def __hash__(self) -> int:
        return hash(self.location)

    def __repr__(self) -> str:
        return f"Workspace({self.location!r})"


class Experiment:
    """A named group of runs, created on first use (Azure ML's ``Experiment(ws, name)``)."""

    def __init__(self, workspace: Workspace, name: str, *, _info: ExperimentInfo | None = None) -> None:
        from ._values import check_name

        self.workspace = workspace
        self.name = check_name(name, "experiment")
        self._info = _info or workspace.store.get_or_create_experiment(self.name)

    @property
    def id(self) -> str:
        return self._info.experiment_id

    def start_logging(
        self,
        name: str | None = None,
        *,
        display_name: str | None = None,
        tags: dict[str, object] | None = None,
    ) -> Run:
        """Start a run in this experiment and make it the current run until it ends."""
        from .run import Run

        return Run._start(self, display_name or name, tags=tags)

    def get_runs(self) -> Iterator[Run]:
        """This experiment's runs, newest first (child runs included)."""
        from .run import Run

        for info in self.workspace.store.search_runs(experiment_id=self.id):
            yield Run._from_info(self.workspace, info, experiment=self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Experiment) and (other.workspace, other.name) == (self.workspace, self.name)

    def __hash__(self) -> int:
        return hash((self.workspace, self.name))

    def __repr__(self) -> str:
        return f"Experiment({self.workspace.location!r}, {self.name!r})"


def _run_info_to_experiment(workspace: Workspace, info: RunInfo) -> Experiment:
    return Experiment(
        workspace,
        info.experiment_name,
        _info=ExperimentInfo(info.experiment_id, info.experiment_name, 0.0),
    )
