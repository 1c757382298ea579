"""structlog straight into a run: RunProcessor records every event and its numbers.

    python examples/structlog_metrics.py
    tracklog metrics <run id>

RunProcessor sits in the processor chain before your renderer and passes each event
on unchanged, so the console still shows it. Here ``metrics=["loss", "acc"]`` makes
those keys run metrics at the event's ``step``; ``metrics="numeric"`` would take every
number, and the default takes only the explicit ``metric=``/``metrics=`` convention.
"""

from __future__ import annotations

import structlog

import tracklog
from tracklog.handlers import RunProcessor

structlog.configure(
    processors=[
        structlog.processors.add_log_level,
        RunProcessor(metrics=["loss", "acc"]),  # no run given: the current run
        structlog.dev.ConsoleRenderer(colors=False),
    ]
)
log = structlog.get_logger()

tracklog.set_experiment("structlog-demo")
with tracklog.start_run() as run:
    log.info("config", params={"lr": 0.01, "epochs": 3}, tags={"model": "mlp"})
    for epoch in range(3):
        loss, acc = 1.0 / (epoch + 1), 0.6 + 0.1 * epoch
        log.info("epoch done", loss=loss, acc=acc, step=epoch)
    print("run", run.id, "metrics:", run.get_metrics())
