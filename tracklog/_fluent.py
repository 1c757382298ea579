"""MLflow's module-level tracking vocabulary over the same runs: ``import tracklog as mlflow``.

start_run, log_metric, set_tag, log_artifact, get_run, search_runs, ... with
MLflow's signatures and semantics (docs/mlflow_swap.md says exactly which).
Everything beyond tracking (flavors, autolog, models) is the real mlflow's, with
tracklog as its tracking store: ``MLFLOW_TRACKING_URI=tracklog:`` (docs/mlflow.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from . import _config
from . import _mlflow_validation as checks
from ._errors import ActiveRunError, TracklogError
from ._mlflow_artifacts import optional_module
from ._mlflow_client import (
    MlflowClient,
    give_mlflow_code,
    metric_event,
    metric_number,
    mlflow_codes,
    tracking_location,
    unrecorded,
)
from ._mlflow_entities import (
    INTERNAL_ERROR,
    NOTE_TAG,
    PARENT_TAG,
    RUN_NAME_TAG,
    Experiment,
    MlflowRequestError,
    RunData,
    ViewType,
    end_status,
    experiment_entity,
)
from ._mlflow_entities import (
    Run as RunEntity,
)
from ._mlflow_entities import (
    RunInfo as RunInfoEntity,
)
from ._mlflow_names import new_run_name
from ._types import CANCELED, COMPLETED, FAILED
from ._values import mlflow_text
from .pipeline import current
from .run import Run
from .workspace import Experiment as TracklogExperiment
from .workspace import Workspace, resolved_location, set_default_location

__all__ = [
    "ActiveRun",
    "active_run",
    "create_experiment",
    "delete_experiment",
    "delete_experiment_tag",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush_artifact_async_logging",
    "flush_async_logging",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_parent_run",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "restore_experiment",
    "restore_run",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

ENV_EXPERIMENT_NAME = "MLFLOW_EXPERIMENT_NAME"
ENV_EXPERIMENT_ID = "MLFLOW_EXPERIMENT_ID"
ENV_MLFLOW_RUN_ID = "MLFLOW_RUN_ID"
DEFAULT_EXPERIMENT = _config.DEFAULT_EXPERIMENT


class _State:
    """The run that ended last in this process (MLflow's last_active_run), and whether
    set_tracking_uri was called (is_tracking_uri_set)."""

    last_run: Run | None = None
    uri_set: bool = False


_state = _State()


class ActiveRun:
    """What start_run() and active_run() return: MLflow's ``ActiveRun`` (``.info``, ``.data``,
    a context manager), and the tracklog ``Run`` it wraps for everything else."""

    def __init__(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        """The tracklog Run (Azure ML's vocabulary) behind this MLflow run."""
        return self._run

    @property
    def id(self) -> str:
        return self._run.id

    @property
    def info(self) -> RunInfoEntity:
        """MLflow's ``run.info``: ``run_id``, ``status`` (RUNNING, FINISHED, ...), ms times."""
        return self._entity().info

    @property
    def data(self) -> RunData:
        """MLflow's ``run.data`` as of now: latest metrics, params, tags."""
        return self._entity().data

    def _entity(self) -> RunEntity:
        return MlflowClient(self._run.workspace.child_location()).get_run(self._run.id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        """FINISHED, or FAILED when an exception escapes (KILLED for Ctrl-C and SIGTERM)."""
        _state.last_run = self._run
        self._run.__exit__(exc_type, exc, tb)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (ActiveRun, Run)):
            return other.id == self.id
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<ActiveRun: run_id={self.id!r}>"


# -- where runs go -----------------------------------------------------------------


@mlflow_codes
def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Where runs go from now on: a workspace folder, ``tracklog:PATH``, or an MLflow
    tracking server's ``http(s)://`` URL. MLflow's own backends (``file:``, ``sqlite:``,
    ``databricks``) raise WorkspaceError: tracklog does not write them. Processes started
    from now on (subprocess, multiprocessing) inherit it, as MLflow's do."""
    location = tracking_location(uri)
    set_default_location(location)
    _state.uri_set = True
    _config.export_tracking_uri(None)  # a bare tracklog: is the default, not an older choice
    _config.export_tracking_uri(resolved_location(location))


def get_tracking_uri() -> str:
    """The workspace location ``Workspace()`` opens now."""
    return Workspace().path


def is_tracking_uri_set() -> bool:
    """Whether the script chose where runs go: set_tracking_uri, MLFLOW_TRACKING_URI, or
    tracklog's own TRACKLOG_TRACKING_URI or TRACKLOG_WORKSPACE (else the default
    ``./.tracklog`` is used)."""
    return _state.uri_set or bool(
        os.environ.get(_config.ENV_MLFLOW_TRACKING_URI)
        or _config.env(_config.ENV_TRACKING_URI)
        or _config.env(_config.ENV_WORKSPACE)
    )


def flush_async_logging() -> None:
    """Wait until everything logged so far is in the store (tracklog always logs asynchronously)."""
    Workspace().flush()


def flush_artifact_async_logging() -> None:
    """Artifacts are written at call time: nothing waits; here for MLflow's scripts."""


# -- experiments -------------------------------------------------------------------


def create_experiment(
    name: str,
    artifact_location: str | None = None,
    tags: Mapping[str, Any] | None = None,
    trace_location: Any = None,
) -> str:
    """Create an experiment and return its id; an existing name raises (as MLflow). A local
    ``artifact_location`` is where its runs' artifacts go (``<location>/<run_id>/artifacts``)."""
    _no_trace_location(trace_location)
    return MlflowClient().create_experiment(name, artifact_location, tags)


def _no_trace_location(trace_location: Any) -> None:
    if trace_location is not None:
        raise MlflowRequestError(
            "trace_location (Unity Catalog traces) is not part of `import tracklog as mlflow`; "
            "use the real mlflow with MLFLOW_TRACKING_URI=tracklog: for traces"
        )


def get_experiment(experiment_id: str) -> Experiment:
    """The experiment with this id; MlflowRequestError when there is none."""
    return MlflowClient().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment called ``name``, or None."""
    return MlflowClient().get_experiment_by_name(name)


def search_experiments(
    view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[Experiment]:
    """Experiments matching MLflow's filter string."""
    return list(MlflowClient().search_experiments(view_type, max_results, filter_string, order_by))


@mlflow_codes
def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None, trace_location: Any = None
) -> Experiment:
    """Make an experiment active for start_run(): by name (created when missing) or by id."""
    _no_trace_location(trace_location)
    if (experiment_name is None) == (experiment_id is None):
        raise MlflowRequestError("Must specify exactly one of: `experiment_id` or `experiment_name`.")
    client = MlflowClient()
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        workspace = client.workspace
        if client.get_experiment_by_name(experiment_name) is None:
            checks.experiment_name(experiment_name)  # MLflow creates it with create_experiment's checks
        info = workspace.store.get_or_create_experiment(experiment_name)
        # A remote store lists the experiment only once its sender has created it.
        experiment = client.get_experiment_by_name(experiment_name) or experiment_entity(info, "runs:/")
    if experiment.lifecycle_stage == "deleted":
        raise MlflowRequestError(
            f"Cannot set a deleted experiment {experiment.name!r} as the active experiment. "
            "You can restore the experiment, or permanently delete the experiment to create "
            "a new one."
        )
    current.set_default_experiment(experiment.name)
    return experiment


