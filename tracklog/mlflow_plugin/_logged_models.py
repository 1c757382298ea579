"""MLflow 3's logged models in a tracklog workspace (a mixin of TracklogStore).

A model logged from a run keeps its files in that run's folder, under
``models/<model_id>/artifacts/``, so tracklog's ``get_file_names`` lists them;
a model logged without a run keeps them in ``<workspace>/logged_models/<model_id>/``.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from mlflow.entities import LoggedModel, LoggedModelStatus
from mlflow.entities.lifecycle_stage import LifecycleStage
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.utils.name_utils import _generate_random_name
from mlflow.utils.search_utils import SearchLoggedModelsUtils

from ..store._tracking_records import ACTIVE, DELETED, LoggedModelRecord
from . import _convert
from ._errors import mlflow_errors

if TYPE_CHECKING:
    from mlflow.entities import Experiment

    from ..store import SQLiteStore

#: MLflow's default page size for search_logged_models.
_PAGE = 100


class LoggedModels:
    """create/get/search/finalize/delete logged models, their tags and params."""

    if TYPE_CHECKING:
        store: SQLiteStore

        def get_experiment(self, experiment_id: str) -> Experiment: ...

    def _model_location(self, model_id: str, source_run_id: str | None) -> str:
        if source_run_id:
            folder = os.path.join(self.store.run_dir(source_run_id), "models", model_id, "artifacts")
        else:
            folder = os.path.join(self.store.root, "logged_models", model_id, "artifacts")
        return "file://" + folder

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Any = None,
        params: Any = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise MlflowException(
                f"Could not create model under non-active experiment with ID {experiment_id}.", INVALID_STATE
            )
        model_id = f"m-{uuid.uuid4().hex}"
        now = time.time()
        record = LoggedModelRecord(
            model_id=model_id,
            experiment_id=experiment.experiment_id,
            name=name or _generate_random_name(),
            source_run_id=source_run_id,
            status=str(LoggedModelStatus.PENDING),
            model_type=model_type,
            artifact_location=self._model_location(model_id, source_run_id),
            created=now,
            updated=now,
            tags={t.key: str(t.value) for t in tags or []},
            params={p.key: str(p.value) for p in params or []},
        )
        with mlflow_errors():
            self.store.create_logged_model(record)
        return self.get_logged_model(model_id)

    def _record(self, model_id: str, allow_deleted: bool = False) -> LoggedModelRecord:
        record = self.store.logged_model(model_id)
        if record is None or (record.lifecycle == DELETED and not allow_deleted):
            raise MlflowException(f"Logged model with ID '{model_id}' not found.", RESOURCE_DOES_NOT_EXIST)
        return record

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        return _convert.logged_model(self._record(model_id, allow_deleted))

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        self._record(model_id)
        self.store.update_logged_model(model_id, status=str(LoggedModelStatus(status)))
        return self.get_logged_model(model_id)

    def delete_logged_model(self, model_id: str) -> None:
        self._record(model_id)
        self.store.update_logged_model(model_id, lifecycle=DELETED)

    def set_logged_model_tags(self, model_id: str, tags: Any) -> None:
        self._record(model_id)
        self.store.set_logged_model_tags(model_id, {t.key: str(t.value) for t in tags})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        record = self._record(model_id)
        if key not in record.tags:
            raise MlflowException(
                f"No tag with key {key!r} found for model with ID {model_id!r}.", RESOURCE_DOES_NOT_EXIST
            )
        self.store.delete_logged_model_tag(model_id, key)

    def log_logged_model_params(self, model_id: str, params: Any) -> None:
        self._record(model_id)
        self.store.log_logged_model_params(model_id, {p.key: str(p.value) for p in params})

    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: list[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        if datasets and not all(d.get("dataset_name") for d in datasets):
            raise MlflowException("`dataset_name` in the `datasets` clause must be specified.", INVALID_PARAMETER_VALUE)
        ids = [self.get_experiment(e).experiment_id for e in experiment_ids]
        models = [_convert.logged_model(r) for r in self.store.logged_models(ids) if r.lifecycle == ACTIVE]
        filtered = SearchLoggedModelsUtils.filter_logged_models(models, filter_string, datasets)
        ordered = SearchLoggedModelsUtils.sort(filtered, order_by)
        page, token = SearchLoggedModelsUtils.paginate(ordered, page_token, max_results or _PAGE)
        return PagedList(page, token)
