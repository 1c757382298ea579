"""Run: one execution's metrics, tags, params, files and logs (Azure ML's ``Run`` vocabulary).

Logging calls build an event and enqueue it; the workspace's background writer
stores it. Control-plane calls (start, end, log_param, upload_file, reads) act
at once and raise a ``TracklogError`` subclass that says what to do.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import time
import traceback
from typing import IO, TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from . import _config, _diag, _lifecycle, _snapshot
from ._azure_errors import ActivityFailedException
from ._azure_portal import run_page_url
from ._errors import RunClosedError, TracklogError
from ._logfile import decode_record
from ._output_format import read_output
from ._paths import check_file_name, folder_files
from ._provenance import collect as collect_provenance
from ._tables import columns, encode_row
from ._types import (
    CANCELED,
    COMPLETED,
    FAILED,
    RUNNING,
    TERMINAL_STATUSES,
    MetricPoint,
    RunInfo,
)
from ._values import (
    NAMES,
    UNCONVERTIBLE,
    check_name,
    clean_text,
    point_step,
    point_value,
    safe_repr,
    setting_value,
)
from .capture import OutputCapture, collect_outputs, outputs_snapshot
from .models import Model
from .pipeline import current
from .pipeline.event import IMAGE, LIST, METRIC, PARAM, ROW, STATUS, TAG, Event

if TYPE_CHECKING:
    from .workspace import Experiment, Workspace

__all__ = ["Run"]

_time = time.time
#: The tag that holds Azure's run type (``run.type``, ``get_runs(type=...)``).
TYPE_TAG = "tracklog.run_type"
#: The tag that holds fail()'s ``error_code``.
ERROR_CODE_TAG = "tracklog.error_code"
#: Azure's run types for what tracklog starts.
INTERACTIVE, SCRIPT, CHILD = "azureml.interactive", "azureml.scriptrun", "azureml.childrun"
#: Azure's chart payloads are kept as run files under this prefix (the UI draws them).
CHARTS = "charts/"
#: Status polling of wait_for_completion on a run another process ends.
_POLL = 0.2
# Runs whose outputs folder is collected when they end: run id -> (folder, files before).
_outputs_at_end: dict[str, tuple[str, dict[str, tuple[int, int]]]] = {}
# What waits for a run another process carries out (Experiment.submit): run id -> waiter.
_waiters: dict[str, Any] = {}


def set_waiter(run_id: str, waiter: Any) -> None:
    """Register what ``wait_for_completion`` waits on, and ``cancel`` stops, for a submitted
    run (``_script_run``): an object with ``wait(show_output: bool) -> None`` and
    ``stop() -> None``."""
    _waiters[run_id] = waiter


class Run:
    """A run in a workspace. ``Run(experiment, run_id)`` fetches an existing one."""

    #: Whether this is the run this process was given by its environment (TRACKLOG_RUN_ID,
    #: see :meth:`_of_environment`): once it has ended, its data is refused with one warning
    #: instead of RunClosedError, since this process did not end it.
    _given = False

    def __init__(self, experiment: Experiment, run_id: str) -> None:
        self.experiment = experiment
        self._workspace = experiment.workspace
        self._engine = self._workspace.engine
        self._info = self._engine.store.get_run(run_id)
        self.id = self._info.run_id
        self.target = self._engine.target(self.id)
        if self._info.status in TERMINAL_STATUSES and not self.target.owned:
            self.target.closed = True

    # -- creation -------------------------------------------------------------

    @classmethod
    def _from_info(cls, workspace: Workspace, info: RunInfo, experiment: Experiment | None = None) -> Run:
        run = cls.__new__(cls)
        run.experiment = experiment or workspace.experiment_of(info)
        run._workspace = workspace
        run._engine = workspace.engine
        run._info = info
        run.id = info.run_id
        run.target = run._engine.target(run.id)
        if info.status in TERMINAL_STATUSES and not run.target.owned:
            run.target.closed = True
        return run

    @classmethod
    def _of_environment(cls, workspace: Workspace, info: RunInfo) -> Run:
        """The run named by TRACKLOG_RUN_ID, to log into without owning it. When it has
        ended (its process completed it while this one still logs), it stays as it is:
        never reopened, never ended here; its metrics, tags, params and files are refused
        with one warning (see :meth:`_refused`), as sources refuse records' run data."""
        run = cls._from_info(workspace, info)
        run._given = True
        run.target.watched = True  # the engine closes it here once its owner ends it
        return run

    @classmethod
    def _start(
        cls,
        experiment: Experiment,
        name: str | None,
        *,
        parent: Run | None = None,
        tags: Mapping[str, object] | None = None,
        outputs: str | os.PathLike[str] | None = None,
        snapshot_directory: str | os.PathLike[str] | None = None,
        run_type: str | None = None,
        make_current: bool = True,
        provenance: Mapping[str, str] | None = None,
    ) -> Run:
        """A new run of ``experiment``, owned by this process. ``provenance`` replaces this
        process's own (user, host, command, git) when the run stands for another program's
        (the OTLP receiver's runs are the services')."""
        store = experiment.workspace.store
        run_name = check_name(name, "run") if name else current.script_name()
        info = store.create_run(experiment.id, run_name, parent_run_id=parent.id if parent else None)
        run = cls._from_info(experiment.workspace, info, experiment)
        run.target.owned = True
        current.started(run)
        if make_current:
            current.push(run)
            # The records held for the run go first, before anything else can reach it:
            # collecting provenance runs git, and meanwhile other threads log into the run.
            held = current.take_held(run.id)
            if held:
                run.target.pipeline.put_many(held)
        extra = {TYPE_TAG: run_type} if run_type else {}
        origin = collect_provenance() if provenance is None else provenance
        run.set_tags({**origin, **extra, **(tags or {})})
        if outputs:
            run.track_outputs(outputs)
        if snapshot_directory:
            run.take_snapshot(snapshot_directory)
        return run

    def track_outputs(self, folder: str | os.PathLike[str]) -> None:
        """Create ``folder`` (./outputs) and collect what is new or changed in it when the run ends."""
        path = os.path.abspath(os.fspath(folder))
        os.makedirs(path, exist_ok=True)
        _outputs_at_end[self.id] = (path, outputs_snapshot(path))

    def take_snapshot(self, folder: str | os.PathLike[str]) -> int:
        """Copy ``folder`` into the run under ``snapshot/`` (see ``tracklog._snapshot``); files kept."""
        return _snapshot.take(self, os.fspath(folder), skip=[self._workspace.path])

    @classmethod
    def get_context(cls, allow_offline: bool = True, used_for_context_manager: bool = False, **_: Any) -> Run:
        """The current run: innermost active, else TRACKLOG_RUN_ID's (a submitted script's),
        else one started now (Azure's offline run, kept locally)."""
        run = current.current_run()
        assert isinstance(run, Run)
        return run

    @classmethod
    def get(cls, workspace: Workspace, run_id: str) -> Run:
        """Azure's ``Run.get(ws, run_id)``: the run with this id (or unique prefix)."""
        return workspace.get_run(run_id)

    @classmethod
    def list(
        cls,
        experiment: Experiment,
        type: str | None = None,
        tags: str | Mapping[str, Any] | Sequence[str] | None = None,
        properties: str | Mapping[str, Any] | Sequence[str] | None = None,
        status: str | None = None,
        include_children: bool = False,
        _rehydrate_runs: bool = True,
    ) -> Iterator[Run]:
        """Azure's ``Run.list(experiment, ...)``: the experiment's runs, newest first, filtered."""
        infos = experiment.workspace.store.search_runs(experiment_id=experiment.id)
        for info in infos:
            if not include_children and info.parent_run_id is not None:
                continue
            if status is not None and info.status != status:
                continue
            run = cls._from_info(experiment.workspace, info, experiment)
            if run._matches(type, tags, properties):
                yield run

    def _matches(self, run_type: str | None, tags: Any, properties: Any) -> bool:
        if run_type is not None and self.type != run_type:
            return False
        if tags is not None and not _filter_matches(self._engine.store.get_tags(self.id), tags):
            return False
        if properties is not None and not _filter_matches(self.get_properties(), properties):
            return False
        return True

    # -- identity and status ------------------------------------------------------

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def display_name(self) -> str:
        """The run's name as shown; settable (Azure's ``run.display_name = ...``)."""
        return self.info.name

    @display_name.setter
    def display_name(self, value: str) -> None:
        self._engine.store.set_run_name(self.id, check_name(value, "run"))
        self._info = self._engine.store.get_run(self.id)

    @property
    def description(self) -> str | None:
        """The run's description; settable."""
        return self.info.description

    @description.setter
    def description(self, value: str | None) -> None:
        self._engine.store.set_run_description(self.id, None if value is None else str(value))
        self._info = self._engine.store.get_run(self.id)

    @property
    def number(self) -> int:
        """Azure's run number: this run's place among its experiment's runs, from 1, oldest first."""
        infos = self._engine.store.search_runs(experiment_id=self._info.experiment_id)
        ids = [i.run_id for i in sorted(infos, key=lambda i: i.start_time)]
        return ids.index(self.id) + 1 if self.id in ids else 0

    @property
    def type(self) -> str:
        """Azure's run type: azureml.scriptrun (submitted, tracklog run), azureml.childrun,
        azureml.interactive (start_logging), as its tag says."""
        return self._engine.store.get_tags(self.id).get(TYPE_TAG) or (
            CHILD if self._info.parent_run_id else INTERACTIVE
        )

    @property
    def properties(self) -> dict[str, str]:
        """Azure's immutable properties (apart from tags)."""
        return self.get_properties()

    @property
    def tags(self) -> dict[str, str]:
        return self.get_tags()

    def get_status(self) -> str:
        """Running, Completed, Failed, Canceled, or Crashed (its process died)."""
        return self.status

    def get_portal_url(self) -> str:
        """The address of this run's page in ``tracklog ui`` (TRACKLOG_UI_URL for another address)."""
        return run_page_url(self.id)

    @property
    def info(self) -> RunInfo:
        """The stored record, refreshed (MLflow's ``run.info.run_id`` works)."""
        self._info = self._engine.store.get_run(self.id)
        return self._info

    @property
    def status(self) -> str:
        """Running, Completed, Failed, Canceled, or Crashed (its process died)."""
        return self.info.status

    @property
    def parent(self) -> Run | None:
        """The parent run, or None for a top-level run."""
        parent_id = self._info.parent_run_id
        return None if parent_id is None else self._workspace.get_run(parent_id)

    @property
    def workspace(self) -> Workspace:
        return self._workspace

    def get_details(self) -> dict[str, Any]:
        """Status, times, tags, properties and params in one dict (Azure ML's ``get_details``)."""
        info = self.info
        tags = self.get_tags()
        details: dict[str, Any] = {
            "runId": info.run_id,
            "target": "local",
            "experiment": info.experiment_name,
            "name": info.name,
            "displayName": info.name,
            "description": info.description,
            "status": info.status,
            "startTimeUtc": _utc(info.start_time),
            "endTimeUtc": _utc(info.end_time),
            "parentRunId": info.parent_run_id,
            "properties": self.get_properties(),
            "inputDatasets": [],
            "outputDatasets": [],
            "tags": tags,
            "params": self.get_params(),
            "logFiles": {n: n for n in self._engine.store.list_files(self.id) if n.startswith("logs/")},
            "submittedBy": info.user_id or tags.get("tracklog.user"),
        }
        if info.error:
            details["error"] = {"error": {"code": tags.get(ERROR_CODE_TAG, "UserError"), "message": info.error}}
        return details

    def get_details_with_logs(self) -> dict[str, Any]:
        """``get_details`` with the text of each log file under ``logFiles``."""
        details = self.get_details()
        texts = {}
        for name in details["logFiles"]:
            with self._engine.store.open_file(self.id, name) as handle:
                texts[name] = handle.read().decode("utf-8", "replace")
        details["logFiles"] = texts
        return details

    def wait_for_completion(
        self, show_output: bool = False, wait_post_processing: bool = False, raise_on_error: bool = True
    ) -> dict[str, Any]:
        """Wait until the run ends (a submitted script: its process; ``show_output`` streams
        its output); its details. ``raise_on_error``: ActivityFailedException when it failed."""
        waiter = _waiters.get(self.id)
        if waiter is not None:
            waiter.wait(show_output)
        else:
            while self.status not in TERMINAL_STATUSES:
                time.sleep(_POLL)
        self._flush_if_live()
        details = self.get_details()
        if raise_on_error and details["status"] == FAILED:
            raise ActivityFailedException(f"run {self.id} failed: {details.get('error', {}).get('error', {}).get('message')}")
        return details

    # -- the hot path -------------------------------------------------------------

    def _put(self, event: Event) -> None:
        self.target.pipeline.put(event)

    def _check_open(self) -> None:
        if self.target.closed:
            raise RunClosedError(
                f"run {self.id} has ended ({self._info.status}); start a new run to log more"
            )

    def _refused(self) -> bool:
        """False while the run is open. Once it has ended: True, after one warning per run,
        for the run this process was given by its environment (another process ended it);
        RunClosedError for any other (this process ended it, or named it itself)."""
        if not self.target.closed:
            return False
        if self._given:
            _refuse_ended(self)
            return True
        self._check_open()
        return False

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log a metric point: once, a scalar; repeated, a series over steps 0, 1, 2, ...

        Values and steps follow ``tracklog._values``: an unusable value is one warning
        and no point, never an exception; an invalid name raises InvalidNameError.
        """
        state = self.target
        if state.closed and self._refused():
            return
        if type(name) is not str or name not in NAMES:
            name = check_name(name)
        kind = type(value)
        if kind is not float and not (kind is int and -(2**63) <= value < 2**63):
            value = point_value(name, value)
            if value is UNCONVERTIBLE:
                return
        if step is not None and not (type(step) is int and -(2**63) <= step < 2**63):
            step = point_step(step)
        # A plain tuple of the Event's fields: cheaper to build, and soon untracked by the GC (Pipeline.put).
        self.target.pipeline.put((self.id, METRIC, name, value, state.step_for(name, step), _time(), 0, "", "", None))

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        """MLflow's spelling of :meth:`log`."""
        self.log(key, value, step=step)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log several metrics at one step."""
        for key, value in metrics.items():
            self.log(key, value, step=step)

    def log_list(self, name: str, value: Iterable[Any], description: str = "") -> None:
        """Log a list of values (any iterable) as one list metric."""
        if self._refused():
            return
        name = check_name(name)
        now = _time()
        events = []
        step_for = self.target.step_for
        try:
            # The steps go on from the name's last: a second list of one name adds to the first.
            for item in value:
                converted = point_value(name, item)
                if converted is not UNCONVERTIBLE:
                    events.append(Event(self.id, LIST, name, converted, step_for(name, None), now))
        except Exception as exc:  # an iterable of the user's that raises: the items before it are kept
            _warn_unreadable(name, "list", exc, len(events))
        self.target.pipeline.put_many(events)

    def log_row(self, name: str, description: str | None = None, **row: Any) -> None:
        """Add one row to a table metric: ``log_row("Cosine Wave", angle=0.5, cos=0.88)``."""
        if self._refused():
            return
        self._rows(name, [row])

    def log_table(self, name: str, value: Mapping[str, Iterable[Any]], description: str = "") -> None:
        """Log a table given as columns: ``{"angle": [1, 2], "sine": [0.8, 0.9]}``."""
        if self._refused():
            return
        name = check_name(name)
        columns: dict[str, list[Any]] = {}
        try:
            for key, cells in value.items():
                column = _column_name(key)
                try:
                    columns[column] = list(cells)
                except Exception as exc:
                    _warn_unreadable(f"{name}.{column}", "column", exc, 0)
        except Exception as exc:  # a mapping of the user's that raises: the columns before it are kept
            _warn_unreadable(name, "table", exc, len(columns))
        length = max((len(v) for v in columns.values()), default=0)
        rows = [{k: (v[i] if i < len(v) else None) for k, v in columns.items()} for i in range(length)]
        self._rows(name, rows)

    def _rows(self, name: str, rows: list[dict[str, Any]]) -> None:
        name = check_name(name)
        now = _time()
        events = []
        for row in rows:
            clean = {}
            for column, cell in row.items():
                column = _column_name(column)
                converted = point_value(f"{name}.{column}", cell) if cell is not None else None
                clean[column] = None if converted is UNCONVERTIBLE else converted
            text = encode_row(clean)
            events.append(Event(self.id, ROW, name, text, self.target.step_for(name, None), now))
        self.target.pipeline.put_many(events)

    def log_image(
        self,
        name: str,
        path: str | os.PathLike[str] | None = None,
        plot: Any = None,
        description: str = "",
    ) -> None:
        """Log an image from a file, a matplotlib Figure, or ``matplotlib.pyplot``."""
        if self._refused():
            return
        name = check_name(name)
        if (path is None) == (plot is None):
            raise ValueError("log_image needs exactly one of path=... or plot=...")
        step = self.target.step_for(name, None)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100]
        if path is not None:
            ext = os.path.splitext(os.fspath(path))[1] or ".png"
            file_name = f"images/{safe}_{step}{ext}"
            self.upload_file(file_name, os.fspath(path))
        else:
            figure = plot.gcf() if hasattr(plot, "gcf") else plot
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
            buffer.seek(0)
            file_name = f"images/{safe}_{step}.png"
            self.upload_file(file_name, buffer)
        self._put(Event(self.id, IMAGE, name, file_name, step, _time()))

    # -- Azure's charts -----------------------------------------------------------

    def log_confusion_matrix(self, name: str, value: Mapping[str, Any] | str, description: str = "") -> None:
        """Azure's confusion matrix: ``{"schema_type": "confusion_matrix", "data":
        {"class_labels": [...], "matrix": [[...]]}}`` (a dict or its JSON)."""
        self._azure_chart(name, value, "confusion_matrix", ("class_labels", "matrix"))

    def log_accuracy_table(self, name: str, value: Mapping[str, Any] | str, description: str = "") -> None:
        """Azure's accuracy table: data with probability_tables, percentile_tables,
        probability_thresholds, percentile_thresholds, class_labels."""
        self._azure_chart(name, value, "accuracy_table", ("probability_tables",))

    def log_residuals(self, name: str, value: Mapping[str, Any] | str, description: str = "") -> None:
        """Azure's residuals histogram: data with bin_edges and bin_counts."""
        self._azure_chart(name, value, "residuals", ("bin_edges", "bin_counts"))

    def log_predictions(self, name: str, value: Mapping[str, Any] | str, description: str = "") -> None:
        """Azure's predictions vs. truth: data with bin_averages, bin_errors, bin_counts, bin_edges."""
        self._azure_chart(name, value, "predictions", ("bin_averages", "bin_edges"))

    def _azure_chart(self, name: str, value: Mapping[str, Any] | str, kind: str, needed: tuple[str, ...]) -> None:
        """Keep one of Azure's chart payloads as ``charts/<name>.json``; get_metrics reads it back."""
        if self._refused():
            return
        name = check_name(name)
        body = json.loads(value) if isinstance(value, (str, bytes)) else dict(value)
        if not isinstance(body, dict):
            raise ValueError(f"{kind} {name!r}: give a dict (Azure's JSON shape), not {type(body).__name__}")
        data = body.get("data", body)
        missing = [k for k in needed if k not in data]
        if missing:
            raise ValueError(f"{kind} {name!r} lacks {', '.join(missing)} (Azure's {kind} shape)")
        payload = {"schema_type": kind, "schema_version": body.get("schema_version", "1.0.0"), "data": data}
        text = json.dumps(payload, allow_nan=True).encode("utf-8")
        self.upload_file(f"{CHARTS}{_safe_file(name)}.json", io.BytesIO(text))

    def register_model(
        self,
        model_name: str,
        model_path: str | None = None,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        description: str | None = None,
        **_ignored: Any,
    ) -> Model:
        """Register the run's file or folder ``model_path`` (e.g. outputs/model.pkl) as the
        next version of ``model_name`` in the workspace's registry; the Model. The path is
        read as the run's file names are (``./outputs/x``, ``outputs//x`` are ``outputs/x``)."""
        check_name(model_name, "model")
        path = check_file_name(model_path.lstrip("/")) if model_path else "outputs"
        self._flush_if_live()
        collect = _outputs_at_end.get(self.id)
        if collect is not None and path.startswith("outputs"):  # Azure uploads ./outputs first
            collect_outputs(self, collect[0], collect[1])
            _outputs_at_end[self.id] = (collect[0], outputs_snapshot(collect[0]))
        names = self._engine.store.list_files(self.id)
        if path not in names and not any(n.startswith(path + "/") for n in names):
            raise FileNotFoundError(
                f"run {self.id} has no file or folder {path!r} to register (get_file_names() lists its files)"
            )
        extra = {}
        if model_framework:
            extra["azureml.modelFramework"] = model_framework
        if model_framework_version:
            extra["azureml.modelFrameworkVersion"] = model_framework_version
        info = self._engine.store.create_model_version(
            model_name,
            f"runs:/{self.id}/{path}",
            run_id=self.id,
            model_path=path,
            description=description,
            tags={str(k): str(v) for k, v in (tags or {}).items()},
            properties={**extra, **{str(k): str(v) for k, v in (properties or {}).items()}},
        )
        return Model._of(self._workspace, info)

    def tag(self, key: str, value: Any = None) -> None:
        """Set a tag; ``tag("name")`` alone is a valueless tag. Tags may be set on an
        ended run too (as in Azure ML and MLflow)."""
        if self._given and self.target.closed:  # any other ended run takes tags, as in Azure ML
            _refuse_ended(self)
            return
        key = check_name(key, "tag")
        text = setting_value("tag", key, value)
        if text is not UNCONVERTIBLE:
            self._put(Event(self.id, TAG, key, text, None, _time()))

    def set_tag(self, key: str, value: Any) -> None:
        """MLflow's spelling of :meth:`tag`."""
        self.tag(key, value)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags."""
        for key, value in tags.items():
            self.tag(key, value)

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Add Azure ML's immutable properties (an ended run too); PropertyConflictError
        when one is already set to another value."""
        clean = {}
        for key, value in properties.items():
            key = check_name(key, "property")
            text = setting_value("property", key, value)
            if text is not UNCONVERTIBLE:
                clean[key] = text
        if clean:
            self._engine.store.add_properties(self.id, clean)

    def get_properties(self) -> dict[str, str]:
        """The run's properties (immutable, apart from tags)."""
        return self._engine.store.get_properties(self.id)

    def remove_tags(self, tags: str | Iterable[str]) -> None:
        """Remove tags from the run."""
        keys = [tags] if isinstance(tags, str) else list(tags)
        self._flush_if_live()
        self._engine.store.delete_tags(self.id, keys)

    def log_param(self, key: str, value: Any) -> None:
        """Set a param; setting it again with another value raises ParamConflictError."""
        if self._refused():
            return
        key = check_name(key, "param")
        text = setting_value("param", key, value)
        if text is not UNCONVERTIBLE:
            self._engine.store.set_param(self.id, key, text)  # now: a conflict raises here
            self._put(Event(self.id, PARAM, key, text, None, _time()))  # for the other sinks (OTLP)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Set several params."""
        for key, value in params.items():
            self.log_param(key, value)

    # -- files --------------------------------------------------------------------

    def upload_file(self, name: str, path_or_stream: str | os.PathLike[str] | IO[bytes]) -> None:
        """Copy a local file (or a binary stream) into the run under ``name``."""
        if self._given and self.target.closed:
            _refuse_ended(self)
            return
        name = check_file_name(name)
        if isinstance(path_or_stream, (str, os.PathLike)):
            source = os.fspath(path_or_stream)
            if not os.path.isfile(source):
                raise FileNotFoundError(f"upload_file: no file at {source!r} to upload as {name!r}")
            self._engine.store.put_file(self.id, name, source)
        else:
            self._engine.store.put_file(self.id, name, path_or_stream)

    def upload_folder(self, name: str, path: str | os.PathLike[str]) -> None:
        """Copy every file under a local folder into the run under ``name/``."""
        root = os.fspath(path)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"upload_folder: no folder at {root!r}")
        prefix = check_file_name(name)
        for local, rel in folder_files(root, skip=[self._engine.store.location]):
            self.upload_file(f"{prefix}/{rel}", local)

    def upload_files(
        self, names: Sequence[str], paths: Sequence[str | os.PathLike[str]], **_ignored: Any
    ) -> None:
        """Copy several local files into the run, ``names[i]`` from ``paths[i]``."""
        if len(names) != len(paths):
            raise ValueError(f"upload_files: {len(names)} names for {len(paths)} paths")
        for name, path in zip(names, paths):
            self.upload_file(name, path)

    def download_files(
        self,
        prefix: str | None = None,
        output_directory: str | os.PathLike[str] | None = None,
        output_paths: Sequence[str] | None = None,
        batch_size: int = 100,
        append_prefix: bool = True,
        **_ignored: Any,
    ) -> list[str]:
        """Copy the run's files whose names start with ``prefix`` under ``output_directory``
        (the current folder), keeping their names (``append_prefix=False``: without the prefix)."""
        self._flush_if_live()
        root = os.fspath(output_directory) if output_directory is not None else os.getcwd()
        chosen = [n for n in self._engine.store.list_files(self.id) if prefix is None or n.startswith(prefix)]
        written = []
        for index, name in enumerate(chosen):
            rel = name
            if not append_prefix and prefix:
                rel = name[len(prefix):].lstrip("/") or os.path.basename(name)
            dest = output_paths[index] if output_paths is not None else os.path.join(root, *rel.split("/"))
            os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
            with self._engine.store.open_file(self.id, name) as source, open(dest, "wb") as out:
                shutil.copyfileobj(source, out)
            written.append(dest)
        return written

    def restore_snapshot(self, snapshot_id: str | None = None, path: str | os.PathLike[str] | None = None) -> str:
        """Write the run's snapshot (its source folder as submitted) back under ``path``
        (``./snapshot_<run id>``), a folder rather than Azure's zip; the folder."""
        target = os.fspath(path) if path is not None else os.path.join(os.getcwd(), f"snapshot_{self.id}")
        files = [n for n in self.get_file_names() if n.startswith(_snapshot.PREFIX)]
        if not files:
            raise TracklogError(f"run {self.id} has no snapshot (submit and start_logging(snapshot_directory=...) take one)")
        self.download_files(_snapshot.PREFIX, target, append_prefix=False)
        return target

    def get_snapshot_id(self) -> str | None:
        """The snapshot's id: the run's id when it has a snapshot, else None."""
        return self.id if any(n.startswith(_snapshot.PREFIX) for n in self.get_file_names()) else None

    def get_file_names(self) -> list[str]:
        """Every file of the run: logs, uploads, images."""
        self._flush_if_live()
        return self._engine.store.list_files(self.id)

    def download_file(self, name: str, output_file_path: str | os.PathLike[str] | None = None) -> str:
        """Copy one of the run's files to a local path (a folder keeps the base name)."""
        self._flush_if_live()
        dest = os.fspath(output_file_path) if output_file_path is not None else os.path.basename(name)
        if os.path.isdir(dest):
            dest = os.path.join(dest, os.path.basename(name))
        with self._engine.store.open_file(self.id, name) as source, open(dest, "wb") as out:
            shutil.copyfileobj(source, out)
        return dest

    # -- reads ---------------------------------------------------------------------

    def _flush_if_live(self) -> None:
        self._engine.flush()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything logged so far is in the store."""
        self._engine.flush(timeout)

    def get_metrics(
        self, name: str | None = None, recursive: bool = False, run_type: str | None = None,
        populate: bool = False,
    ) -> dict[str, Any]:
        """Metrics by name: a scalar, a list, a dict of columns (tables), or image files.
        ``recursive``: ``{run_id: metrics}`` for this run and every descendant (Azure's shape)."""
        if recursive:
            runs = [self, *self.get_children(recursive=True)]
            return {
                r.id: r.get_metrics(name) for r in runs if run_type is None or r.type == run_type
            }
        self._flush_if_live()
        kinds = self._engine.store.metric_kinds(self.id)
        if name is not None:
            kinds = {name: kinds[name]} if name in kinds else {}
        found = {key: self._shape(key, kind) for key, kind in kinds.items()}
        found.update(self._charts(name))
        return found

    def _charts(self, name: str | None) -> dict[str, Any]:
        """Azure's chart payloads (log_confusion_matrix, ...) by metric name."""
        charts = {}
        for file in self._engine.store.list_files(self.id):
            if file.startswith(CHARTS) and file.endswith(".json"):
                key = file[len(CHARTS):-5]
                if name is None or _safe_file(name) == key:
                    with self._engine.store.open_file(self.id, file) as handle:
                        charts[name or key] = json.loads(handle.read())
        return charts

    def _shape(self, name: str, kind: str) -> Any:
        points = self._engine.store.metric_history(self.id, name)
        values = [p.value for p in points]
        if kind == ROW:
            return columns(values)
        if kind == LIST:
            return values
        return values[0] if len(values) == 1 else values

    def get_metric_history(self, name: str, rank: int | None = None) -> list[MetricPoint]:
        """Every point of one metric: ``(step, value, timestamp, rank)``, by step."""
        self._flush_if_live()
        return self._engine.store.metric_history(self.id, name, rank)

    def get_tags(self) -> dict[str, str]:
        self._flush_if_live()
        return self._engine.store.get_tags(self.id)

    def get_params(self) -> dict[str, str]:
        self._flush_if_live()
        return self._engine.store.get_params(self.id)

    def get_logs(
        self, level: int | str | None = None, logger: str | None = None, filename: str = "python.log"
    ) -> list[dict[str, Any]]:
        """The run's log records, structured; ``level`` is a minimum, ``logger`` a prefix.

        ``filename="std_log.txt"`` reads captured output instead: one record per line,
        with ``stream`` (filtered by ``logger="stdout"``), ``message`` and raw ``data``.
        """
        self._flush_if_live()
        if filename == "std_log.txt":
            return self._output_lines(logger)
        minimum = _levelno(level)
        records = []
        for line in self._engine.store.iter_log_lines(self.id, filename):
            record = decode_record(line)
            if record is None:
                continue
            if minimum is not None and record.get("levelno", 0) < minimum:
                continue
            if logger is not None:
                name = record.get("logger", "")
                if not (name == logger or name.startswith(logger + ".") or logger in ("", "root")):
                    continue
            records.append(record)
        return records

    def _output_lines(self, stream: str | None) -> list[dict[str, Any]]:
        """Captured output lines as records: time, ts, stream, rank, message (text), data (bytes)."""
        lines = read_output(self._engine.store.iter_log_lines(self.id, "std_log.txt"))
        return [
            {"time": line.time, "ts": line.ts, "stream": line.stream, "logger": line.stream,
             "rank": line.rank, "message": line.text, "data": line.data, "complete": line.complete}
            for line in lines
            if stream is None or line.stream == stream
        ]

    # -- captured output -----------------------------------------------------------

    def capture_output(self, fd: bool = False) -> OutputCapture:
        """Tee sys.stdout and sys.stderr into ``logs/std_log.txt`` (a context manager).

        ``fd=True`` also captures file descriptors 1 and 2 (C extensions, subprocesses);
        everything is restored exactly on exit, also after an exception.
        """
        return OutputCapture(self, fd)

    # -- children ------------------------------------------------------------------

    def child_run(self, name: str | None = None, run_id: str | None = None, outputs: str | None = None) -> Run:
        """Start a run whose parent is this one; it becomes the current run. ``run_id``
        names an existing child to return instead (tracklog mints run ids itself)."""
        if run_id is not None:
            child = self._workspace.get_run(run_id)
            if child._info.parent_run_id != self.id:
                raise TracklogError(
                    f"run {child.id} is not a child of run {self.id}: tracklog mints run ids itself, "
                    "so child_run(run_id=...) finds an existing child only"
                )
            return child
        return Run._start(self.experiment, name, parent=self, tags=None, outputs=outputs)

    def create_children(
        self, count: int | None = None, tag_key: str | None = None, tag_values: Sequence[str] | None = None
    ) -> list[Run]:
        """Start ``count`` child runs at once (or one per ``tag_values``, tagged ``tag_key``);
        none becomes the current run. Complete each; exit completes what is left."""
        if count is None and tag_values is None:
            raise ValueError("create_children needs count=... or tag_key=... with tag_values=...")
        values = list(tag_values) if tag_values is not None else [None] * int(count or 0)
        children = []
        for value in values:
            tags = {tag_key: value} if tag_key is not None and value is not None else None
            children.append(
                Run._start(self.experiment, None, parent=self, tags=tags, make_current=False)
            )
        return children

    def get_children(
        self,
        recursive: bool = False,
        tags: str | Mapping[str, Any] | Sequence[str] | None = None,
        properties: str | Mapping[str, Any] | Sequence[str] | None = None,
        type: str | None = None,
        status: str | None = None,
        _rehydrate_runs: bool = True,
    ) -> list[Run]:
        """This run's child runs, newest first; ``recursive``: their children too (each
        after its parent); filtered by tags, properties, type and status as Azure does."""
        found: list[Run] = []
        for info in self._engine.store.search_runs(parent_run_id=self.id):
            # A child may sit in another experiment (an MLflow script's set_experiment under tracklog run).
            same = info.experiment_name == self.experiment.name
            child = Run._from_info(self._workspace, info, self.experiment if same else None)
            if (status is None or info.status == status) and child._matches(type, tags, properties):
                found.append(child)
            if recursive:
                found.extend(child.get_children(True, tags, properties, type, status))
        return found

    # -- ending --------------------------------------------------------------------

    def complete(self) -> None:
        """Flush everything and mark the run Completed."""
        self._end(COMPLETED, None)

    def fail(
        self,
        error_details: BaseException | str | None = None,
        error_code: str | None = None,
        _set_status: bool = True,
        *,
        error: BaseException | str | None = None,
    ) -> None:
        """Flush everything and mark the run Failed, keeping the error's text (Azure's
        ``error_details``; ``error_code`` goes to get_details()'s error and a tag)."""
        detail = error_details if error_details is not None else error
        if isinstance(detail, BaseException):
            detail = "".join(traceback.format_exception(type(detail), detail, detail.__traceback__))
        if error_code is not None:
            self.tag(ERROR_CODE_TAG, str(error_code))
        self._end(FAILED, None if detail is None else str(detail))

    def cancel(self) -> None:
        """Flush everything and mark the run Canceled; a script submitted from this process
        is stopped first (SIGTERM, then SIGKILL after its grace), as Azure stops the job."""
        waiter = _waiters.get(self.id)
        if waiter is not None:
            waiter.stop()
        self._end(CANCELED, None)

    def _end(self, status: str, error: str | None) -> None:
        state = self.target
        if state.closed:
            return
        current.ending(self)
        state.closed = True
        current.ended(self)
        kept = _outputs_at_end.pop(self.id, None)
        if kept is not None:
            collect_outputs(self, kept[0], kept[1])
        if not state.pipeline.stalled:
            # For routing. A stalled pipeline sheds what it cannot keep, and counts it: a
            # run's end is not among the user's events it may say were lost.
            state.pipeline.put(Event(self.id, STATUS, status, error, None, _time()))
        self._engine.flush()
        self._engine.store.set_status(self.id, status, _time(), error)
        self._engine.store.flush()
        self._info = self._engine.store.get_run(self.id)

    def _reopen(self) -> None:
        """Mark an ended run Running again, held by this process from now on (MLflow's resume
        of a run by id): its crash check follows this process, not the one that made it."""
        self._engine.store.set_status(self.id, RUNNING, None, None)
        self.target.closed = False
        self.target.owned = True
        self._info = self._engine.store.get_run(self.id)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.complete()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.cancel()
        else:
            self.fail(exc)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Run):
            return other.id == self.id
        return NotImplemented  # an MLflow ActiveRun compares itself to the Run it wraps

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, experiment={self.experiment.name!r}, name={self.name!r})"