def _active_experiment_id() -> str:
    """The id of the experiment start_run() would use now (created when missing, as MLflow's
    calls on "the active experiment" create its Default)."""
    workspace = MlflowClient().workspace
    name = _experiment_name(workspace)
    found = MlflowClient(workspace.child_location()).get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return workspace.store.get_or_create_experiment(name).experiment_id


def set_experiment_tag(key: str, value: Any) -> None:
    """Set a tag of the active experiment (get_experiment(...).tags reads it back)."""
    MlflowClient().set_experiment_tag(_active_experiment_id(), key, value)


@mlflow_codes
def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags of the active experiment."""
    experiment_id = _active_experiment_id()
    client = MlflowClient()
    for key, value in tags.items():
        client.set_experiment_tag(experiment_id, key, value)


def delete_experiment_tag(key: str) -> None:
    """Remove a tag of the active experiment (RESOURCE_DOES_NOT_EXIST when it has none)."""
    MlflowClient().delete_experiment_tag(_active_experiment_id(), key)


def delete_experiment(experiment_id: str) -> None:
    """Mark an experiment and its runs deleted: searches leave them out until restore_experiment."""
    MlflowClient().delete_experiment(experiment_id)


def restore_experiment(experiment_id: str) -> None:
    """Make a deleted experiment and its runs active again."""
    MlflowClient().restore_experiment(experiment_id)


def _experiment_name(workspace: Workspace) -> str:
    """The active experiment: set_experiment's, else MLFLOW_EXPERIMENT_NAME or _ID's, else Default.

    The pipeline's registry keeps the name (so runs that logging records start go there
    too); "Default" there means set_experiment was not called."""
    chosen = current.default_experiment()
    if chosen != DEFAULT_EXPERIMENT:
        return chosen
    name = os.environ.get(ENV_EXPERIMENT_NAME)
    if name:
        return name
    experiment_id = os.environ.get(ENV_EXPERIMENT_ID)
    if experiment_id:
        return MlflowClient(workspace.child_location()).get_experiment(experiment_id).name
    return chosen


# -- runs --------------------------------------------------------------------------


@mlflow_codes
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a run (or resume one by ``run_id`` or MLFLOW_RUN_ID) and make it active; a
    context manager that ends it FINISHED, or FAILED when an exception escapes.

    An active run needs ``nested=True`` for a child, as in MLflow. Inside a process
    started by ``tracklog run`` (TRACKLOG_RUN_ID set), each top-level run is a child of
    that run, in the script's experiment (set_experiment) or else in that run's; a logging
    call with no run started logs into that run itself (refused, with one warning, once it
    has ended: only ``run_id=`` reopens an ended run).
    """
    if log_system_metrics:
        raise MlflowRequestError(
            "log_system_metrics is not part of `import tracklog as mlflow`; use the real mlflow "
            "with MLFLOW_TRACKING_URI=tracklog: for system metrics"
        )
    parent = current.active()
    if parent is not None and not nested:
        raise ActiveRunError(
            f"Run with UUID {parent.id} is already active. To start a new run, first end the "
            "current run with mlflow.end_run(). To start a nested run, call start_run with nested=True"
        )
    tags = {str(k): v for k, v in (tags or {}).items()}
    if description:
        if NOTE_TAG in tags:
            raise MlflowRequestError(
                f"Description is already set via the tag {NOTE_TAG} in tags. Remove the key "
                f"{NOTE_TAG} from the tags or omit the description."
            )
        tags[NOTE_TAG] = description
    if run_id is None:
        run_id = os.environ.pop(ENV_MLFLOW_RUN_ID, None) or None  # MLflow uses it once
    if run_id is not None:
        return _resume(run_id, tags, run_name)
    outer = None
    if parent is None and parent_run_id is None and _config.env(_config.ENV_RUN_ID):
        # Inside tracklog run: a top-level run is a child of tracklog run's run, as the MLflow
        # plugin route makes it (docs/mlflow.md); a script may start several, in its experiment.
        found = current.env_run()
        outer = found if isinstance(found, Run) else None
    workspace = outer.workspace if outer is not None else Workspace()
    if outer is not None:
        parent = outer
    if parent_run_id is not None:
        if parent is not None and parent.id != parent_run_id:
            raise MlflowRequestError(
                f"Current run with UUID {parent.id} does not match the specified parent_run_id "
                f"{parent_run_id}. To start a new nested run under the parent run with UUID "
                f"{parent.id}, first end the current run with mlflow.end_run().",
                INTERNAL_ERROR,
            )
        found = MlflowClient(workspace.child_location()).get_run(parent_run_id)
        if found.info.lifecycle_stage == "deleted":
            raise MlflowRequestError(
                f"Cannot start run under parent run with ID {parent_run_id} because it is in the deleted state.",
                INTERNAL_ERROR,
            )
        parent = workspace.get_run(parent_run_id)
    client = MlflowClient(workspace.child_location())
    if experiment_id is not None:
        name = _usable(client.get_experiment(str(experiment_id))).name
        experiment = TracklogExperiment(workspace, name)
    elif outer is not None:
        chosen = _experiment_name(workspace)
        experiment = outer.experiment if chosen == DEFAULT_EXPERIMENT else TracklogExperiment(workspace, chosen)
    elif isinstance(parent, Run):
        experiment = parent.experiment
    else:
        name = _experiment_name(workspace)
        found_experiment = client.get_experiment_by_name(name)
        if found_experiment is not None:
            _usable(found_experiment)
        experiment = TracklogExperiment(workspace, name)
    if run_name:
        tags[RUN_NAME_TAG] = run_name  # MLflow's fluent start_run: run_name wins over the tag
    name = new_run_name(run_name, tags)  # given, tagged, else adjective-animal-number
    started = Run._start(experiment, name, parent=parent if isinstance(parent, Run) else None)
    tags.setdefault(RUN_NAME_TAG, started.name)
    if isinstance(parent, Run):
        tags.setdefault(PARENT_TAG, parent.id)
    return _begun(started, tags)


