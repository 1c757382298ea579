"""Azure ML's workspace config.json: found, read and written as the v1 SDK does.

``Workspace.from_config()`` looks for ``config.json`` (also in ``.azureml/`` and
``aml_config/``) in the folder given, else the current folder and its parents. The
file names an Azure workspace (subscription_id, resource_group, workspace_name);
tracklog keeps the names and logs into a local workspace folder: the file's
``tracklog_workspace`` key when present (relative to the file's folder), else the
default location (``set_tracking_uri``, ``TRACKLOG_WORKSPACE``, ``./.tracklog``).
"""

from __future__ import annotations

import json
import os

from ._errors import WorkspaceError
from ._record import FrozenRecord

CONFIG_NAME = "config.json"
_SUBFOLDERS = ("", ".azureml", "aml_config")
#: What Azure calls the region; a local workspace is in none.
LOCAL_REGION = "local"
DEFAULT_NAME = "local"


class AzureNames(FrozenRecord):
    """The names an Azure workspace is known by, and where its config came from."""

    __slots__ = ("subscription_id", "resource_group", "workspace_name", "region", "folder", "config_file")
    subscription_id: str | None
    resource_group: str | None
    workspace_name: str | None
    region: str
    #: the local workspace folder the config asks for (absolute), or None: the default
    folder: str | None
    config_file: str | None

    def __init__(
        self,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        region: str = LOCAL_REGION,
        folder: str | None = None,
        config_file: str | None = None,
    ) -> None:
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.workspace_name = workspace_name
        self.region = region
        self.folder = folder
        self.config_file = config_file


def find_config(path: str | os.PathLike[str] | None = None, file_name: str | None = None) -> str | None:
    """The config file Azure's from_config would read, or None when there is none."""
    name = file_name or CONFIG_NAME
    if path is not None and os.path.isfile(path):
        return os.path.abspath(path)
    start = os.path.abspath(os.fspath(path) if path is not None else os.getcwd())
    folders = [start] if path is not None else _parents(start)
    for folder in folders:
        for sub in _SUBFOLDERS:
            candidate = os.path.join(folder, sub, name)
            if os.path.isfile(candidate):
                return candidate
    return None


def _parents(start: str) -> list[str]:
    chain = [start]
    while True:
        parent = os.path.dirname(chain[-1])
        if parent == chain[-1]:
            return chain
        chain.append(parent)


def read_config(file: str) -> AzureNames:
    """The names in one config file; WorkspaceError when it is not Azure's JSON shape."""
    try:
        with open(file, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise WorkspaceError(f"cannot read the workspace config {file}: {exc}") from exc
    if not isinstance(data, dict):
        raise WorkspaceError(f"the workspace config {file} is not a JSON object")
    folder = data.get("tracklog_workspace")
    if isinstance(folder, str) and folder:
        folder = os.path.join(os.path.dirname(file), os.path.expanduser(folder))
    else:
        folder = None
    return AzureNames(
        subscription_id=_text(data.get("subscription_id")),
        resource_group=_text(data.get("resource_group")),
        workspace_name=_text(data.get("workspace_name")),
        region=_text(data.get("location")) or LOCAL_REGION,
        folder=os.path.abspath(folder) if folder else None,
        config_file=file,
    )


def write_config(names: AzureNames, folder: str, path: str | None, file_name: str | None) -> str:
    """Write Azure's config.json to ``<path or cwd>/.azureml/<file_name>``; its path."""
    target_dir = os.path.join(os.path.abspath(path or os.getcwd()), ".azureml")
    os.makedirs(target_dir, exist_ok=True)
    target = os.path.join(target_dir, file_name or CONFIG_NAME)
    data = {
        "subscription_id": names.subscription_id,
        "resource_group": names.resource_group,
        "workspace_name": names.workspace_name,
        "tracklog_workspace": folder,
    }
    with open(target, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=4)
        handle.write("\n")
    return target


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
