"""RunTarget: what a source writes into. A run's id, its pipeline, its step counters.

Every source (RunHandler, the structlog processor, the OpenTelemetry exporters,
captured output) reaches a run only through its target: ``target.pipeline.put``
for events, ``target.step_for`` for the next step of a metric, ``target.closed``
once the run has ended. The user's ``Run`` owns one; sources never see ``Run``.
"""

from __future__ import annotations

from typing import Protocol

from .writer import Pipeline

__all__ = ["HasTarget", "RunTarget"]


class RunTarget:
    """What this process knows about one live run: where its events go, its step
    counters, and whether it has ended (or is owned by this process)."""

    __slots__ = ("closed", "owned", "pipeline", "run_id", "steps", "watched")

    def __init__(self, run_id: str, pipeline: Pipeline) -> None:
        self.run_id = run_id
        self.pipeline = pipeline
        self.steps: dict[str, int] = {}
        self.closed = False
        self.owned = False
        #: Another process's run this one logs into (the environment's): its owner may end
        #: it at any time, so the engine reads its status again now and then.
        self.watched = False

    def step_for(self, name: str, step: int | None) -> int:
        """``step`` when given (and remember it), else the next step for ``name``.
        RunHandler's fast path does the same inline."""
        steps = self.steps
        if step is None:
            step = steps.get(name, 0)
            steps[name] = step + 1
        elif step >= steps.get(name, 0):
            steps[name] = step + 1
        return step

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything put so far reached the sinks."""
        return self.pipeline.flush(timeout)

    def __repr__(self) -> str:
        return f"<RunTarget {self.run_id}{' (closed)' if self.closed else ''}>"


class HasTarget(Protocol):
    """Anything a source can be handed as its run: the user's ``Run`` is one."""

    @property
    def id(self) -> str: ...

    @property
    def target(self) -> RunTarget: ...
