"""Records and errors of the workspace's model registry and of Azure's run properties."""

from __future__ import annotations

from .._errors import TracklogError
from .._record import FrozenRecord

#: Model version stages (MLflow's words); a deleted version is kept, hidden, so numbers never repeat.
STAGES = ("None", "Staging", "Production", "Archived")
DELETED_STAGE = "Deleted_Internal"


class ModelNotFoundError(TracklogError, LookupError):
    """No registered model (or model version, or alias) with this name."""


class ModelExistsError(TracklogError, ValueError):
    """A registered model with this name exists already (create_registered_model, rename)."""


class PropertyConflictError(TracklogError, ValueError):
    """A run (or model version) property was set again with another value: properties are immutable."""


class RegisteredModelInfo(FrozenRecord):
    """A registered model: a name, its description, tags, aliases and latest version number."""

    __slots__ = ("name", "description", "created", "updated", "tags", "aliases", "latest_version")
    name: str
    description: str | None
    created: float
    updated: float
    tags: dict[str, str]
    #: alias -> version number
    aliases: dict[str, int]
    #: the highest live version number, None when it has none
    latest_version: int | None

    def __init__(
        self,
        name: str,
        description: str | None,
        created: float,
        updated: float,
        tags: dict[str, str] | None = None,
        aliases: dict[str, int] | None = None,
        latest_version: int | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.created = created
        self.updated = updated
        self.tags = {} if tags is None else tags
        self.aliases = {} if aliases is None else aliases
        self.latest_version = latest_version


class ModelVersionInfo(FrozenRecord):
    """One version of a registered model: where its files are (a run's folder or any URI)."""

    __slots__ = (
        "name",
        "version",
        "run_id",
        "source",
        "model_path",
        "description",
        "status",
        "stage",
        "model_id",
        "created",
        "updated",
        "tags",
        "properties",
        "aliases",
    )
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
    tags: dict[str, str]
    properties: dict[str, str]
    aliases: list[str]

    def __init__(
        self,
        name: str,
        version: int,
        run_id: str | None,
        source: str,
        model_path: str | None,
        description: str | None,
        status: str,
        stage: str,
        model_id: str | None,
        created: float,
        updated: float,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        aliases: list[str] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.run_id = run_id
        self.source = source
        self.model_path = model_path
        self.description = description
        self.status = status
        self.stage = stage
        self.model_id = model_id
        self.created = created
        self.updated = updated
        self.tags = {} if tags is None else tags
        self.properties = {} if properties is None else properties
        self.aliases = [] if aliases is None else aliases
