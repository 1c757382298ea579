"""Plain records the store hands back: experiments, runs, metric points."""

from __future__ import annotations

from typing import Any, NamedTuple

from ._record import FrozenRecord

# Run statuses, in Azure ML's words; MLflow's words map onto them (see _fluent).
RUNNING = "Running"
COMPLETED = "Completed"
FAILED = "Failed"
CANCELED = "Canceled"
#: A run whose owning process died without ending it (detected by pid or heartbeat).
CRASHED = "Crashed"
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, CANCELED, CRASHED})
#: The owner pid of a run no process of ours holds (one made by MLflow's client API, as
#: ``MlflowClient.create_run``): it stays Running until someone ends it, as in MLflow.
NO_OWNER = 0


class MetricPoint(NamedTuple):
    """One metric point as read back: its step, value, time (epoch seconds) and rank."""

    step: int
    value: Any
    timestamp: float
    rank: int | None = None


class ExperimentInfo(FrozenRecord):
    """An experiment: a named group of runs."""

    __slots__ = ("experiment_id", "name", "created")
    experiment_id: str
    name: str
    created: float

    def __init__(self, experiment_id: str, name: str, created: float) -> None:
        self.experiment_id = experiment_id
        self.name = name
        self.created = created


class RunInfo(FrozenRecord):
    """A run's control-plane record as stored (MLflow's ``run.info`` names work too)."""

    __slots__ = (
        "run_id",
        "experiment_id",
        "experiment_name",
        "name",
        "status",
        "start_time",
        "end_time",
        "parent_run_id",
        "error",
        "owner_pid",
        "owner_host",
        "heartbeat",
        "extra",
        "lifecycle",
        "description",
        "user_id",
    )
    run_id: str
    experiment_id: str
    experiment_name: str
    name: str
    status: str
    start_time: float
    end_time: float | None
    parent_run_id: str | None
    error: str | None
    owner_pid: int | None
    owner_host: str | None
    heartbeat: float | None
    extra: dict[str, Any]
    #: "active", or "deleted" (MLflow's delete_run; restore_run makes it active again).
    lifecycle: str
    description: str | None
    user_id: str | None

    def __init__(
        self,
        run_id: str,
        experiment_id: str,
        experiment_name: str,
        name: str,
        status: str,
        start_time: float,
        end_time: float | None = None,
        parent_run_id: str | None = None,
        error: str | None = None,
        owner_pid: int | None = None,
        owner_host: str | None = None,
        heartbeat: float | None = None,
        extra: dict[str, Any] | None = None,
        lifecycle: str = "active",
        description: str | None = None,
        user_id: str | None = None,
    ) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.experiment_name = experiment_name
        self.name = name
        self.status = status
        self.start_time = start_time
        self.end_time = end_time
        self.parent_run_id = parent_run_id
        self.error = error
        self.owner_pid = owner_pid
        self.owner_host = owner_host
        self.heartbeat = heartbeat
        self.extra = {} if extra is None else extra
        self.lifecycle = lifecycle
        self.description = description
        self.user_id = user_id

    @property
    def run_name(self) -> str:
        return self.name

    @property
    def lifecycle_stage(self) -> str:
        return self.lifecycle