def _usable(experiment: Experiment) -> Experiment:
    """``experiment``, when runs may start in it (MLflow refuses a deleted one)."""
    if experiment.lifecycle_stage == "deleted":
        raise MlflowRequestError(
            f"The experiment {experiment.experiment_id} must be in the 'active' state. "
            f"Current state is {experiment.lifecycle_stage}."
        )
    return experiment


def _resume(run_id: str, tags: Mapping[str, Any], run_name: str | None) -> ActiveRun:
    if MlflowClient().get_run(run_id).info.lifecycle_stage == "deleted":  # the whole id, as MLflow
        raise MlflowRequestError(
            f"Cannot start run with ID {run_id} because it is in the deleted state.", INTERNAL_ERROR
        )
    run = Workspace().get_run(run_id)
    run._reopen()
    if run_name:  # MLflow renames a resumed run (update_run_info with run_name)
        MlflowClient(run.workspace.child_location()).update_run(run.id, name=run_name)
    current.started(run)
    current.push(run)
    return _begun(run, tags)


def _begun(run: Run, tags: Mapping[str, Any]) -> ActiveRun:
    if tags:
        run.set_tags(tags)
    return ActiveRun(run)


def _active() -> Run:
    """The active run; when there is none, start one, as MLflow's logging calls do (it is
    then active_run(), and end_run() ends it). A thread with none of its own logs into the
    run another thread made active (MLflow would start one per thread). A run tracklog started on first use (a
    logging record) is adopted rather than a second one started."""
    run = current.active()
    if run is not None:
        assert isinstance(run, Run)
        return run
    other = current.elsewhere()
    if isinstance(other, Run):
        # A thread with no run of its own (a thread pool's worker) logs into the run another
        # thread started, without making it its own: its end_run() does not end that run.
        return other
    if _config.env(_config.ENV_RUN_ID):
        # Inside tracklog run (or a process a run's process started), a logging call with no
        # run started logs into the environment's run, as Run.get_context() does; start_run()
        # makes a child of it instead. That run is its starter's: when it has ended, it is
        # not reopened (this process would own it, and leave it Crashed at exit) nor made
        # active; the calls' data is refused with one warning, as records' is (Run._refused).
        outer = current.env_run()
        if isinstance(outer, Run):
            if not outer.target.closed:
                current.push(outer)
            return outer
    fallback = current.current_run(create=False)
    if isinstance(fallback, Run) and not fallback.target.closed and not _config.env(_config.ENV_RUN_ID):
        current.push(fallback)
        return fallback
    return start_run().run


