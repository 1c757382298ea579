"""TracklogStore: MLflow's tracking store over a tracklog workspace (``tracklog:`` URIs).

Metrics, params and tags go through the workspace's pipeline, as every tracklog source
does: ``log_batch`` enqueues and returns, and every read flushes first, so MLflow's
read-after-write holds in this process. Inside ``mlflow server`` (each worker is a
process of its own) a write is durable before the request is answered.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from mlflow.entities import (
    DatasetInput,
    Experiment,
    Metric,
    Param,
    Run,
    RunTag,
    ViewType,
)
from mlflow.entities.lifecycle_stage import LifecycleStage
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking import (
    SEARCH_MAX_RESULTS_DEFAULT,
    SEARCH_MAX_RESULTS_THRESHOLD,
)
from mlflow.store.tracking.abstract_store import AbstractStore
from mlflow.utils.mlflow_tags import (
    MLFLOW_PARENT_RUN_ID,
    MLFLOW_RUN_NAME,
    MLFLOW_RUN_NOTE,
)
from mlflow.utils.name_utils import _generate_random_name
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchUtils
from mlflow.utils.validation import (
    _validate_experiment_artifact_location_length,
    _validate_experiment_name,
    _validate_experiment_tag,
    _validate_run_id,
)

from .. import _config, _lifecycle
from .._errors import RunNotFoundError
from .._types import NO_OWNER, RunInfo
from .._values import NAMES, UNCONVERTIBLE, check_name, point_value
from ..pipeline.event import METRIC, PARAM, TAG
from ..store import SQLiteStore
from ..store._tracking_records import ACTIVE, DELETED, ModelMetric, RunInput
from ..workspace import Workspace
from . import _convert
from ._errors import mlflow_errors, refuse_unsupported
from ._logged_models import LoggedModels
from ._speed import remember_pyspark_is_absent
from ._uri import workspace_path
from ._validation import MetricChecks, checked_batch, checked_param, checked_tag

#: MLflow's id for the experiment runs go to when none is set; here, the one called "Default".
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = _config.DEFAULT_EXPERIMENT
#: Set by `mlflow server` for its workers: then writes are durable before the reply.
_SERVER_ENV = "_MLFLOW_SERVER_FILE_STORE"


class TracklogStore(LoggedModels, AbstractStore):
    """MLflow's tracking store for ``tracklog:PATH``: runs, experiments, metrics and logged
    models live in the tracklog workspace at PATH."""

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        super().__init__()
        remember_pyspark_is_absent()
        with mlflow_errors():
            self.workspace = Workspace(workspace_path(store_uri))
        store = self.workspace.store
        if not isinstance(store, SQLiteStore):
            raise MlflowException(f"{store_uri!r} is not a workspace folder; give MLflow the server's URL itself")
        self.store: SQLiteStore = store
        self.engine = self.workspace.engine
        self._durable = bool(os.environ.get(_SERVER_ENV))
        # tracklog run's run: top-level MLflow runs of its child become its children.
        self._parent_env = _config.env(_config.ENV_RUN_ID)
        self._live: set[str] = set()  # runs known to exist and be active, to log into
        self._params: dict[str, dict[str, str]] = {}  # params per run, to refuse a change at once
        self._metric_checks = MetricChecks()
        self._lock = threading.Lock()
        _lifecycle.at_exit(_lifecycle.END_RUNS, self._leave_runs_at_exit)

    # -- helpers ------------------------------------------------------------------------

    def _flush(self) -> None:
        self.engine.flush()

    def _owner(self) -> int | None:
        """Who holds the runs this store makes or reopens: this process (None), except inside
        ``mlflow server``, whose clients are other processes, where none does (as in MLflow)."""
        return NO_OWNER if self._durable else None

    def _leave_runs_at_exit(self) -> None:
        """At a normal exit, after MLflow's own atexit has ended the fluent runs: the runs this
        process still holds were made by the client API (``MlflowClient.create_run``) and, as
        in MLflow, stay RUNNING for a worker to log into; a killed process's runs read Crashed."""
        self.store.release_runs([t.run_id for t in list(self.engine.targets.values()) if t.owned and not t.closed])

    def _artifact_root(self) -> str:
        return "file://" + os.path.join(self.store.root, "runs")

    def _run_artifact_uri(self, info: RunInfo) -> str:
        record = self.store.experiment_record(info.experiment_id)
        if record is not None and record.artifact_location:
            return f"{record.artifact_location.rstrip('/')}/{info.run_id}/artifacts"
        return "file://" + self.store.run_dir(info.run_id)

    def _experiment_id(self, experiment_id: Any) -> str:
        """MLflow's id of an experiment as the workspace's: "0" is experiment 0 where there
        is one (a workspace's Default is made with it), else the Default of an older
        workspace, made now if missing."""
        experiment_id = str(experiment_id)
        if experiment_id == DEFAULT_EXPERIMENT_ID and self.store.experiment_record(experiment_id) is None:
            return self.store.get_or_create_experiment(DEFAULT_EXPERIMENT_NAME).experiment_id
        return experiment_id

    def _run_info(self, run_id: str) -> RunInfo:
        try:
            info = self.store.get_run(run_id)
        except RunNotFoundError:
            info = None
        if info is None or info.run_id != run_id:  # a prefix matched: MLflow wants the whole id
            raise MlflowException(f"Run with id={run_id} not found", RESOURCE_DOES_NOT_EXIST)
        return info

    def _check_active(self, run_id: str) -> None:
        if run_id in self._live:
            return
        info = self._run_info(run_id)
        if info.lifecycle != ACTIVE:
            raise MlflowException(
                f"The run {run_id} must be in the 'active' state. Current state is {info.lifecycle}.",
                INVALID_PARAMETER_VALUE,
            )
        self._live.add(run_id)

    # -- experiments --------------------------------------------------------------------

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        if not isinstance(max_results, int) or not 1 <= max_results <= SEARCH_MAX_RESULTS_THRESHOLD:
            raise MlflowException(
                f"Invalid value {max_results} for parameter 'max_results': it must be between 1 and "
                f"{SEARCH_MAX_RESULTS_THRESHOLD}",
                INVALID_PARAMETER_VALUE,
            )
        if not self.store.read_only:
            self._experiment_id(DEFAULT_EXPERIMENT_ID)  # MLflow's stores always hold experiment 0
        stages = LifecycleStage.view_type_to_stages(view_type)
        experiments = [e for e in self._experiments() if e.lifecycle_stage in stages]
        filtered = SearchExperimentsUtils.filter(experiments, filter_string)
        ordered = SearchExperimentsUtils.sort(filtered, order_by or ["last_update_time DESC"])
        page, token = SearchUtils.paginate(ordered, page_token, max_results)
        return PagedList(page, token)

    def _experiments(self, name: str | None = None) -> list[Experiment]:
        root = self._artifact_root()
        return [_convert.experiment(r, r.artifact_location or root) for r in self.store.experiment_records(name)]

    def create_experiment(self, name: str, artifact_location: str | None = None, tags: Any = None) -> str:
        _validate_experiment_name(name)  # MLflow's SQL store's checks, in its order
        if artifact_location:
            _validate_experiment_artifact_location_length(artifact_location)
        for tag in tags or []:
            _validate_experiment_tag(tag.key, tag.value)
        with mlflow_errors():
            check_name(name, "experiment")
            record = self.store.create_experiment(name, artifact_location or None, {t.key: t.value for t in tags or []})
        return record.experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        record = self.store.experiment_record(self._experiment_id(experiment_id))
        if record is None:
            raise MlflowException(f"No Experiment with id={experiment_id} exists", RESOURCE_DOES_NOT_EXIST)
        return _convert.experiment(record, record.artifact_location or self._artifact_root())

    def get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        found = self._experiments(experiment_name)
        if not found and experiment_name == DEFAULT_EXPERIMENT_NAME:
            return self.get_experiment(DEFAULT_EXPERIMENT_ID)
        return found[0] if found else None

    def _set_experiment_lifecycle(self, experiment_id: str, lifecycle: str) -> None:
        with mlflow_errors():
            self.store.set_experiment_lifecycle(self._experiment_id(experiment_id), lifecycle)

    def delete_experiment(self, experiment_id: str) -> None:
        self._set_experiment_lifecycle(experiment_id, DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        self._set_experiment_lifecycle(experiment_id, ACTIVE)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        _validate_experiment_name(new_name)
        with mlflow_errors():
            check_name(new_name, "experiment")
            self.store.rename_experiment(self._experiment_id(experiment_id), new_name)

    def set_experiment_tag(self, experiment_id: str, tag: Any) -> None:
        _validate_experiment_tag(tag.key, tag.value)
        with mlflow_errors():
            self.store.set_experiment_tag(self._experiment_id(experiment_id), tag.key, str(tag.value))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        with mlflow_errors():
            self.store.delete_experiment_tag(self._experiment_id(experiment_id), key)

    # -- runs ---------------------------------------------------------------------------

    def create_run(
        self, experiment_id: str, user_id: str | None, start_time: int | None, tags: Any, run_name: str | None
    ) -> Run:
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise MlflowException(
                f"Could not create run under non-active experiment with ID {experiment_id}.", INVALID_STATE
            )
        tag_map = {t.key: str(t.value) for t in tags or []}
        tagged = tag_map.get(MLFLOW_RUN_NAME)
        if run_name and tagged and run_name != tagged:  # MLflow's SQL store's refusal
            raise MlflowException(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
                f"values (run_name='{run_name}', mlflow.runName='{tagged}').",
                INVALID_PARAMETER_VALUE,
            )
        name = run_name or tagged or _random_name()
        tag_map[MLFLOW_RUN_NAME] = name
        parent = tag_map.get(MLFLOW_PARENT_RUN_ID) or self._env_parent_of()
        if parent:
            tag_map.setdefault(MLFLOW_PARENT_RUN_ID, parent)
        with mlflow_errors():
            info = self.store.create_run(
                experiment.experiment_id, check_name(name, "run"), parent_run_id=parent, owner_pid=self._owner()
            )
            self.store.set_run_origin(info.run_id, _convert.seconds(start_time), user_id)
            if tag_map.get(MLFLOW_RUN_NOTE):
                self.store.set_run_description(info.run_id, tag_map[MLFLOW_RUN_NOTE])
        # This process beats the run's heart until MLflow ends it (or its exit leaves it running).
        self.engine.target(info.run_id).owned = not self._durable
        self._live.add(info.run_id)
        # Unchecked, as MLflow's SQL store keeps create_run's tags.
        self._log(info.run_id, [], [], [RunTag(k, v) for k, v in tag_map.items()])
        return self.get_run(info.run_id)

    def _env_parent_of(self) -> str | None:
        """Under `tracklog run`: its run, when it is in this workspace (else None)."""
        if not self._parent_env:
            return None
        try:
            return self.store.get_run(self._parent_env).run_id
        except RunNotFoundError:
            self._parent_env = None
            return None

    def get_run(self, run_id: str) -> Run:
        self._flush()
        info = self._run_info(run_id)
        with mlflow_errors():
            return self._to_run(info)

    def _to_run(self, info: RunInfo) -> Run:
        run_id = info.run_id
        store = self.store
        return _convert.run(
            info, self._run_artifact_uri(info), store.latest_points(run_id), store.get_params(run_id),
            store.get_tags(run_id), store.run_inputs(run_id),
        )

    def update_run_info(self, run_id: str, run_status: Any, end_time: int | None, run_name: str | None) -> Any:
        info = self._run_info(run_id)
        status = _convert.status_name(run_status)
        with mlflow_errors():
            self._flush()  # what was logged comes before the run's end
            ended = None if status == "Running" else _convert.seconds(end_time) or time.time()
            error = info.error if status == info.status else None
            self.store.set_status(run_id, status, ended, error, owner_pid=self._owner())
            if run_name:
                self.store.set_run_name(run_id, run_name)
                self._put_tags(run_id, {MLFLOW_RUN_NAME: run_name})
                self._flush()
            target = self.engine.target(run_id)
            if status == "Running":  # resumed (start_run(run_id=...)): this process holds it now
                target.closed = False
                target.owned = not self._durable
            elif target.owned:
                target.owned = False  # ended: no more heartbeats
            return _convert.run_info(self.store.get_run(run_id), self._run_artifact_uri(info))

    def delete_run(self, run_id: str) -> None:
        self._run_info(run_id)
        with mlflow_errors():
            self.store.set_run_lifecycle(run_id, DELETED)
        self._live.discard(run_id)

    def restore_run(self, run_id: str) -> None:
        self._run_info(run_id)
        with mlflow_errors():
            self.store.set_run_lifecycle(run_id, ACTIVE)

    def _search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        run_view_type: int,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[Run], str | None]:
        if max_results > SEARCH_MAX_RESULTS_THRESHOLD:
            raise MlflowException(
                f"Invalid value for request parameter max_results. It must be at most "
                f"{SEARCH_MAX_RESULTS_THRESHOLD}, but got value {max_results}",
                INVALID_PARAMETER_VALUE,
            )
        self._flush()
        stages = LifecycleStage.view_type_to_stages(run_view_type)
        runs = []
        with mlflow_errors():
            for experiment_id in experiment_ids:
                for info in self.store.search_runs(experiment_id=self._experiment_id(experiment_id)):
                    if _convert.lifecycle_stage(info.lifecycle) in stages:
                        runs.append(self._to_run(info))
        filtered = SearchUtils.filter(runs, filter_string)
        ordered = SearchUtils.sort(filtered, order_by)
        return SearchUtils.paginate(ordered, page_token, max_results)

    # -- metrics, params, tags ------------------------------------------------------------

    def log_batch(self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]) -> None:
        if run_id not in self._live:
            _validate_run_id(run_id)
        params, tags = checked_batch(self._metric_checks, metrics, params, tags)
        # MLflow 3's log_model re-logs the run's points at the model's step with its model_id, to
        # link them to the model: a point that repeats a stored one is linked, not stored again.
        self._log(run_id, metrics, params, tags, skip_repeats=any(m.model_id for m in metrics))

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self._metric_checks.check([metric], single=True)
        self._log(run_id, [metric], [], [])

    def log_param(self, run_id: str, param: Param) -> None:
        self._log(run_id, [], [checked_param(param)], [])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self._log(run_id, [], [], [checked_tag(tag)])

    def _log(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag],
        skip_repeats: bool = False,
    ) -> None:
        """Log what MLflow's checks passed (or what create_run makes, which MLflow does not check);
        with ``skip_repeats``, a metric point the run already has exactly is not stored again."""
        self._check_active(run_id)
        with mlflow_errors():
            if params:
                self._put_params(run_id, params)
            if metrics:
                self._put_metrics(run_id, metrics, self._stored_points(run_id, metrics) if skip_repeats else None)
            if tags:
                self._put_tags(run_id, {t.key: t.value for t in tags})
            if self._durable:
                self._flush()

    def _put_metrics(
        self, run_id: str, metrics: Sequence[Metric], stored: set[tuple[Any, ...]] | None = None
    ) -> None:
        """Put the points into the pipeline, but those in ``stored`` (identities of points the run
        has); a point with a model_id is linked to that logged model as well."""
        target = self.engine.target(run_id)
        put = target.pipeline.put
        step_for = target.step_for
        links: dict[str, list[ModelMetric]] = {}
        for m in metrics:
            key = m.key
            if type(key) is not str or key not in NAMES:
                key = check_name(key)
            value = m.value
            if type(value) is not float:
                value = point_value(key, value)
                if value is UNCONVERTIBLE:
                    continue
            step = int(m.step or 0)
            if stored is None or _identity(key, step, value, m.timestamp) not in stored:
                step = step_for(key, step)
                put((run_id, METRIC, key, value, step, m.timestamp / 1000.0, 0, "", "", None))
            if m.model_id:
                links.setdefault(m.model_id, []).append(ModelMetric(
                    key, float(value), step, m.timestamp / 1000.0, run_id, m.dataset_name, m.dataset_digest))
        for model_id, points in links.items():
            self.store.log_logged_model_metrics(model_id, points)

    def _stored_points(self, run_id: str, metrics: Sequence[Metric]) -> set[tuple[Any, ...]]:
        """The identities (key, step, value, time in ms) of the run's points under these metrics' keys."""
        self._flush()
        found = set()
        for key in {m.key for m in metrics}:
            for p in self.store.metric_history(run_id, key):
                found.add(_identity(key, p.step, p.value, _convert.ms(p.timestamp)))
        return found

    def _put_params(self, run_id: str, params: Sequence[Param]) -> None:
        with self._lock:
            known = self._params.get(run_id)
            if known is None:
                self._flush()
                known = self._params[run_id] = self.store.get_params(run_id)
            for p in params:
                key = check_name(p.key, "param")
                value = str(p.value)
                if known.get(key, value) != value:
                    raise MlflowException(
                        f"Changing param values is not allowed. Param with key='{key}' was already logged "
                        f"with value='{known[key]}' for run ID='{run_id}'. Attempted logging new value "
                        f"'{value}'.",
                        INVALID_PARAMETER_VALUE,
                    )
            now = time.time()
            put = self.engine.target(run_id).pipeline.put
            for p in params:
                key, value = p.key, str(p.value)
                if key not in known:
                    known[key] = value
                    put((run_id, PARAM, key, value, None, now, 0, "", "", None))

    def _put_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        now = time.time()
        put = self.engine.target(run_id).pipeline.put
        for key, value in tags.items():
            key = check_name(key, "tag")
            put((run_id, TAG, key, "" if value is None else str(value), None, now, 0, "", "", None))
        if tags.get(MLFLOW_RUN_NAME):
            self.store.set_run_name(run_id, str(tags[MLFLOW_RUN_NAME]))
        if MLFLOW_RUN_NOTE in tags:
            self.store.set_run_description(run_id, tags[MLFLOW_RUN_NOTE])

    def delete_tag(self, run_id: str, key: str) -> None:
        self._check_active(run_id)
        self._flush()
        with mlflow_errors():
            if key not in self.store.get_tags(run_id):
                raise MlflowException(f"No tag with name: {key} in run with id {run_id}", RESOURCE_DOES_NOT_EXIST)
            self.store.delete_tags(run_id, [key])

    def get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Metric]:
        self._flush()
        self._run_info(run_id)
        with mlflow_errors():
            points = self.store.metric_history(run_id, metric_key)
        metrics = [m for m in (_convert.metric(metric_key, p, run_id) for p in points) if m is not None]
        if max_results is None:
            return PagedList(metrics, None)
        start = int(page_token) if page_token else 0
        end = start + max_results
        return PagedList(metrics[start:end], str(end) if end < len(metrics) else None)

    # -- inputs and outputs ---------------------------------------------------------------

    def log_inputs(self, run_id: str, datasets: list[DatasetInput] | None = None, models: Any = None) -> None:
        self._check_active(run_id)
        items = [_convert.dataset_input(d) for d in datasets or []]
        items += [_model_item(_convert.INPUT, m.model_id, None) for m in models or []]
        with mlflow_errors():
            self.store.add_run_inputs(run_id, items)

    def log_outputs(self, run_id: str, models: Any) -> None:
        self._check_active(run_id)
        with mlflow_errors():
            self.store.add_run_inputs(run_id, [_model_item(_convert.OUTPUT, m.model_id, m.step) for m in models])

    def record_logged_model(self, run_id: str, mlflow_model: Any) -> None:
        """MLflow 2's record of a model in the run's ``mlflow.log-model.history`` tag."""
        self._flush()
        history = json.loads(self.store.get_tags(run_id).get("mlflow.log-model.history", "[]"))
        history.append(mlflow_model.get_tags_dict())
        self._put_tags(run_id, {"mlflow.log-model.history": json.dumps(history)})

    # -- traces ---------------------------------------------------------------------------

    def link_traces_to_run(self, trace_ids: list[str], run_id: str) -> None:
        raise MlflowException(
            "tracklog: workspaces keep no MLflow traces, so traces cannot be linked to run "
            f"{run_id}; use an MLflow server with a SQL backend for tracing",
            INVALID_STATE,
        )


# What the workspace does not keep raises MLflow's error with a clear message.
refuse_unsupported(TracklogStore, AbstractStore)


def _model_item(direction: str, model_id: str, step: int | None) -> RunInput:
    return RunInput(direction, _convert.MODEL, f"{model_id}\x00{step}", {"model_id": model_id, "step": step or 0})


def _identity(key: str, step: int, value: Any, millis: Any) -> tuple[Any, ...]:
    """What makes two metric points the same one, as MLflow's SQL store's metrics key has it (NaN equal to NaN)."""
    return key, step, "nan" if value != value else value, millis


def _random_name() -> str:
    return _generate_random_name()
