"""MlflowClient for ``import tracklog as mlflow``: MLflow's lower-level tracking calls over a workspace.

Writes go the way every tracklog write goes: metrics and tags are events on the
run's pipeline (enqueued, never waited on); params, files and status act at
once. Every read flushes first, so it sees what this process logged.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
import os
import posixpath
import re
import shutil
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

from . import _config, _diag
from . import _mlflow_validation as checks
from ._errors import (
    ExperimentNotFoundError,
    InvalidNameError,
    ParamConflictError,
    RunNotFoundError,
    TracklogError,
    WorkspaceError,
)
from ._mlflow_artifacts import dict_bytes, figure_bytes, image_bytes, table_bytes
from ._mlflow_entities import (
    BAD_REQUEST,
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    LOGGED_ARTIFACTS_TAG,
    PARENT_TAG,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    RUN_NAME_TAG,
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    MlflowRequestError,
    PagedList,
    Run,
    ViewType,
    end_status,
    experiment_entity,
    metric_entity,
    run_entity,
)
from ._mlflow_names import new_run_name
from ._mlflow_search import experiment_row, filter_rows, order_rows, run_row
from ._paths import check_file_name, copy_source, folder_files, join_inside
from ._types import COMPLETED, FAILED, NO_OWNER, ExperimentInfo
from ._types import RunInfo as StoredRun
from ._values import (
    UNCONVERTIBLE,
    check_name,
    mlflow_text,
    point_step,
    point_value,
    setting_value,
)
from .pipeline import current
from .pipeline.event import IMAGE, LIST, METRIC, PARAM, TAG, Event
from .store import (
    PENDING_EXPERIMENT,
    ExperimentExistsError,
    ModelNotFoundError,
    PropertyConflictError,
    SQLiteStore,
    is_pending_experiment,
)
from .workspace import Workspace

__all__ = ["MlflowClient", "metric_event", "mlflow_codes", "tracking_location", "unrecorded"]

#: MLflow's id of its default experiment; here, the experiment called "Default".
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = _config.DEFAULT_EXPERIMENT
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_IMAGE_KEY = re.compile(r"^[a-zA-Z0-9_\-./ ]+$")


#: The code MLflow gives where tracklog raises one of its own errors (first match wins);
#: any other TracklogError is MLflow's default, INTERNAL_ERROR.
_CODES: tuple[tuple[type[Exception], str], ...] = (
    (RunNotFoundError, RESOURCE_DOES_NOT_EXIST),
    (ExperimentNotFoundError, RESOURCE_DOES_NOT_EXIST),
    (ModelNotFoundError, RESOURCE_DOES_NOT_EXIST),
    (ExperimentExistsError, RESOURCE_ALREADY_EXISTS),
    (ParamConflictError, INVALID_PARAMETER_VALUE),
    (PropertyConflictError, INVALID_PARAMETER_VALUE),
    (InvalidNameError, INVALID_PARAMETER_VALUE),
    (WorkspaceError, INVALID_PARAMETER_VALUE),
)

_F = TypeVar("_F", bound=Callable[..., Any])


def mlflow_codes(function: _F) -> _F:
    """``function`` raising every TracklogError with MLflow's ``error_code`` and ``message``
    on it, as MlflowException carries them; the error keeps its own type (ParamConflictError,
    RunNotFoundError, ...), so ``except tracklog.ParamConflictError`` still catches it."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except TracklogError as exc:
            give_mlflow_code(exc)
            raise

    return call  # type: ignore[return-value]


def give_mlflow_code(exc: TracklogError) -> None:
    """Set MLflow's ``error_code`` and ``message`` on ``exc`` (once). The hot logging calls
    use it inside their own ``try`` (free until something raises) instead of
    :func:`mlflow_codes`, whose wrapper would cost each call about as much as the call."""
    if not hasattr(exc, "error_code"):
        exc.error_code = next((c for kind, c in _CODES if isinstance(exc, kind)), INTERNAL_ERROR)  # type: ignore[attr-defined]
        exc.message = str(exc)  # type: ignore[attr-defined]


def tracking_location(uri: str | os.PathLike[str] | None) -> str | None:
    """The workspace a tracking URI names: a folder, ``tracklog:PATH`` (bare ``tracklog:``:
    the default workspace, None), or an MLflow server's ``http(s)://`` URL.

    MLflow's own backends (``file:``, ``sqlite:``, ``databricks``, ``postgresql:``, ...)
    are refused with a WorkspaceError: tracklog writes none of them, and turning one
    into a local folder would hide your runs where MLflow would not look.
    """
    if uri is None:
        return None
    text = os.fspath(uri)
    if text.startswith(("http://", "https://")):
        return text
    if text.startswith(_config.SCHEME):
        return _config.scheme_path(text) or None
    scheme = _SCHEME.match(text)
    if text.split(":")[0].split("-")[0] == "databricks" or (scheme and len(scheme.group(1)) > 1):
        name = scheme.group(1) if scheme else text
        raise WorkspaceError(
            f"tracking URI {text!r}: {name!r} is one of MLflow's own backends, which "
            "`import tracklog as mlflow` does not write. Give a workspace folder ('./.tracklog'), "
            "'tracklog:PATH', or an MLflow server's http(s):// URL; or keep the real mlflow "
            "(`import mlflow`) for that backend, and set MLFLOW_TRACKING_URI=tracklog:PATH to log "
            "into a tracklog workspace"
        )
    return text


