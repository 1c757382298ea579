"""Model: Azure ML's registered model, over the workspace's model registry.

A version registered from a run (``run.register_model``) points at the run's files
under ``model_path``; one registered from local files (``Model.register``) is copied
into the workspace's ``models/<name>/<version>/`` folder.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any, Mapping

from ._errors import TracklogError
from ._values import check_name
from .store import ModelNotFoundError, ModelVersionInfo

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = ["Model"]


def _texts(values: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in (values or {}).items()}


class Model:
    """A version of a registered model: ``Model(ws, name)`` is its latest version,
    ``Model(ws, name, version=2)`` or ``Model(ws, id="name:2")`` a given one."""

    def __init__(
        self,
        workspace: Workspace,
        name: str | None = None,
        id: str | None = None,
        tags: Any = None,
        properties: Any = None,
        version: int | None = None,
        run_id: str | None = None,
        **_ignored: Any,
    ) -> None:
        if id is not None:
            name, _, number = id.partition(":")
            version = int(number) if number else version
        if not name:
            raise ValueError("Model needs name=... or id='name:version'")
        self.workspace = workspace
        store = workspace.store
        if version is None:
            versions = store.search_model_versions(name=name, run_id=run_id)
            if not versions:
                raise ModelNotFoundError(f"no registered model {name!r} in workspace {workspace.path}")
            info = versions[0]
        else:
            info = store.get_model_version(name, int(version))
        self._info = info

    @classmethod
    def _of(cls, workspace: Workspace, info: ModelVersionInfo) -> Model:
        model = cls.__new__(cls)
        model.workspace = workspace
        model._info = info
        return model

    # -- what it is ------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def version(self) -> int:
        return self._info.version

    @property
    def id(self) -> str:
        """Azure's model id, ``name:version``."""
        return f"{self.name}:{self.version}"

    @property
    def run_id(self) -> str | None:
        return self._info.run_id

    @property
    def model_path(self) -> str | None:
        return self._info.model_path

    @property
    def url(self) -> str:
        """Where its files are: ``runs:/<run_id>/<path>`` or the registry folder."""
        return self._info.source

    @property
    def description(self) -> str | None:
        return self._info.description

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._info.tags)

    @property
    def properties(self) -> dict[str, str]:
        return dict(self._info.properties)

    @property
    def created_time(self) -> float:
        return self._info.created

    def _refresh(self) -> None:
        self._info = self.workspace.store.get_model_version(self.name, self.version)

    # -- changes ---------------------------------------------------------------------

    def add_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in _texts(tags).items():
            self.workspace.store.set_model_version_tag(self.name, self.version, key, value)
        self._refresh()

    def remove_tags(self, tags: str | list[str]) -> None:
        for key in [tags] if isinstance(tags, str) else tags:
            self.workspace.store.delete_model_version_tag(self.name, self.version, key)
        self._refresh()

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Immutable, as in Azure: PropertyConflictError for another value."""
        self.workspace.store.add_model_version_properties(self.name, self.version, _texts(properties))
        self._refresh()

    def update(self, tags: Mapping[str, Any] | None = None, description: str | None = None, **_: Any) -> None:
        if tags:
            self.add_tags(tags)
        if description is not None:
            self.workspace.store.update_model_version(self.name, self.version, description)
        self._refresh()

    def delete(self) -> None:
        self.workspace.store.delete_model_version(self.name, self.version)

    # -- files -----------------------------------------------------------------------

    def _local_path(self) -> str:
        """The folder or file holding this version's files (in the workspace folder)."""
        root = getattr(self.workspace.store, "root", None)
        if root is None:
            raise TracklogError(f"model files are only kept in a workspace folder, not at {self.workspace.path}")
        if self.run_id is not None and self.model_path is not None:
            return os.path.join(root, "runs", self.run_id, *self.model_path.split("/"))
        return os.path.join(root, "models", self.name, str(self.version), *(self.model_path or "").split("/"))

    def download(self, target_dir: str = ".", exist_ok: bool = False, **_: Any) -> str:
        """Copy the model's file (or folder) into ``target_dir``; the copy's path."""
        source = self._local_path()
        dest = os.path.join(target_dir, os.path.basename(source.rstrip(os.sep)))
        if os.path.exists(dest) and not exist_ok:
            raise FileExistsError(f"{dest} exists: pass exist_ok=True to overwrite it")
        os.makedirs(target_dir, exist_ok=True)
        if os.path.isdir(source):
            shutil.copytree(source, dest, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, dest)
        return dest

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: Workspace | None = None) -> str:
        """The local path of a registered model's files (Azure's scoring-script helper)."""
        if _workspace is None:
            raise TracklogError("Model.get_model_path needs _workspace=ws outside a deployment")
        return Model(_workspace, model_name, version=version)._local_path()

    # -- the registry ----------------------------------------------------------------

    @classmethod
    def register(
        cls,
        workspace: Workspace,
        model_path: str,
        model_name: str,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
        **_ignored: Any,
    ) -> Model:
        """Register local files (a file or a folder): copied into ``models/<name>/<version>/``."""
        check_name(model_name, "model")
        if not os.path.exists(model_path):
            raise FileNotFoundError(f"Model.register: no file or folder at {model_path!r}")
        root = getattr(workspace.store, "root", None)
        if root is None:
            raise TracklogError(f"Model.register keeps files in a workspace folder, not at {workspace.path}")
        base = os.path.basename(os.path.abspath(model_path))
        info = workspace.store.create_model_version(
            model_name, "", model_path=base, description=description,
            tags=_texts(tags), properties=_texts(properties),
        )
        dest = os.path.join(root, "models", model_name, str(info.version), base)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.isdir(model_path):
            shutil.copytree(model_path, dest)
        else:
            shutil.copyfile(model_path, dest)
        return cls._of(workspace, info)

    @classmethod
    def list(
        cls,
        workspace: Workspace,
        name: str | None = None,
        tags: Any = None,
        properties: Any = None,
        run_id: str | None = None,
        latest: bool = False,
        **_ignored: Any,
    ) -> list[Model]:
        """Registered model versions, by name then newest first; filtered as Azure's
        (``tags``/``properties``: names, or [name, value] pairs)."""
        found = []
        seen: set[str] = set()
        for info in workspace.store.search_model_versions(name=name, run_id=run_id):
            if latest and info.name in seen:
                continue
            if _wanted(info.tags, tags) and _wanted(info.properties, properties):
                seen.add(info.name)
                found.append(cls._of(workspace, info))
        return found

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other.id == self.id and other.workspace == self.workspace

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, version={self.version}, run_id={self.run_id!r})"


def _wanted(have: Mapping[str, str], wanted: Any) -> bool:
    if not wanted:
        return True
    if isinstance(wanted, Mapping):
        return all(have.get(k) == str(v) for k, v in wanted.items())
    for item in [wanted] if isinstance(wanted, str) else wanted:
        if isinstance(item, (list, tuple)):
            if have.get(str(item[0])) != str(item[1]):
                return False
        elif item not in have:
            return False
    return True
