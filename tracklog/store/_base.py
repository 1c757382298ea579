"""The store interface: one write primitive, a few control-plane calls, a few reads."""

from __future__ import annotations

import abc
from typing import IO, Any, Iterator, Mapping, Sequence, TypeVar

from .._errors import RunNotFoundError, TracklogError
from .._types import ExperimentInfo, MetricPoint, RunInfo
from ..pipeline.event import Event
from ._registry_types import ModelVersionInfo, RegisteredModelInfo
from ._series import ChunkReader
from ._tracking_records import ExperimentRecord, LoggedModelRecord, ModelMetric, RunInput

_T = TypeVar("_T")


def the_run(matches: Sequence[_T], run_id: str, where: str) -> _T:
    """The one run ``run_id`` (an id or a unique prefix) matched, else a clear RunNotFoundError.

    ``where`` names the store in the message: "in workspace ...", "on the MLflow server at ...".
    """
    if len(matches) > 1:
        raise RunNotFoundError(f"run id prefix {run_id!r} is ambiguous: give more characters")
    if not matches:
        raise RunNotFoundError(f"no run {run_id!r} {where} (tracklog ls lists the runs)")
    return matches[0]


class Store(abc.ABC):
    """Where runs live. Conveniences (run.log, log_row, ...) are written once above it."""

    #: A human-readable location, e.g. the workspace path or server URL.
    location: str
    #: Close this store at interpreter exit, after every pipeline has flushed (a remote
    #: store delivers what is left then, and reports what it could not).
    close_at_exit: bool = False

    # -- the one data-plane primitive ---------------------------------------

    @abc.abstractmethod
    def write_batch(self, events: Sequence[Event]) -> None:
        """Persist a batch of events (metrics, tags, params, log lines) in order.

        Called from the pipeline's writer thread. Raises ``RetryLater`` when the
        backend is momentarily unavailable, ``Stalled`` (a RetryLater) when its storage
        cannot take writes for a while (disk full, read-only, ...): then nothing of the
        batch was written, and the writer stops making callers wait.
        """

    # -- control plane -------------------------------------------------------

    @abc.abstractmethod
    def get_or_create_experiment(self, name: str) -> ExperimentInfo:
        """The experiment called ``name``, created when missing."""

    @abc.abstractmethod
    def get_experiment(self, name: str) -> ExperimentInfo | None:
        """The experiment called ``name``, or None."""

    @abc.abstractmethod
    def list_experiments(self) -> list[ExperimentInfo]:
        """All experiments, oldest first."""

    @abc.abstractmethod
    def create_run(
        self,
        experiment_id: str,
        name: str,
        *,
        parent_run_id: str | None = None,
        owner_pid: int | None = None,
    ) -> RunInfo:
        """Create a run in the Running state and return it, owned by ``owner_pid`` (this
        process when None; ``NO_OWNER`` for a run no process holds, which never reads Crashed)."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunInfo:
        """The run with this id (or unique id prefix); RunNotFoundError when none."""

    def open_env_run(self, run_id: str) -> RunInfo:
        """The run a parent process named (TRACKLOG_RUN_ID), to log into: ``get_run`` here;
        a remote store answers at once even before its server has the run."""
        return self.get_run(run_id)

    @abc.abstractmethod
    def search_runs(
        self, experiment_id: str | None = None, parent_run_id: str | None = None
    ) -> list[RunInfo]:
        """Runs, newest first, optionally of one experiment or one parent."""

    def last_made_run(self) -> RunInfo | None:
        """The run made last (the command line's ``latest``), or None; a store that cannot tell
        says the newest by start time. An ingested log's run starts at its first line's time,
        so the two differ right after ``tracklog ingest``."""
        runs = self.search_runs()
        return runs[0] if runs else None

    @abc.abstractmethod
    def set_status(
        self,
        run_id: str,
        status: str,
        end_time: float | None,
        error: str | None = None,
        *,
        owner_pid: int | None = None,
    ) -> None:
        """Record a run's new status (and end time and error text, for a terminal one). Made
        Running again, the run passes to ``owner_pid`` (this process when None; ``NO_OWNER``
        for none), whose liveness then counts, not its first owner's."""

    @abc.abstractmethod
    def heartbeat(self, run_ids: Sequence[str], now: float) -> None:
        """Tell readers these running runs still have a live owner."""

    @abc.abstractmethod
    def set_param(self, run_id: str, key: str, value: str) -> None:
        """Set a param now; ParamConflictError when it has another value already."""

    # -- reads ---------------------------------------------------------------

    @abc.abstractmethod
    def metric_kinds(self, run_id: str) -> dict[str, str]:
        """Each metric name of the run and its kind (metric, list, row, image)."""

    def metric_counts(self, run_id: str) -> dict[str, int | None]:
        """Each metric name of the run and how many points it holds; None where the store
        cannot count without reading every point (a remote server lists a run's metric names
        with their latest point only). ``tracklog run`` asks it to tell the metrics a job logs
        in-process from the ones it read from the job's output."""
        return dict.fromkeys(self.metric_kinds(run_id))

    @abc.abstractmethod
    def metric_history(self, run_id: str, name: str, rank: int | None = None) -> list[MetricPoint]:
        """All points of one metric, ordered by step then arrival."""

    @abc.abstractmethod
    def last_values(self, run_id: str) -> dict[str, Any]:
        """The latest value of each metric (by step, then arrival)."""

    @abc.abstractmethod
    def get_tags(self, run_id: str) -> dict[str, str]:
        """The run's tags."""

    @abc.abstractmethod
    def get_params(self, run_id: str) -> dict[str, str]:
        """The run's params."""

    # -- files ---------------------------------------------------------------

    @abc.abstractmethod
    def put_file(self, run_id: str, name: str, source: str | IO[bytes]) -> None:
        """Store a file in the run under the checked relative ``name``."""

    @abc.abstractmethod
    def list_files(self, run_id: str) -> list[str]:
        """Relative names of every file of the run, sorted."""

    @abc.abstractmethod
    def open_file(self, run_id: str, name: str) -> IO[bytes]:
        """Open one of the run's files for reading."""

    @abc.abstractmethod
    def iter_log_lines(self, run_id: str, filename: str) -> Iterator[bytes]:
        """The raw lines of one of the run's log files (logs/<filename>)."""

    def series_reader(self) -> ChunkReader | None:
        """A fast reader of the store's metric chunks for charts, or None: readers then
        use metric_kinds and metric_history."""
        return None

    # -- model registry and properties ----------------------------------------------
    # The embedded store implements these (store/_sqlite_registry.py); a remote MLflow
    # store only delete_tags and set_run_name (yet), the others say so. Semantics:
    # /docs/azure.md and the SQLite mixin.

    def _unsupported(self, what: str) -> TracklogError:
        return TracklogError(
            f"{what} is not supported on a remote MLflow store ({self.location}); "
            "use a workspace folder"
        )

    def add_properties(self, run_id: str, properties: Mapping[str, str]) -> None:
        """Add immutable run properties; PropertyConflictError when a key has another value."""
        raise self._unsupported("run properties")

    def get_properties(self, run_id: str) -> dict[str, str]:
        """The run's properties (apart from its tags)."""
        raise self._unsupported("run properties")

    def delete_tags(self, run_id: str, keys: Sequence[str]) -> None:
        """Remove tags from a run (absent keys: nothing happens); call after a flush."""
        raise self._unsupported("removing tags")

    def set_run_name(self, run_id: str, name: str) -> None:
        """Rename a run (Azure's settable display_name)."""
        raise self._unsupported("renaming a run")

    def set_run_description(self, run_id: str, description: str | None) -> None:
        """Set a run's description."""
        raise self._unsupported("run descriptions")

    def create_registered_model(
        self, name: str, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> RegisteredModelInfo:
        """A new registered model; ModelExistsError when the name is taken."""
        raise self._unsupported("the model registry")

    def get_registered_model(self, name: str) -> RegisteredModelInfo:
        """The registered model called ``name``; ModelNotFoundError when none."""
        raise self._unsupported("the model registry")

    def search_registered_models(
        self, name: str | None = None, name_like: str | None = None
    ) -> list[RegisteredModelInfo]:
        """Registered models sorted by name (``name`` exact, ``name_like`` an SQL LIKE pattern)."""
        raise self._unsupported("the model registry")

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModelInfo:
        """Set a registered model's description."""
        raise self._unsupported("the model registry")

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModelInfo:
        """Rename a model with its versions, tags and aliases; ModelExistsError when taken."""
        raise self._unsupported("the model registry")

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model with all its versions (the runs' files stay)."""
        raise self._unsupported("the model registry")

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        """Set one tag of a registered model."""
        raise self._unsupported("the model registry")

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove one tag of a registered model."""
        raise self._unsupported("the model registry")

    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None:
        """Point an alias at one version."""
        raise self._unsupported("the model registry")

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        raise self._unsupported("the model registry")

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersionInfo:
        """The version an alias points at; ModelNotFoundError when none."""
        raise self._unsupported("the model registry")

    def create_model_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        model_path: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
        model_id: str | None = None,
        status: str = "READY",
    ) -> ModelVersionInfo:
        """The model's next version (from 1; the registered model is created when missing)."""
        raise self._unsupported("the model registry")

    def get_model_version(self, name: str, version: int | str) -> ModelVersionInfo:
        """One live version; ModelNotFoundError when missing or deleted."""
        raise self._unsupported("the model registry")

    def search_model_versions(
        self,
        name: str | None = None,
        *,
        version: int | None = None,
        run_id: str | None = None,
        name_like: str | None = None,
    ) -> list[ModelVersionInfo]:
        """Live versions by name, newest version first."""
        raise self._unsupported("the model registry")

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersionInfo]:
        """The newest version in each stage (MLflow's get_latest_versions)."""
        raise self._unsupported("the model registry")

    def update_model_version(self, name: str, version: int, description: str | None) -> ModelVersionInfo:
        """Set a version's description."""
        raise self._unsupported("the model registry")

    def transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersionInfo:
        """Move a version to None, Staging, Production or Archived."""
        raise self._unsupported("the model registry")

    def delete_model_version(self, name: str, version: int) -> None:
        """Delete a version (its number is never given again)."""
        raise self._unsupported("the model registry")

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        """Set one tag of a version."""
        raise self._unsupported("the model registry")

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        """Remove one tag of a version."""
        raise self._unsupported("the model registry")

    def add_model_version_properties(self, name: str, version: int, properties: Mapping[str, str]) -> None:
        """Add immutable properties to a version."""
        raise self._unsupported("the model registry")

    # -- MLflow tracking extras -------------------------------------------------------
    # What the MLflow plugin (tracklog.mlflow_plugin) needs beyond runs, metrics, tags and
    # params. The embedded store implements these (store/_sqlite_tracking.py); a remote
    # MLflow store only the management calls MLflow makes over REST (store/_mlflow_manage.py):
    # for the rest, MLflow's own client speaks to that server directly.

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, str] | None = None
    ) -> ExperimentRecord:
        """A new experiment; ExperimentExistsError when the name is taken."""
        raise self._unsupported("creating experiments with tags")

    def experiment_record(self, experiment_id: str) -> ExperimentRecord | None:
        """The experiment with this id, deleted or not, or None."""
        raise self._unsupported("experiment details")

    def experiment_records(self, name: str | None = None) -> list[ExperimentRecord]:
        """Every experiment (deleted ones too), oldest first; or the one called ``name``."""
        raise self._unsupported("experiment details")

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set one tag of an experiment."""
        raise self._unsupported("experiment tags")

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an experiment."""
        raise self._unsupported("experiment tags")

    def set_experiment_lifecycle(self, experiment_id: str, lifecycle: str) -> None:
        """Mark an experiment deleted, or active again."""
        raise self._unsupported("deleting experiments")

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new, unused name."""
        raise self._unsupported("renaming experiments")

    def set_run_lifecycle(self, run_id: str, lifecycle: str) -> None:
        """Mark a run deleted, or active again."""
        raise self._unsupported("deleting runs")

    def set_run_origin(self, run_id: str, start_time: float | None, user_id: str | None) -> None:
        """Record who started a run and when."""
        raise self._unsupported("run start times and users")

    def latest_points(self, run_id: str) -> dict[str, MetricPoint]:
        """Each scalar metric's point at its highest step."""
        raise self._unsupported("latest metric points")

    def add_run_inputs(self, run_id: str, items: Sequence[RunInput]) -> None:
        """Record a run's inputs or outputs (datasets, models)."""
        raise self._unsupported("run inputs")

    def run_inputs(self, run_id: str) -> list[RunInput]:
        """A run's inputs and outputs, in the order they were logged."""
        raise self._unsupported("run inputs")

    def create_logged_model(self, record: LoggedModelRecord) -> None:
        """Store a new logged model (MLflow 3) with its tags and params."""
        raise self._unsupported("logged models")

    def logged_model(self, model_id: str) -> LoggedModelRecord | None:
        """The logged model with this id, or None."""
        raise self._unsupported("logged models")

    def logged_models(self, experiment_ids: Sequence[str]) -> list[LoggedModelRecord]:
        """The logged models of these experiments, oldest first."""
        raise self._unsupported("logged models")

    def update_logged_model(
        self, model_id: str, *, status: str | None = None, lifecycle: str | None = None
    ) -> None:
        """Set a logged model's status or lifecycle."""
        raise self._unsupported("logged models")

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        """Set tags of a logged model."""
        raise self._unsupported("logged models")

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Remove one tag of a logged model."""
        raise self._unsupported("logged models")

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None:
        """Set params of a logged model."""
        raise self._unsupported("logged models")

    def log_logged_model_metrics(self, model_id: str, metrics: Sequence[ModelMetric]) -> None:
        """Append metric points to a logged model."""
        raise self._unsupported("logged models")

    def close(self) -> None:
        """Release connections and handles."""

    def flush(self) -> None:
        """Make everything written so far durable."""
