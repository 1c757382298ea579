"""Records and errors of the workspace's model registry and of Azure's run properties."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._errors import TracklogError

#: Model version stages (MLflow's words); a deleted version is kept, hidden, so numbers never repeat.
STAGES = ("None", "Staging", "Production", "Archived")
DELETED_STAGE = "Deleted_Internal"


class ModelNotFoundError(TracklogError, LookupError):
    """No registered model (or model version, or alias) with this name."""


class ModelExistsError(TracklogError, ValueError):
    """A registered model with this name exists already (create_registered_model, rename)."""


class PropertyConflictError(TracklogError, ValueError):
    """A run (or model version) property was set again with another value: properties are immutable."""


@dataclass(frozen=True)
class RegisteredModelInfo:
    """A registered model: a name, its description, tags, aliases and latest version number."""

    name: str
    description: str | None
    created: float
    updated: float
    tags: dict[str, str] = field(default_factory=dict)
    #: alias -> version number
    aliases: dict[str, int] = field(default_factory=dict)
    #: the highest live version number, None when it has none
    latest_version: int | None = None


@dataclass(frozen=True)
class ModelVersionInfo:
    """One version of a registered model: where its files are (a run's folder or any URI)."""

    name: str
    version: int
    run_id: str | None
    source: str
    model_path: str | None
    description: str | None
    status: str
    stage: str
    model_id: str | None
    created: float
    updated: float
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