def _exit_end() -> tuple[str, str | None]:
    """The status (and error) the runs this process started end with at exit."""
    how = _lifecycle.uncaught()
    if how == _lifecycle.INTERRUPTED:
        return CANCELED, None
    return (FAILED, how) if how else (COMPLETED, None)


def _announce_exit_ends() -> None:
    """At exit, before OTLP routes stop (they stop while runs are open, see _lifecycle): put
    the end each started run is about to get on its pipeline, so routing sends it too."""
    status, error = _exit_end()
    for run in current.started_runs():
        if not run.target.closed and not run.target.pipeline.stalled:
            run.target.pipeline.put(Event(run.id, STATUS, status, error, None, _time()))


def _end_started_runs() -> None:
    """At exit: end what this process started, as the interpreter ends (see _lifecycle)."""
    status, error = _exit_end()
    for run in current.started_runs():
        try:
            if status == CANCELED:
                run.cancel()  # type: ignore[attr-defined]
            elif status == FAILED:
                run.fail(error=error)  # type: ignore[attr-defined]
            else:
                run.complete()  # type: ignore[attr-defined]
        except Exception:
            _diag.logger.debug("tracklog: ending run %s at exit failed", run.id, exc_info=True)


# Registered at import, before any route registers its stop: the ends go out first.
_lifecycle.at_exit(_lifecycle.STOP_ROUTES, _announce_exit_ends)
_lifecycle.at_exit(_lifecycle.END_RUNS, _end_started_runs)