def metric_number(value: str, timestamp_ms: int | None, path: str = "value") -> float:
    """A metric value given as text, as MLflow's client takes it: ``float(value)`` ("0.25",
    "1e3", "nan"); other text is MLflow's INVALID_PARAMETER_VALUE, with MLflow's message."""
    try:
        return float(value)
    except ValueError:
        ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
        raise MlflowRequestError(
            f"Invalid value {json.dumps(value)} for parameter '{path}' supplied: (timestamp={ts}). "
            "Please specify value as a valid double (64-bit floating point)"
        ) from None


def metric_event(
    run_id: str, key: str, value: Any, step: int | None, timestamp_ms: int | None, path: str = "value"
) -> tuple | None:  # type: ignore[type-arg]
    """One metric point as MLflow logs it (step 0 when none is given; time in ms; text made a
    number, see ``metric_number``), as the pipeline's plain-tuple event, or None when the
    value cannot be stored (one warning)."""
    name = check_name(key)
    if type(value) is str:
        value = metric_number(value, timestamp_ms, path)
    converted = point_value(name, value)
    if converted is UNCONVERTIBLE:
        return None
    if step is None or type(step) is not int:
        step = 0 if step is None else (point_step(step) or 0)
    ts = time.time() if timestamp_ms is None else timestamp_ms / 1000.0
    return (run_id, METRIC, name, converted, step, ts, 0, "", "", None)


def unrecorded(call: str, **links: Any) -> None:
    """Warn once that a logging call's link to a logged model or dataset is not kept (the
    point itself is): the swap has no logged models or datasets (docs/mlflow_swap.md)."""
    given = sorted(name for name, value in links.items() if value is not None)
    if given:
        _diag.warn_once(
            ("mlflow-swap-links", call, tuple(given)),
            "%s(%s=...): `import tracklog as mlflow` keeps the point but not its link to a logged model "
            "or dataset; use the real mlflow with MLFLOW_TRACKING_URI=tracklog: for those",
            call, "=..., ".join(given),
        )


def _local_folder(location: str) -> str | None:
    """The local folder an artifact location names (a path or a ``file:`` URI), else None."""
    scheme = _SCHEME.match(location)
    if scheme is None or len(scheme.group(1)) == 1:  # a path (C: is a drive, not a scheme)
        return location
    if scheme.group(1).lower() == "file":
        return urllib.request.url2pathname(urllib.parse.urlparse(location).path)
    return None


def _resolved_location(location: str | None) -> str | None:
    """A relative local artifact location made absolute, as MLflow's stores keep it."""
    if not location:
        return None
    local = _local_folder(location)
    if local is None or os.path.isabs(local):
        return location
    if location.lower().startswith("file:"):
        return Path(os.path.abspath(local)).as_uri()
    return os.path.abspath(local)


