"""TracklogRegistryStore: MLflow's model registry store over the workspace's registry.

``mlflow.register_model`` and ``log_model(registered_model_name=...)`` land in the same
registry Azure's ``run.register_model`` uses (store/_sqlite_registry.py). A version made
from a logged model or a run's files keeps that run and the path inside its folder.
"""

from __future__ import annotations

import os
from typing import Any

from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from mlflow.entities.model_registry.registered_model_alias import RegisteredModelAlias
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.utils.search_utils import (
    SearchModelUtils,
    SearchModelVersionUtils,
    SearchUtils,
)

from ..store import SQLiteStore
from ..store._registry_types import ModelVersionInfo, RegisteredModelInfo
from ..workspace import Workspace
from ._convert import ms
from ._errors import mlflow_errors, refuse_unsupported
from ._uri import workspace_path

_MODELS_PREFIX = "models:/"
_PAGE = 100


class TracklogRegistryStore(AbstractStore):
    """MLflow's model registry for ``tracklog:PATH``: the workspace's registered models."""

    def __init__(self, store_uri: str | None = None, tracking_uri: str | None = None) -> None:
        super().__init__(store_uri, tracking_uri)
        with mlflow_errors():
            workspace = Workspace(workspace_path(store_uri))
        store = workspace.store
        if not isinstance(store, SQLiteStore):
            raise MlflowException(f"{store_uri!r} is not a workspace folder")
        self.store: SQLiteStore = store
        self.engine = workspace.engine

    # -- conversions ------------------------------------------------------------------

    def _model(self, info: RegisteredModelInfo, with_latest: bool = True) -> RegisteredModel:
        latest = []
        if with_latest and info.latest_version is not None:
            with mlflow_errors():
                latest = [self._version(v) for v in self.store.get_latest_versions(info.name)]
        return RegisteredModel(
            name=info.name,
            creation_timestamp=ms(info.created),
            last_updated_timestamp=ms(info.updated),
            description=info.description,
            latest_versions=latest,
            tags=[RegisteredModelTag(k, v) for k, v in info.tags.items()],
            aliases=[RegisteredModelAlias(a, int(v)) for a, v in info.aliases.items()],
        )

    def _version(self, info: ModelVersionInfo) -> ModelVersion:
        """A version as MLflow's own registries give it: its number an int, as theirs."""
        return ModelVersion(
            name=info.name,
            version=int(info.version),
            creation_timestamp=ms(info.created),  # type: ignore[arg-type]
            last_updated_timestamp=ms(info.updated),
            description=info.description,
            current_stage=info.stage,
            source=info.source,
            run_id=info.run_id,
            status=info.status,
            tags=[ModelVersionTag(k, v) for k, v in info.tags.items()],
            aliases=list(info.aliases),
            model_id=info.model_id,
        )

    # -- registered models --------------------------------------------------------------

    def create_registered_model(
        self, name: str, tags: Any = None, description: str | None = None, deployment_job_id: Any = None
    ) -> RegisteredModel:
        if not name:
            raise MlflowException("Registered model name cannot be empty.", INVALID_PARAMETER_VALUE)
        with mlflow_errors():
            info = self.store.create_registered_model(name, description, {t.key: t.value for t in tags or []})
        return self._model(info)

    def update_registered_model(self, name: str, description: str | None, deployment_job_id: Any = None) -> RegisteredModel:
        with mlflow_errors():
            return self._model(self.store.update_registered_model(name, description))

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        with mlflow_errors():
            return self._model(self.store.rename_registered_model(name, new_name))

    def delete_registered_model(self, name: str) -> None:
        with mlflow_errors():
            self.store.delete_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with mlflow_errors():
            return self._model(self.store.get_registered_model(name))

    def search_registered_models(
        self, filter_string: str | None = None, max_results: int | None = None, order_by: Any = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        with mlflow_errors():
            models = [self._model(i) for i in self.store.search_registered_models()]
        filtered = SearchModelUtils.filter(models, filter_string)
        ordered = SearchModelUtils.sort(filtered, order_by)
        page, token = SearchUtils.paginate(ordered, page_token, max_results or _PAGE)
        return PagedList(page, token)

    def get_latest_versions(self, name: str, stages: Any = None) -> list[ModelVersion]:
        with mlflow_errors():
            return [self._version(v) for v in self.store.get_latest_versions(name, stages)]

    def set_registered_model_tag(self, name: str, tag: Any) -> None:
        with mlflow_errors():
            self.store.set_registered_model_tag(name, tag.key, str(tag.value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        with mlflow_errors():
            self.store.delete_registered_model_tag(name, key)

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        with mlflow_errors():
            self.store.set_registered_model_alias(name, alias, int(version))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        with mlflow_errors():
            self.store.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with mlflow_errors():
            return self._version(self.store.get_model_version_by_alias(name, alias))

    # -- model versions -------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Any = None,
        run_link: str | None = None,
        description: str | None = None,
        local_model_path: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        location = source
        if source.startswith(_MODELS_PREFIX + "m-"):
            model_id = model_id or source[len(_MODELS_PREFIX):].split("/")[0]
        if model_id:
            record = self.store.logged_model(model_id)
            if record is not None:
                location = record.artifact_location
                run_id = run_id or record.source_run_id
        with mlflow_errors():
            info = self.store.create_model_version(
                name,
                source,
                run_id=run_id,
                model_path=self._path_in_run(run_id, location),
                description=description,
                tags={t.key: t.value for t in tags or []},
                model_id=model_id,
            )
        return self._version(info)

    def _path_in_run(self, run_id: str | None, location: str) -> str | None:
        """Where the model's files are inside the run's folder (None: elsewhere)."""
        if not run_id:
            return None
        folder = location.removeprefix("file://")
        run_dir = self.store.run_dir(run_id)
        if not os.path.isabs(folder) or os.path.commonpath([folder, run_dir]) != run_dir:
            return None
        return os.path.relpath(folder, run_dir).replace(os.sep, "/")

    def update_model_version(self, name: str, version: str, description: str | None) -> ModelVersion:
        with mlflow_errors():
            return self._version(self.store.update_model_version(name, int(version), description))

    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        with mlflow_errors():
            return self._version(
                self.store.transition_model_version_stage(name, int(version), stage, archive_existing_versions)
            )

    def delete_model_version(self, name: str, version: str) -> None:
        with mlflow_errors():
            self.store.delete_model_version(name, int(version))

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        with mlflow_errors():
            return self._version(self.store.get_model_version(name, version))

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        with mlflow_errors():
            info = self.store.get_model_version(name, version)
        if info.run_id and info.model_path:
            return "file://" + os.path.join(self.store.run_dir(info.run_id), info.model_path)
        if info.model_id:
            record = self.store.logged_model(info.model_id)
            if record is not None:
                return record.artifact_location
        return info.source

    def search_model_versions(
        self, filter_string: str | None = None, max_results: int | None = None, order_by: Any = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        with mlflow_errors():
            versions = [self._version(v) for v in self.store.search_model_versions()]
        filtered = SearchModelVersionUtils.filter(versions, filter_string)
        ordered = SearchModelVersionUtils.sort(filtered, order_by or ["last_updated_timestamp DESC"])
        page, token = SearchUtils.paginate(ordered, page_token, max_results or _PAGE)
        return PagedList(page, token)

    def set_model_version_tag(self, name: str, version: str, tag: Any) -> None:
        with mlflow_errors():
            self.store.set_model_version_tag(name, int(version), tag.key, str(tag.value))

    def delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        with mlflow_errors():
            self.store.delete_model_version_tag(name, int(version), key)

    def copy_model_version(self, src_mv: ModelVersion, dst_name: str) -> ModelVersion:
        try:
            self.create_registered_model(dst_name)
        except MlflowException:
            pass  # exists already
        return self.create_model_version(
            dst_name, f"models:/{src_mv.name}/{src_mv.version}", src_mv.run_id, model_id=src_mv.model_id
        )


# Webhooks and what else the workspace does not keep: MLflow's error, with a clear message.
refuse_unsupported(TracklogRegistryStore, AbstractStore)
