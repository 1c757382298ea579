"""Workspace and Experiment: where runs are kept, and the named groups they belong to."""

from __future__ import annotations

import os
from typing import Any, Iterator

from . import _config, _diag
from ._azure_config import DEFAULT_NAME, LOCAL_REGION, AzureNames, find_config, read_config, write_config
from ._errors import ExperimentNotFoundError
from ._types import ExperimentInfo, RunInfo
from ._values import check_name
from .engine import Engine, engine_for
from .pipeline import current
from ._script_run import ScriptRunConfig, submit
from .run import Run
from .store import Store, is_pending_experiment, redact_uri

__all__ = ["Experiment", "Workspace"]

_default_location: str | None = None


def set_default_location(location: str | None) -> None:
    """Make ``location`` what ``Workspace()`` opens (``set_tracking_uri`` uses this)."""
    global _default_location
    _default_location = location


def resolved_location(location: str | os.PathLike[str] | None) -> str:
    """The absolute folder or the URL that ``Workspace(location)`` opens now."""
    raw = _config.workspace_location(location if location is not None else _default_location)
    if raw == _config.DEFAULT_WORKSPACE and location is None and _default_location is None:
        _warn_if_mlflow_uri_ignored()
    if raw.startswith(_config.SCHEME):  # tracklog:PATH, tracklog:///abs/path, bare tracklog:
        raw = _config.scheme_path(raw) or _config.env(_config.ENV_WORKSPACE) or _config.DEFAULT_WORKSPACE
    if "://" in raw or raw.startswith(("file:", "sqlite:")):
        return raw
    return os.path.abspath(raw)


def _warn_if_mlflow_uri_ignored() -> None:
    """Runs go to ./.tracklog although MLFLOW_TRACKING_URI names another place: say so once."""
    uri = _config.ignored_mlflow_uri()
    if uri is not None:
        _diag.warn_once(
            ("ignored-mlflow-uri", uri),
            "tracklog: MLFLOW_TRACKING_URI=%s names one of MLflow's own stores, which tracklog "
            "does not write; runs go to %s. Set MLFLOW_TRACKING_URI=tracklog:PATH (or "
            "TRACKLOG_WORKSPACE=PATH) to choose the workspace, or an http(s):// MLflow server",
            redact_uri(uri), os.path.abspath(_config.DEFAULT_WORKSPACE),
        )


