"""Workspace and Experiment: where runs are kept, and the named groups they belong to."""

from __future__ import annotations

import os
from typing import Iterator

from . import _config
from ._errors import ExperimentNotFoundError
from ._types import ExperimentInfo, RunInfo
from ._values import check_name
from .engine import Engine, engine_for
from .pipeline import current
from .run import Run
from .store import Store, is_pending_experiment, redact_uri

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


class Workspace:
    """Where runs live: a folder (``./.tracklog`` by default) holding a SQLite store.

    ``Workspace()`` opens the location given by ``set_tracking_uri``, else the
    ``TRACKLOG_WORKSPACE`` environment variable, else ``./.tracklog``.
    ``location`` is what is shown: a server URL without the credentials written in it.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        self._uri = _resolve(path)  # as given, credentials included: never shown
        self.location = redact_uri(self._uri)
        self.engine: Engine = engine_for(self._uri, create)

    @property
    def store(self) -> Store:
        return self.engine.store

    @property
    def path(self) -> str:
        """The workspace folder (or URI for a remote store)."""
        return self.location

    def child_location(self) -> str:
        """The location as given, credentials included: for a child process's environment
        (``tracklog run``), never to be shown or logged."""
        return self._uri

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
        info = self.store.get_run(run_id)
        return Run._from_info(self, info)

    def get_runs(self) -> Iterator[Run]:
        """Every run in the workspace, newest first."""
        for info in self.store.search_runs():
            yield Run._from_info(self, info)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything logged so far is in the store."""
        self.engine.flush(timeout)

    def experiment_of(self, info: RunInfo) -> Experiment:
        """The experiment a stored run belongs to, without asking the store again."""
        return Experiment(
            self, info.experiment_name, _info=ExperimentInfo(info.experiment_id, info.experiment_name, 0.0)
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other._uri == self._uri

    def __hash__(self) -> int:
        return hash(self._uri)

    def __repr__(self) -> str:
        return f"Workspace({self.location!r})"


class Experiment:
    """A named group of runs, created on first use (Azure ML's ``Experiment(ws, name)``)."""

    def __init__(self, workspace: Workspace, name: str, *, _info: ExperimentInfo | None = None) -> None:
        self.workspace = workspace
        self.name = check_name(name, "experiment")
        self._info = _info or workspace.store.get_or_create_experiment(self.name)

    @property
    def id(self) -> str:
        """The experiment's id. On a remote store an experiment this process has not seen
        on the server yet reads ``pending:<name>`` until the sender has found or created it."""
        if is_pending_experiment(self._info.experiment_id):
            self._info = self.workspace.store.get_or_create_experiment(self.name)  # no request
        return self._info.experiment_id

    def start_logging(
        self,
        name: str | None = None,
        *,
        display_name: str | None = None,
        tags: dict[str, object] | None = None,
    ) -> Run:
        """Start a run in this experiment and make it the current run until it ends."""
        return Run._start(self, display_name or name, tags=tags)

    def get_runs(self) -> Iterator[Run]:
        """This experiment's runs, newest first (child runs included)."""
        for info in self.workspace.store.search_runs(experiment_id=self.id):
            yield Run._from_info(self.workspace, info, experiment=self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Experiment) and (other.workspace, other.name) == (self.workspace, self.name)

    def __hash__(self) -> int:
        return hash((self.workspace, self.name))

    def __repr__(self) -> str:
        return f"Experiment({self.workspace.location!r}, {self.name!r})"


def _open_env_run(run_id: str, location: str | None) -> Run:
    workspace = Workspace(location)
    return Run._from_info(workspace, workspace.store.open_env_run(run_id))


def _start_auto_run(experiment: str) -> Run:
    return Experiment(Workspace(), experiment).start_logging(current.script_name(), tags=None)


# The pipeline's current-run registry opens and starts runs through these.
current.set_openers(_open_env_run, _start_auto_run)