def active_run() -> ActiveRun | None:
    """The innermost run started with start_run() (or by a logging call) and not yet ended."""
    run = current.active()
    return ActiveRun(run) if isinstance(run, Run) else None


def last_active_run() -> RunEntity | None:
    """The active run, else the run that ended last in this process, as MLflow's Run entity."""
    run = current.active() or _state.last_run
    if not isinstance(run, Run):
        return None
    return MlflowClient(run.workspace.child_location()).get_run(run.id)


def end_run(status: str = "FINISHED") -> None:
    """End the active run with MLflow's status word (FINISHED, FAILED, KILLED)."""
    run = current.active()
    if run is None:
        return
    assert isinstance(run, Run)
    final = end_status(status)  # MLflow's word, or MLflow's error, before the run is touched
    _state.last_run = run
    if run._given and not run.target.owned:
        # The environment's run (tracklog run's, or the parent process's) is its starter's
        # to end: end_run() only leaves it, as a pool thread's end_run() leaves the run its
        # main thread started (start_run(run_id=...) resumes it as this process's own).
        current.leave(run)
        return
    if final == COMPLETED:
        run.complete()
    elif final == FAILED:
        run.fail()
    elif final == CANCELED:
        run.cancel()
    else:
        raise ValueError(f"end_run: {status!r} is not an end status; use FINISHED, FAILED or KILLED")


def get_run(run_id: str) -> RunEntity:
    """The run as MLflow's entity, with its latest metrics, params and tags."""
    return MlflowClient().get_run(run_id)


def get_parent_run(run_id: str) -> RunEntity | None:
    """The parent of a nested run (its ``mlflow.parentRunId``), or None for a top-level run."""
    return MlflowClient().get_parent_run(run_id)


def delete_run(run_id: str) -> None:
    """Mark a run deleted: search_runs leaves it out, get_run still finds it (restore_run undoes it)."""
    MlflowClient().delete_run(run_id)