class Workspace:
    """Where runs live: a folder (``./.tracklog`` by default) holding a SQLite store.

    ``Workspace()`` opens the location given by ``set_tracking_uri``, else the
    ``TRACKLOG_WORKSPACE`` environment variable, else ``./.tracklog``;
    ``Workspace(path)`` opens that folder (or MLflow server URL).
    Azure ML's ``Workspace(subscription_id, resource_group, workspace_name)``,
    ``Workspace.get(name)`` and ``Workspace.from_config()`` open a local workspace
    that keeps those names (see docs/azure.md). ``path`` is what is shown: the folder,
    or a server URL without the credentials written in it; ``location`` is Azure's
    region ("local" unless the config names one).
    """

    def __init__(
        self,
        subscription_id: str | os.PathLike[str] | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        auth: object = None,
        _location: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        create: bool = True,
        _names: AzureNames | None = None,
    ) -> None:
        if _names is None and resource_group is None and workspace_name is None:
            path, subscription_id = (subscription_id if path is None else path), None
        names = _names or AzureNames(
            subscription_id=None if subscription_id is None else os.fspath(subscription_id),
            resource_group=resource_group,
            workspace_name=workspace_name,
            region=_location or LOCAL_REGION,
        )
        if path is None:
            path = names.folder
        self._names = names
        self._uri = resolved_location(path)  # as given, credentials included: never shown
        self._shown = redact_uri(self._uri)
        self.engine: Engine = engine_for(self._uri, create)

    # -- Azure ML's ways in ---------------------------------------------------------

    @classmethod
    def from_config(
        cls, path: str | os.PathLike[str] | None = None, auth: object = None, _logger: object = None,
        _file_name: str | None = None,
    ) -> Workspace:
        """The workspace an Azure ``config.json`` names (here, ``.azureml/`` or a parent
        folder), kept locally; with no config file, the default local workspace."""
        file = find_config(path, _file_name)
        if file is None:
            return cls()
        return cls(_names=read_config(file))

    @classmethod
    def get(
        cls,
        name: str,
        auth: object = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        location: str | None = None,
        **_ignored: object,
    ) -> Workspace:
        """Azure's ``Workspace.get(name, ...)``: the local workspace keeping these names."""
        return cls(subscription_id, resource_group, name, _location=location)

    create = get  # Azure's Workspace.create(name, ..., exist_ok=True): nothing to provision locally

    @property
    def name(self) -> str:
        """The Azure workspace name, or "local"."""
        return self._names.workspace_name or DEFAULT_NAME

    @property
    def subscription_id(self) -> str | None:
        return self._names.subscription_id

    @property
    def resource_group(self) -> str | None:
        return self._names.resource_group

    @property
    def location(self) -> str:
        """Azure's meaning: the region ("local" here unless the config names one); the
        folder is ``path``."""
        return self._names.region

    def get_details(self) -> dict[str, Any]:
        """Azure's workspace details: id, name, location, subscription, resource group, folder."""
        names = self._names
        return {
            "id": (
                f"/subscriptions/{names.subscription_id}/resourceGroups/{names.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}"
            ),
            "name": self.name,
            "friendlyName": self.name,
            "location": self.location,
            "subscriptionId": names.subscription_id,
            "resourceGroup": names.resource_group,
            "workspaceFolder": self.path,
            "mlFlowTrackingUri": self.get_mlflow_tracking_uri(),
            "configFile": names.config_file,
        }

    def write_config(self, path: str | None = None, file_name: str | None = None) -> str:
        """Write Azure's ``.azureml/config.json`` (with this folder as ``tracklog_workspace``)."""
        return write_config(self._names, self.path, path, file_name)

    def get_mlflow_tracking_uri(self) -> str:
        """The ``tracklog:`` URI of this workspace, for ``mlflow.set_tracking_uri``."""
        if "://" in self._shown:
            return self._shown  # an MLflow server: MLflow speaks to it itself
        return _config.SCHEME + self._shown

    # -- where ------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self.engine.store

    @property
    def path(self) -> str:
        """The workspace folder, or a server URL without its credentials: what is shown."""
        return self._shown

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
            raise ExperimentNotFoundError(f"no experiment {name!r} in workspace {self.path}")
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
        return f"Workspace({self.path!r})"


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
        outputs: str | os.PathLike[str] | None = "./outputs",
        snapshot_directory: str | os.PathLike[str] | None = None,
        **_ignored: object,
    ) -> Run:
        """Start a run in this experiment and make it the current run until it ends.

        As Azure ML's: ``outputs`` (./outputs; None or False for none) is created and what
        is new or changed in it is collected into the run when it ends;
        ``snapshot_directory`` is copied into the run (``snapshot/``, see _snapshot.py).
        """
        return Run._start(
            self, display_name or name, tags=tags, outputs=outputs or None,
            snapshot_directory=snapshot_directory,
        )

    def submit(self, config: ScriptRunConfig, tags: dict[str, object] | None = None, **_ignored: object) -> Run:
        """Run a ScriptRunConfig's script in a child process, as ``tracklog run`` does;
        returns its run at once (``wait_for_completion`` waits for it)."""
        return submit(self, config, tags)

    def get_runs(
        self,
        type: str | None = None,
        tags: str | dict[str, object] | list[str] | None = None,
        properties: str | dict[str, object] | list[str] | None = None,
        include_children: bool = False,
    ) -> Iterator[Run]:
        """This experiment's runs, newest first; child runs only with ``include_children``
        (Azure's default); filtered by run type, tags and properties."""
        return Run.list(self, type=type, tags=tags, properties=properties, include_children=include_children)

    @classmethod
    def list(cls, workspace: Workspace, experiment_name: str | None = None, **_ignored: object) -> list[Experiment]:
        """Azure's ``Experiment.list(ws)``: every experiment (or the one called ``experiment_name``)."""
        found = [Experiment(workspace, i.name, _info=i) for i in workspace.store.list_experiments()]
        return [e for e in found if experiment_name is None or e.name == experiment_name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Experiment) and (other.workspace, other.name) == (self.workspace, self.name)

    def __hash__(self) -> int:
        return hash((self.workspace, self.name))

    def __repr__(self) -> str:
        return f"Experiment({self.workspace.path!r}, {self.name!r})"


def _open_env_run(run_id: str, location: str | None) -> Run:
    workspace = Workspace(location)
    return Run._of_environment(workspace, workspace.store.open_env_run(run_id))


def _start_auto_run(experiment: str) -> Run:
    return Experiment(Workspace(), experiment).start_logging(current.script_name(), tags=None, outputs=None)


def _export_run(run: object) -> None:
    """Tell the processes started from now on to log into ``run`` (None, or a run that is
    not a workspace's: into what this process was told itself)."""
    if isinstance(run, Run):
        _config.export_run(run.id, run.workspace.child_location())
    else:
        _config.export_run(None, None)


# The pipeline's current-run registry opens and starts runs, and tells child processes
# about the current one, through these.
current.set_openers(_open_env_run, _start_auto_run)
current.set_export(_export_run)