def _refuse_ended(run: Run) -> None:
    """Say once per run (under the key the sources' refusal uses, so a process that mixes
    records and calls is told once) that data for ``run``, the environment's run, which
    the process that owns it has ended, is not recorded."""
    _diag.warn_once(
        ("closed", run.id),
        "tracklog: run %s, named by %s, has ended (%s) and is not this process's to reopen: "
        "metrics, tags, params and files logged into it from here are not recorded "
        "(start_run(run_id=...) resumes it)",
        run.id, _config.ENV_RUN_ID, run._info.status,
    )


def _filter_matches(have: Mapping[str, str], wanted: str | Mapping[str, Any] | Sequence[str]) -> bool:
    """Azure's tag/property filters: a key, several keys, or key -> value (all must hold)."""
    if isinstance(wanted, str):
        return wanted in have
    if isinstance(wanted, Mapping):
        return all(k in have and (v is None or have[k] == str(v)) for k, v in wanted.items())
    return all(k in have for k in wanted)


def _safe_file(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100]


def _utc(epoch: float | None) -> str | None:
    """Azure's time text (ISO 8601, UTC) of an epoch time."""
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}Z"


def _column_name(key: Any) -> str:
    """A table column's name as the text the store keeps (``str(key)``, never raising)."""
    if type(key) is not str:
        try:
            key = str(key)
        except Exception:
            key = f"<unprintable {type(key).__name__}>"
    return clean_text(str.__str__(key))


def _warn_unreadable(name: str, what: str, exc: Exception, kept: int) -> None:
    _diag.warn_once(
        ("unreadable", what, name, type(exc).__name__),
        "tracklog: metric %r: reading the %s raised %s (%s); %d items before it are logged",
        name,
        what,
        type(exc).__name__,
        safe_repr(exc),
        kept,
    )


def _levelno(level: int | str | None) -> int | None:
    if level is None or isinstance(level, int):
        return level
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return number
