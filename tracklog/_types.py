"""Plain records the store hands back: experiments, runs, metric points."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

# Run statuses, in Azure ML's words; MLflow's words map onto them (see _fluent).
RUNNING = "Running"
COMPLETED = "Completed"
FAILED = "Failed"
CANCELED = "Canceled"
#: A run whose owning process died without ending it (detected by pid or heartbeat).
CRASHED = "Crashed"
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, CANCELED, CRASHED})


class MetricPoint(NamedTuple):
    """One metric point as read back: its step, value, time (epoch seconds) and rank."""

    step: int
    value: Any
    timestamp: float
    rank: int | None = None


@dataclass(frozen=True)
class ExperimentInfo:
    """An experiment: a named group of runs."""

    experiment_id: str
    name: str
    created: float


@dataclass(frozen=True)
class RunInfo:
    """A run's control-plane record as stored (MLflow's ``run.info`` names work too)."""

    run_id: str
    experiment_id: str
    experiment_name: str
    name: str
    status: str
    start_time: float
    end_time: float | None = None
    parent_run_id: str | None = None
    error: str | None = None
    owner_pid: int | None = None
    owner_host: str | None = None
    heartbeat: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: "active", or "deleted" (MLflow's delete_run; restore_run makes it active again).
    lifecycle: str = "active"
    description: str | None = None
    user_id: str | None = None

    @property
    def run_name(self) -> str:
        return self.name

    @property
    def lifecycle_stage(self) -> str:
        return self.lifecycle