def restore_run(run_id: str) -> None:
    """Make a deleted run active again."""
    MlflowClient().restore_run(run_id)


@mlflow_codes
def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = 100_000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Runs matching MLflow's filter: a pandas DataFrame with MLflow's columns (run_id,
    experiment_id, status, artifact_uri, start_time, end_time, metrics.*, params.*, tags.*),
    or a list of Run entities with ``output_format="list"``. The active experiment by default."""
    if output_format not in ("pandas", "list"):
        raise ValueError(
            f"Unsupported output format: {output_format}. Supported string values are 'pandas' or 'list'"
        )
    client = MlflowClient()
    workspace = client.workspace
    ids = [str(i) for i in experiment_ids or []]
    for name in experiment_names or []:
        found = client.get_experiment_by_name(name)
        if found is not None:
            ids.append(found.experiment_id)
    if search_all_experiments and not ids and not experiment_names:
        ids = [e.experiment_id for e in client.search_experiments(ViewType.ALL)]
    elif not ids and not experiment_names:
        found = client.get_experiment_by_name(_experiment_name(workspace))
        ids = [found.experiment_id] if found is not None else []
    runs = list(client.search_runs(ids, filter_string, run_view_type, max_results, order_by))
    return runs if output_format == "list" else _frame(runs)


def _frame(runs: list[RunEntity]) -> Any:
    pandas = optional_module("pandas", 'search_runs(output_format="pandas")')
    columns: dict[str, list[Any]] = {
        "run_id": [], "experiment_id": [], "status": [], "artifact_uri": [], "start_time": [], "end_time": [],
    }
    sections: dict[str, dict[str, list[Any]]] = {"metrics": {}, "params": {}, "tags": {}}
    for i, run in enumerate(runs):
        info = run.info
        for key in ("run_id", "experiment_id", "status", "artifact_uri"):
            columns[key].append(getattr(info, key))
        columns["start_time"].append(pandas.to_datetime(info.start_time, unit="ms", utc=True))
        columns["end_time"].append(pandas.to_datetime(info.end_time, unit="ms", utc=True))
        for section, values in (("metrics", run.data.metrics), ("params", run.data.params), ("tags", run.data.tags)):
            missing = float("nan") if section == "metrics" else None
            table = sections[section]
            for key in table:
                table[key].append(values.get(key, missing))
            for key in [k for k in values if k not in table]:
                table[key] = [missing] * i + [values[key]]
    data: dict[str, list[Any]] = dict(columns)
    for section, table in sections.items():
        data.update({f"{section}.{key}": value for key, value in table.items()})
    return pandas.DataFrame(data)


# -- logging into the active run ---------------------------------------------------


def log_metric(
    key: str,
    value: Any,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Log one metric point into the active run: step 0 when none is given (as MLflow),
    ``timestamp`` in ms (now by default); a value given as text is ``float(value)``, as MLflow
    makes it, or MLflow's INVALID_PARAMETER_VALUE. A link to a model or dataset is not kept
    (one warning)."""
    try:
        if key not in checks.CHECKED:
            checks.metric_name(key)
        if type(value) is str:
            value = metric_number(value, timestamp)
        kind = type(value)
        if (kind is not float and kind is not int) or timestamp is not None or (
            step is not None and type(step) is not int
        ):
            checks.metric_point(key, value, timestamp, step)
        if model_id is not None or dataset is not None:
            unrecorded("log_metric", model_id=model_id, dataset=dataset)
        if run_id is not None:
            MlflowClient().log_metric(run_id, key, value, timestamp, step)
            return
        run = _active()
        if timestamp is None:
            run.log(key, value, step=0 if step is None else step)
            return
        if run.target.closed and run._refused():
            return
        event = metric_event(run.id, key, value, step, timestamp)
        if event is not None:
            run.target.pipeline.put(event)
    except TracklogError as exc:  # not @mlflow_codes: this is the hot path
        give_mlflow_code(exc)
        raise