class _Folder:
    """A run's artifacts in a folder of their own (its experiment's ``artifact_location``),
    with the three file calls of a store."""

    def __init__(self, root: str) -> None:
        self.root = root

    def put_file(self, run_id: str, name: str, source: str | IO[bytes]) -> None:
        dest = join_inside(self.root, name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        copy_source(source, dest)

    def list_files(self, run_id: str) -> list[str]:
        names = []
        for folder, _dirs, files in os.walk(self.root):
            for file in files:
                names.append(os.path.relpath(os.path.join(folder, file), self.root).replace(os.sep, "/"))
        return sorted(names)

    def open_file(self, run_id: str, name: str) -> IO[bytes]:
        path = join_inside(self.root, name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"run {run_id} has no artifact {name!r} in {self.root}")
        return open(path, "rb")


def _own_location(store: SQLiteStore, run_id: str, experiment_id: str | None = None) -> str | None:
    """The local artifact_location the run's experiment was created with, or None (the run's
    files are then its artifacts). A non-local one (``s3://...``) is only read back."""
    if experiment_id is None:
        try:
            experiment_id = store.get_run(run_id).experiment_id
        except RunNotFoundError:
            return None
    record = store.experiment_record(experiment_id)
    location = record.artifact_location if record is not None else None
    return location if location and _local_folder(location) is not None else None


def _check_metric(key: Any, value: Any, timestamp_ms: Any, step: Any, path: str) -> None:
    """MLflow's checks of one metric point, in its order: name, value, timestamp, step."""
    checks.metric_name(key, path)
    if type(value) is str:
        value = metric_number(value, timestamp_ms, f"{path}.value" if path else "value")
    checks.metric_point(key, value, timestamp_ms, step, path)


def _metric_parts(item: Any) -> tuple[Any, Any, Any, Any]:
    """A Metric entity or ``(key, value[, timestamp_ms, step])`` tuple as its four parts."""
    if isinstance(item, Metric) or hasattr(item, "timestamp"):
        return item.key, item.value, item.timestamp, getattr(item, "step", 0)
    parts = list(item) + [None, None]
    return parts[0], parts[1], parts[2], parts[3]


def _key_value(item: Any, what: str) -> tuple[str, Any]:
    if hasattr(item, "key") and hasattr(item, "value"):
        return item.key, item.value
    if isinstance(item, (tuple, list)) and len(item) >= 2:
        return item[0], item[1]
    raise TypeError(f"log_batch: a {what} must be a {what.capitalize()} entity or a (key, value) tuple, got {item!r}")


class MlflowClient:
    """MLflow's ``MlflowClient`` over a tracklog workspace (``tracking_uri`` as set_tracking_uri takes)."""

    @mlflow_codes
    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        self._location = tracking_location(tracking_uri)
        self._fixed = tracking_uri is not None

    def __getattr__(self, name: str) -> Any:
        """MLflow's client calls beyond tracking (the model registry, traces, logged models,
        datasets...) say where they are instead of a bare AttributeError."""
        if name.startswith("_"):
            raise AttributeError(f"'MlflowClient' object has no attribute {name!r}")
        raise AttributeError(
            f"'MlflowClient' object has no attribute {name!r}: the MlflowClient of `import tracklog as "
            "mlflow` covers MLflow's tracking calls only (docs/mlflow_swap.md lists them). For "
            f"MlflowClient().{name} (the model registry, logged models, traces, ...), keep the real "
            "mlflow and let it log into tracklog: MLFLOW_TRACKING_URI=tracklog: python train.py"
        )

    # -- where ----------------------------------------------------------------------

    @property
    def workspace(self) -> Workspace:
        """The workspace written to: the one given, else the one set_tracking_uri names now."""
        return Workspace(self._location) if self._fixed else Workspace()

    @property
    def tracking_uri(self) -> str:
        return self.workspace.path

    def _flush(self, workspace: Workspace) -> None:
        workspace.flush()

    @staticmethod
    def artifact_uri(workspace: Workspace, run_id: str, experiment_id: str | None = None) -> str:
        """The run's artifact root: its folder in the workspace (beside ``logs/`` and
        ``outputs/``), as a ``file://`` URI; ``<artifact_location>/<run_id>/artifacts`` when its
        experiment was created with a local one (MLflow's layout, as on the plugin route);
        ``runs:/<id>`` on a remote store."""
        store = workspace.store
        if not isinstance(store, SQLiteStore):
            return f"runs:/{run_id}"
        location = _own_location(store, run_id, experiment_id)
        if location is not None:
            return f"{location.rstrip('/')}/{run_id}/artifacts"
        return Path(store.run_dir(run_id)).as_uri()

    def _files(self, workspace: Workspace, run_id: str) -> Any:
        """Where the run's artifacts are written and read: the store's run files, or the
        folder of its experiment's local artifact_location."""
        store = workspace.store
        location = _own_location(store, run_id) if isinstance(store, SQLiteStore) else None
        if location is None:
            return store
        folder = _local_folder(location)
        assert folder is not None
        return _Folder(os.path.join(folder, run_id, "artifacts"))

    # -- experiments ------------------------------------------------------------------

    def _experiment(self, workspace: Workspace, record: Any) -> Experiment:
        store = workspace.store
        root = Path(store.root, "runs").as_uri() if isinstance(store, SQLiteStore) else "runs:/"
        if isinstance(record, ExperimentInfo):
            return experiment_entity(record, root)
        created = int(record.created * 1000) if record.created else None
        updated = int(record.updated * 1000) if record.updated else created
        return Experiment(record.experiment_id, record.name, record.artifact_location or root,
                          record.lifecycle, dict(record.tags), created, updated)

    def _records(self, workspace: Workspace, name: str | None = None) -> list[Any]:
        return list(workspace.store.experiment_records(name))

    @mlflow_codes
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> str:
        """A new experiment's id; MlflowRequestError (RESOURCE_ALREADY_EXISTS) when the name is taken.
        A local ``artifact_location`` (a folder or ``file:`` URI) is where its runs' artifacts go,
        ``<artifact_location>/<run_id>/artifacts`` as in MLflow; any other is kept and read back."""
        workspace = self.workspace
        name = check_name(checks.experiment_name(name), "experiment")
        texts = {str(k): str(v) for k, v in (tags or {}).items()}
        for key, value in texts.items():
            checks.experiment_tag(key, value)
        if self._records(workspace, name):
            raise MlflowRequestError(f"Experiment(name={name}) already exists.", "RESOURCE_ALREADY_EXISTS")
        store = workspace.store
        location = _resolved_location(artifact_location) if isinstance(store, SQLiteStore) else artifact_location
        return str(store.create_experiment(name, location, texts).experiment_id)

    @mlflow_codes
    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id ("0": the Default experiment); MlflowRequestError when none."""
        workspace = self.workspace
        if isinstance(workspace.store, SQLiteStore) and not str(experiment_id).isdigit():
            raise MlflowRequestError(
                f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
            )
        found = self._experiment_by_id(workspace, str(experiment_id))
        if found is None:
            raise MlflowRequestError(
                f"No Experiment with id={experiment_id} exists", "RESOURCE_DOES_NOT_EXIST"
            )
        return found

    def _experiment_by_id(self, workspace: Workspace, experiment_id: str) -> Experiment | None:
        if is_pending_experiment(experiment_id):  # a remote store's: its sender creates it first
            workspace.store.flush()
            return self.get_experiment_by_name(experiment_id[len(PENDING_EXPERIMENT):])
        if experiment_id == DEFAULT_EXPERIMENT_ID and not any(
            r.experiment_id == DEFAULT_EXPERIMENT_ID for r in self._records(workspace)
        ):
            info = workspace.store.get_or_create_experiment(DEFAULT_EXPERIMENT_NAME)
            experiment_id = info.experiment_id
        for record in self._records(workspace):
            if record.experiment_id == experiment_id:
                return self._experiment(workspace, record)
        return None

    @mlflow_codes
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called ``name``, or None."""
        workspace = self.workspace
        records = self._records(workspace, name)
        return self._experiment(workspace, records[0]) if records else None

    @mlflow_codes
    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Experiments matching MLflow's filter (``name LIKE 'a%'``, ``tags.team = 'x'``), a page
        at a time as search_runs."""
        workspace = self.workspace
        store = workspace.store
        if isinstance(store, SQLiteStore) and not store.read_only:
            self._experiment_by_id(workspace, DEFAULT_EXPERIMENT_ID)  # MLflow's stores always hold it
        experiments = [self._experiment(workspace, r) for r in self._records(workspace)]
        experiments = [e for e in experiments if _view_matches(e.lifecycle_stage, view_type)]
        experiments = filter_rows(experiments, experiment_row, filter_string)
        if order_by:
            experiments = order_rows(experiments, experiment_row, order_by)
        else:
            # MLflow's order: the newest first. Its store makes Default before any other, so
            # Default is the oldest there; here it may be made later (on first use), so it is
            # put last rather than by its own creation time.
            experiments = order_rows(experiments, experiment_row, ["creation_time DESC", "experiment_id ASC"])
            experiments.sort(key=lambda e: e.experiment_id == DEFAULT_EXPERIMENT_ID)
        return _page(experiments, max_results, page_token)

    def _active_experiment(self, workspace: Workspace, experiment_id: str) -> Experiment:
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise MlflowRequestError(
                f"The experiment {experiment.experiment_id} must be in the 'active' state. "
                f"Current state is {experiment.lifecycle_stage}."
            )
        return experiment

    @mlflow_codes
    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set one tag of an (active) experiment; get_experiment(...).tags reads it back."""
        value = str(value)
        checks.experiment_tag(key, value)
        workspace = self.workspace
        experiment = self._active_experiment(workspace, str(experiment_id))
        workspace.store.set_experiment_tag(experiment.experiment_id, check_name(key, "tag"), value)

    @mlflow_codes
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an experiment; RESOURCE_DOES_NOT_EXIST when it has no such tag."""
        workspace = self.workspace
        experiment = self._active_experiment(workspace, str(experiment_id))
        if key not in experiment.tags:
            raise MlflowRequestError(
                f"No tag with name: {key} in experiment with id {experiment_id}", RESOURCE_DOES_NOT_EXIST
            )
        workspace.store.delete_experiment_tag(experiment.experiment_id, key)

    @mlflow_codes
    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an active experiment a new name, unused by any other (a deleted one included)."""
        checks.experiment_name(new_name)
        workspace = self.workspace
        experiment = self.get_experiment(str(experiment_id))
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise MlflowRequestError("Cannot rename a non-active experiment.", INVALID_STATE)
        try:
            workspace.store.rename_experiment(experiment.experiment_id, check_name(new_name, "experiment"))
        except ExperimentExistsError as taken:  # MLflow's SQL store: a UNIQUE constraint, BAD_REQUEST
            raise MlflowRequestError(str(taken), BAD_REQUEST) from None

    @mlflow_codes
    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an active experiment and its runs deleted, as MLflow does: searches leave them
        out, and restore_experiment brings them back."""
        self._set_experiment_lifecycle(str(experiment_id), LifecycleStage.ACTIVE, LifecycleStage.DELETED)

    @mlflow_codes
    def restore_experiment(self, experiment_id: str) -> None:
        """Make a deleted experiment and its runs active again."""
        self._set_experiment_lifecycle(str(experiment_id), LifecycleStage.DELETED, LifecycleStage.ACTIVE)

    def _set_experiment_lifecycle(self, experiment_id: str, was: str, becomes: str) -> None:
        workspace = self.workspace
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != was:  # MLflow's SQL store finds none in that stage
            raise MlflowRequestError(f"No Experiment with id={experiment_id} exists", RESOURCE_DOES_NOT_EXIST)
        store = workspace.store
        store.set_experiment_lifecycle(experiment.experiment_id, becomes)
        for run in store.search_runs(experiment_id=experiment.experiment_id):
            store.set_run_lifecycle(run.run_id, becomes)

    # -- runs ---------------------------------------------------------------------------

    def _stored(self, workspace: Workspace, run_id: str) -> StoredRun:
        try:
            stored = workspace.store.get_run(run_id)
        except RunNotFoundError:
            stored = None
        if stored is None or stored.run_id != run_id and stored.run_id.startswith(str(run_id)):
            # tracklog's prefix lookup is its own: MLflow wants the whole id
            raise MlflowRequestError(f"Run with id={run_id} not found", RESOURCE_DOES_NOT_EXIST)
        return stored

    def _entity(self, workspace: Workspace, stored: StoredRun) -> Run:
        store = workspace.store
        run_id = stored.run_id
        if isinstance(store, SQLiteStore):
            latest = {k: p.value for k, p in store.latest_points(run_id).items()}
        else:
            kinds = store.metric_kinds(run_id)
            latest = {k: v for k, v in store.last_values(run_id).items() if kinds.get(k) in (METRIC, LIST)}
        return run_entity(stored, self.artifact_uri(workspace, run_id, stored.experiment_id), latest,
                          store.get_params(run_id), store.get_tags(run_id))

    @mlflow_codes
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        """A new Running run (not made active: ``set_terminated`` ends it). As in MLflow it
        stays RUNNING until someone ends it, also after this process is gone: no process holds
        it (a worker that resumes it with ``start_run(run_id=...)`` does, from then on)."""
        workspace = self.workspace
        experiment = self._active_experiment(workspace, str(experiment_id))
        given = {str(k): v for k, v in (tags or {}).items()}
        name = check_name(new_run_name(run_name, given), "run")
        stored = workspace.store.create_run(experiment.experiment_id, name, owner_pid=NO_OWNER)
        values = {RUN_NAME_TAG: name, **given}
        # Unchecked, as MLflow's SQL store keeps create_run's tags.
        self._log_batch(stored.run_id, (), (), [(k, mlflow_text(v)) for k, v in values.items()])
        self._flush(workspace)
        return self._entity(workspace, self._stored(workspace, stored.run_id))

    @mlflow_codes
    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params and tags (after a flush)."""
        workspace = self.workspace
        self._flush(workspace)
        return self._entity(workspace, self._stored(workspace, run_id))

    @mlflow_codes
    def get_parent_run(self, run_id: str) -> Run | None:
        """The run whose child this one is (its ``mlflow.parentRunId`` tag), or None."""
        parent_id = self.get_run(run_id).data.tags.get(PARENT_TAG)
        return None if parent_id is None else self.get_run(parent_id)

    @mlflow_codes
    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Runs of these experiments matching MLflow's filter, newest first unless ``order_by``:
        one page of ``max_results``, its ``token`` the next page's ``page_token``."""
        workspace = self.workspace
        self._flush(workspace)
        ids = [experiment_ids] if isinstance(experiment_ids, (str, int)) else list(experiment_ids)
        runs: list[Run] = []
        for experiment_id in ids:
            experiment = self._experiment_by_id(workspace, str(experiment_id))
            if experiment is None:
                continue
            for stored in workspace.store.search_runs(experiment_id=experiment.experiment_id):
                if _view_matches(stored.lifecycle, run_view_type):
                    runs.append(self._entity(workspace, stored))
        runs.sort(key=lambda r: (r.info.start_time, r.info.run_id), reverse=True)
        runs = filter_rows(runs, run_row, filter_string)
        runs = order_rows(runs, run_row, order_by)
        return _page(runs, max_results, page_token)

    @mlflow_codes
    def set_terminated(self, run_id: str, status: str | None = None, end_time: int | None = None) -> None:
        """End a run with MLflow's status word (FINISHED by default)."""
        final = end_status(status or "FINISHED")
        for live in current.started_runs():  # a run this process started ends the way it would itself
            if live.id == run_id:
                ending = {COMPLETED: "complete", FAILED: "fail"}.get(final, "cancel")
                getattr(live, ending)()
                return
        workspace = self.workspace
        stored = self._stored(workspace, run_id)
        self._flush(workspace)
        ended = time.time() if end_time is None else end_time / 1000.0
        workspace.store.set_status(stored.run_id, final, ended, None)

    @mlflow_codes
    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        """Change a run's status or name. Made RUNNING, a run is held by no process (as one
        ``create_run`` makes), unless this process started it."""
        if status is not None:
            final = end_status(status)
            workspace = self.workspace
            ended = None if final == "Running" else time.time()
            stored_id = self._stored(workspace, run_id).run_id
            mine = any(live.id == stored_id for live in current.started_runs())
            workspace.store.set_status(stored_id, final, ended, None, owner_pid=None if mine else NO_OWNER)
        if name is not None:
            workspace = self.workspace
            self._flush(workspace)  # what was logged before the rename reaches the run first
            workspace.store.set_run_name(run_id, check_name(name, "run"))
            self.set_tag(run_id, RUN_NAME_TAG, name)

    @mlflow_codes
    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted: searches leave it out, get_run still finds it (restore_run
        brings it back)."""
        workspace = self.workspace
        stored = self._stored(workspace, run_id)
        self._flush(workspace)  # what was logged before reaches the run before it is deleted
        workspace.store.set_run_lifecycle(stored.run_id, LifecycleStage.DELETED)

    @mlflow_codes
    def restore_run(self, run_id: str) -> None:
        """Make a deleted run active again."""
        workspace = self.workspace
        workspace.store.set_run_lifecycle(self._stored(workspace, run_id).run_id, LifecycleStage.ACTIVE)

    # -- logging ------------------------------------------------------------------------

    def _put(self, workspace: Workspace, run_id: str, events: list[Any]) -> None:
        if events:
            workspace.engine.target(run_id).pipeline.put_many(events)

    @mlflow_codes
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: Any,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        model_id: str | None = None,
    ) -> None:
        """Log one metric point (step 0 when none is given; timestamp in ms). A link to a
        model or dataset is not kept (one warning)."""
        unrecorded("MlflowClient.log_metric", dataset_name=dataset_name, dataset_digest=dataset_digest,
                   model_id=model_id)
        _check_metric(key, value, timestamp, step, "")
        self._log_batch(run_id, [(key, value, timestamp, step)], (), (), single=True)

    @mlflow_codes
    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        """Set a param (ParamConflictError when it holds another value); returns ``value``."""
        try:
            param = checks.param(key, mlflow_text(value))
        except MlflowRequestError as bad:  # MLflow's client adds its advice to the store's refusal
            raise MlflowRequestError(bad.message + checks.PARAM_VALIDATION_MSG) from None
        self._log_batch(run_id, (), [param], ())
        return value

    @mlflow_codes
    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> None:
        """Set a tag (its value as text)."""
        self._log_batch(run_id, (), (), [checks.tag(key, mlflow_text(value))])

    @mlflow_codes
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag; MlflowRequestError when the run has no such tag (as MLflow)."""
        workspace = self.workspace
        stored = self._stored(workspace, run_id)
        self._flush(workspace)
        if key not in workspace.store.get_tags(stored.run_id):
            raise MlflowRequestError(f"No tag with name: {key} in run with id {run_id}", "RESOURCE_DOES_NOT_EXIST")
        workspace.store.delete_tags(stored.run_id, [key])

    @mlflow_codes
    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Any] = (),
        params: Iterable[Any] = (),
        tags: Iterable[Any] = (),
        synchronous: bool | None = None,
    ) -> None:
        """Log metrics (Metric entities or ``(key, value[, timestamp_ms, step])`` tuples),
        params and tags (entities or ``(key, value)`` tuples) in one go: checked first, as
        MLflow's store checks a batch, and nothing of it logged when one is refused."""
        metrics = [_metric_parts(item) for item in metrics]
        for index, (key, value, ts, step) in enumerate(metrics):
            _check_metric(key, value, ts, step, f"metrics[{index}]")
        params = [_key_value(item, "param") for item in params]
        tags = [_key_value(item, "tag") for item in tags]
        params, tags = checks.batch((), [(k, mlflow_text(v)) for k, v in params], [(k, mlflow_text(v)) for k, v in tags])
        self._log_batch(run_id, metrics, params, tags)

    def _log_batch(
        self, run_id: str, metrics: Sequence[tuple[Any, ...]], params: Sequence[tuple[str, Any]],
        tags: Sequence[tuple[str, Any]], single: bool = False,
    ) -> None:
        """Log what passed MLflow's checks (or create_run's tags, which MLflow does not check)."""
        workspace = self.workspace
        stored = self._stored(workspace, run_id)
        run_id = stored.run_id
        if stored.lifecycle == LifecycleStage.DELETED:
            raise MlflowRequestError(
                f"The run {run_id} must be in the 'active' state. Current state is {stored.lifecycle}."
            )
        events: list[Any] = []
        for index, (key, value, ts, step) in enumerate(metrics):
            event = metric_event(run_id, key, value, step, ts, "value" if single else f"metrics[{index}].value")
            if event is not None:
                events.append(event)
        now = time.time()
        for key, value in tags:
            key = check_name(key, "tag")
            text = setting_value("tag", key, value)
            if text is not UNCONVERTIBLE:
                events.append(Event(run_id, TAG, key, text, None, now))
        for key, value in params:
            key = check_name(key, "param")
            text = setting_value("param", key, value)
            if text is not UNCONVERTIBLE:
                workspace.store.set_param(run_id, key, text)  # now: a conflict raises here
                events.append(Event(run_id, PARAM, key, text, None, now))  # for the other sinks (OTLP)
        self._put(workspace, run_id, events)

    @mlflow_codes
    def get_metric_history(self, run_id: str, key: str) -> PagedList:
        """Every numeric point of one metric, by step: Metric(key, value, timestamp_ms, step),
        as MLflow's PagedList (one page: ``token`` None)."""
        workspace = self.workspace
        stored = self._stored(workspace, run_id)
        self._flush(workspace)
        if key not in workspace.store.metric_kinds(stored.run_id):
            return PagedList([], None)
        points = workspace.store.metric_history(stored.run_id, key)
        return PagedList([m for m in (metric_entity(key, p.value, p.timestamp, p.step) for p in points) if m is not None], None)

    # -- artifacts ------------------------------------------------------------------------

    def _put_bytes(self, run_id: str, artifact_file: str, data: bytes) -> None:
        workspace = self.workspace
        run_id = self._stored(workspace, run_id).run_id
        self._files(workspace, run_id).put_file(run_id, check_file_name(artifact_file), io.BytesIO(data))

    @mlflow_codes
    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Copy a local file into the run, under ``artifact_path/`` when given."""
        source = os.fspath(local_path)
        if os.path.isdir(source):
            folder = os.path.basename(os.path.normpath(source))
            if folder in (".", "..", "", os.sep):  # as MLflow refuses them, before copying anything
                raise MlflowRequestError(
                    f"Invalid artifact path: {folder!r}. Names may be treated as files in certain cases, "
                    f"and must not resolve to other names when treated as such. This name would resolve "
                    f"to {folder!r}",
                    "INVALID_PARAMETER_VALUE",
                )
            self.log_artifacts(run_id, source, posixpath.join(artifact_path or "", folder))
            return
        if not os.path.isfile(source):
            raise FileNotFoundError(f"log_artifact: no file at {source!r}")
        name = check_file_name(posixpath.join(artifact_path or "", os.path.basename(source)))
        workspace = self.workspace
        run_id = self._stored(workspace, run_id).run_id
        self._files(workspace, run_id).put_file(run_id, name, source)

    @mlflow_codes
    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Copy every file under a local folder into the run (under ``artifact_path/``)."""
        root = os.fspath(local_dir)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"log_artifacts: no folder at {root!r}")
        workspace = self.workspace
        run_id = self._stored(workspace, run_id).run_id
        files = self._files(workspace, run_id)
        for local, rel in folder_files(root, skip=[workspace.store.location, getattr(files, "root", None)]):
            files.put_file(run_id, check_file_name(posixpath.join(artifact_path or "", rel)), local)

    @mlflow_codes
    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Write ``text`` (UTF-8) as a run file."""
        self._put_bytes(run_id, artifact_file, text.encode("utf-8"))

    @mlflow_codes
    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """Write a dict as JSON, or YAML for a .yaml/.yml file."""
        self._put_bytes(run_id, artifact_file, dict_bytes(dictionary, artifact_file))

    @mlflow_codes
    def log_figure(
        self, run_id: str, figure: Any, artifact_file: str, *, save_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        """Save a matplotlib or plotly figure as a run file."""
        self._put_bytes(run_id, artifact_file, figure_bytes(figure, artifact_file, save_kwargs))

    @mlflow_codes
    def log_image(
        self,
        run_id: str,
        image: Any,
        artifact_file: str | None = None,
        key: str | None = None,
        step: int | None = None,
        timestamp: int | None = None,
        synchronous: bool | None = None,
    ) -> None:
        """Save a numpy array or PIL image: as ``artifact_file``, or (``key``, ``step``) under
        ``images/`` as MLflow names them, also shown as an image series in tracklog's UI."""
        if artifact_file is not None and any(a is not None for a in (key, step, timestamp)):
            raise TypeError("log_image: give either artifact_file, or key (with step and timestamp), not both")
        if artifact_file is None and key is None:
            raise TypeError("log_image: give artifact_file (a static image) or key (an image series)")
        if artifact_file is not None:
            self._put_bytes(run_id, artifact_file, image_bytes(image, artifact_file))
            return
        assert key is not None
        if not _IMAGE_KEY.match(key):
            raise ValueError(
                "log_image: the key may only contain alphanumerics, underscores (_), dashes (-), "
                f"periods (.), spaces ( ) and slashes (/); got {key!r}"
            )
        step = step or 0
        timestamp = timestamp or int(time.time() * 1000)
        name = f"images/{key.replace('/', '~')}+step+{step}+timestamp+{timestamp}+{uuid.uuid4()}.png"
        self._put_bytes(run_id, name, image_bytes(image, name))
        workspace = self.workspace
        self._put(workspace, run_id, [Event(run_id, IMAGE, check_name(key), name, step, timestamp / 1000.0)])
        self.set_tag(run_id, "mlflow.loggedImages", "True")

    @mlflow_codes
    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Write a dict of columns or a DataFrame as MLflow's table JSON, appended to the
        table already in that file; the run's ``mlflow.loggedArtifacts`` tag lists it."""
        workspace = self.workspace
        run_id = self._stored(workspace, run_id).run_id
        try:
            with self._files(workspace, run_id).open_file(run_id, check_file_name(artifact_file)) as file:
                existing: bytes | None = file.read()
        except FileNotFoundError:
            existing = None
        self._put_bytes(run_id, artifact_file, table_bytes(data, artifact_file, existing))
        self._flush(workspace)
        listed = json.loads(workspace.store.get_tags(run_id).get(LOGGED_ARTIFACTS_TAG, "[]"))
        entry = {"path": artifact_file, "type": "table"}
        if entry not in listed:
            self.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps([*listed, entry]))

    @mlflow_codes
    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """The files and folders directly under ``path`` in the run (its root by default)."""
        workspace = self.workspace
        run_id = self._stored(workspace, run_id).run_id
        self._flush(workspace)
        folder = _artifact_path(path)
        prefix = folder + "/" if folder else ""
        found: dict[str, FileInfo] = {}
        files = self._files(workspace, run_id)
        for name in self._artifact_names(workspace, run_id):
            if not name.startswith(prefix):
                continue
            head, sep, _ = name[len(prefix):].partition("/")
            full = prefix + head
            if sep:
                found[full] = FileInfo(full, True, None)
            else:
                with files.open_file(run_id, name) as file:
                    found[full] = FileInfo(full, False, file.seek(0, os.SEEK_END))
        return [found[k] for k in sorted(found)]

    @mlflow_codes
    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        """Copy a run file, or every file under a run folder, to ``dst_path`` (a new
        temporary folder by default); returns the local path of what ``path`` names."""
        workspace = self.workspace
        run_id = self._stored(workspace, run_id).run_id
        self._flush(workspace)
        clean = _artifact_path(path)
        files = self._files(workspace, run_id)
        names = [n for n in self._artifact_names(workspace, run_id) if not clean or n == clean or n.startswith(clean + "/")]
        if not names:
            raise MlflowRequestError(f"run {run_id} has no artifact {path!r}", "RESOURCE_DOES_NOT_EXIST")
        dest_root = os.path.abspath(dst_path) if dst_path is not None else tempfile.mkdtemp()
        for name in names:
            dest = os.path.join(dest_root, *name.split("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with files.open_file(run_id, name) as source, open(dest, "wb") as out:
                shutil.copyfileobj(source, out)
        return os.path.join(dest_root, *clean.split("/")) if clean else dest_root

    def _artifact_names(self, workspace: Workspace, run_id: str) -> list[str]:
        """The run's artifact files. The files of a model the real mlflow logged from the run
        (``models/<model_id>/`` on the plugin route) are the logged model's, not the run's:
        MLflow 3 lists them under the model, never among the run's artifacts."""
        store = workspace.store
        names = self._files(workspace, run_id).list_files(run_id)
        if not isinstance(store, SQLiteStore):
            return names
        model_ids = {n.split("/")[1] for n in names if n.startswith("models/") and n.count("/") >= 2}
        owned = set()
        for model_id in model_ids:
            model = store.logged_model(model_id)
            if model is not None and model.source_run_id == run_id:
                owned.add(model_id)
        return [n for n in names if not (n.startswith("models/") and n.count("/") >= 2 and n.split("/")[1] in owned)]


def _artifact_path(path: str | None) -> str:
    """An artifact path as a run-relative folder or file: "" for the root (None, "", ".", "/")."""
    if not path or not path.strip("/"):
        return ""
    clean = posixpath.normpath(path.strip("/"))
    return "" if clean == "." else clean


def _view_matches(lifecycle: str | None, view_type: int) -> bool:
    deleted = lifecycle == "deleted"
    if view_type == ViewType.ALL:
        return True
    return deleted if view_type == ViewType.DELETED_ONLY else not deleted


def _page(items: list[Any], max_results: int | None, page_token: str | None) -> PagedList:
    """One page of ``items`` from ``page_token``'s offset (MLflow's token: base64 of {"offset": N})."""
    start = 0
    if page_token:
        try:
            start = int(json.loads(base64.b64decode(page_token))["offset"])
        except (ValueError, TypeError, KeyError, binascii.Error) as exc:
            raise MlflowRequestError(f"Invalid page token {page_token!r}: {exc}") from exc
    end = start + max_results if max_results else len(items)
    token = base64.b64encode(json.dumps({"offset": end}).encode()).decode() if end < len(items) else None
    return PagedList(items[start:end], token)