@mlflow_codes
def log_metrics(
    metrics: Mapping[str, Any],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Log several metrics at one step (0 when none is given); text values as ``log_metric``
    takes them, all checked before any is logged, as MLflow's one batch."""
    if model_id is not None or dataset is not None:
        unrecorded("log_metrics", model_id=model_id, dataset=dataset)
    values = {}
    for index, (key, value) in enumerate(metrics.items()):  # the whole batch first, as MLflow checks it
        checks.metric_name(key, f"metrics[{index}]")
        values[key] = metric_number(value, timestamp, f"metrics[{index}].value") if type(value) is str else value
        checks.metric_point(key, values[key], timestamp, step, f"metrics[{index}]")
    for key, value in values.items():
        log_metric(key, value, step=step, timestamp=timestamp, run_id=run_id)


@mlflow_codes
def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Set a param of the active run (immutable once set); returns ``value``. A value over
    6000 characters is cut, with MLflow's warning, as MLflow 3 does."""
    try:
        key, text = checks.param(key, mlflow_text(value))
    except MlflowRequestError as bad:  # MLflow's client adds its advice to the store's refusal
        raise MlflowRequestError(bad.message + checks.PARAM_VALIDATION_MSG) from None
    _active().log_param(key, text)
    return value


@mlflow_codes
def log_params(params: Mapping[str, Any], synchronous: bool | None = None, run_id: str | None = None) -> None:
    """Set several params of the active run (or of ``run_id``)."""
    if run_id is not None:
        MlflowClient().log_batch(run_id, params=list(params.items()))
    else:
        kept, _ = checks.batch((), [(key, mlflow_text(value)) for key, value in params.items()], ())
        _active().log_params(dict(kept))


@mlflow_codes
def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    """Set a tag of the active run; a value over 8000 characters is cut, with MLflow's warning."""
    key, text = checks.tag(key, mlflow_text(value))
    _active().tag(key, text)


@mlflow_codes
def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> None:
    """Set several tags of the active run."""
    _, kept = checks.batch((), (), [(key, mlflow_text(value)) for key, value in tags.items()])
    _active().set_tags(dict(kept))


@mlflow_codes
def delete_tag(key: str) -> None:
    """Remove a tag from the active run (MlflowRequestError when it has no such tag)."""
    found = _client_and_run()
    if found is None:
        return
    client, rid = found
    client.delete_tag(rid, key)


# -- artifacts of the active run ---------------------------------------------------


def _client_and_run(run_id: str | None = None) -> tuple[MlflowClient, str] | None:
    """The client and run a call writes into: ``run_id``, else the active run; None (one
    warning given) when that is the environment's run and it has ended (see _active)."""
    if run_id is not None:
        return MlflowClient(), run_id
    run = _active()
    if run.target.closed and run._refused():
        return None
    return MlflowClient(run.workspace.child_location()), run.id


@mlflow_codes
def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None) -> None:
    """Copy a local file into the active run (under ``artifact_path/``)."""
    found = _client_and_run(run_id)
    if found is None:
        return
    client, rid = found
    client.log_artifact(rid, local_path, artifact_path)


@mlflow_codes
def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None) -> None:
    """Copy a local folder's files into the active run (under ``artifact_path/``)."""
    found = _client_and_run(run_id)
    if found is None:
        return
    client, rid = found
    client.log_artifacts(rid, local_dir, artifact_path)


@mlflow_codes
def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Write text as a file of the active run."""
    found = _client_and_run(run_id)
    if found is None:
        return
    client, rid = found
    client.log_text(rid, text, artifact_file)


@mlflow_codes
def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Write a dict as JSON (YAML for .yaml/.yml) into the active run."""
    found = _client_and_run(run_id)
    if found is None:
        return
    client, rid = found
    client.log_dict(rid, dictionary, artifact_file)


@mlflow_codes
def log_figure(figure: Any, artifact_file: str, *, save_kwargs: Mapping[str, Any] | None = None) -> None:
    """Save a matplotlib or plotly figure into the active run."""
    found = _client_and_run()
    if found is None:
        return
    client, rid = found
    client.log_figure(rid, figure, artifact_file, save_kwargs=save_kwargs)


@mlflow_codes
def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = False,
) -> None:
    """Save a numpy array or PIL image into the active run (``artifact_file``, or ``key``+``step``)."""
    found = _client_and_run()
    if found is None:
        return
    client, rid = found
    client.log_image(rid, image, artifact_file, key, step, timestamp)


@mlflow_codes
def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Write a dict of columns or a pandas DataFrame as MLflow's table JSON into the active run."""
    found = _client_and_run(run_id)
    if found is None:
        return
    client, rid = found
    client.log_table(rid, data, artifact_file)


@mlflow_codes
def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The active run's artifact root (``file://.../runs/<run_id>``), or a path inside it."""
    run = _active()
    root = MlflowClient.artifact_uri(run.workspace, run.id)
    return root if not artifact_path else f"{root}/{artifact_path.lstrip('/')}"
