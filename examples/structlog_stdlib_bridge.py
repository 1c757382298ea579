"""structlog -> stdlib logging -> RunHandler: the standard bridge, keys as record fields.

    python examples/structlog_stdlib_bridge.py

structlog hands each event to stdlib logging with ``render_to_log_kwargs``: the
event becomes the message and every other key a field of the LogRecord (as with
``extra=``), so RunHandler records ``metrics``/``metric``/``tags``/``params`` as run
data. ``SafeKeysProcessor`` renames keys that LogRecord itself uses (``name`` ->
``name_``); without it ``log.info("hi", name="x")`` raises KeyError in your code.
On the console, structlog's ``ProcessorFormatter`` renders the same records.
"""

from __future__ import annotations

import logging

import structlog

import tracklog
from tracklog.handlers import RunHandler, SafeKeysProcessor

structlog.configure(
    processors=[
        structlog.stdlib.filter_by_level,
        SafeKeysProcessor(),
        structlog.stdlib.render_to_log_kwargs,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
)

console = logging.StreamHandler()
console.setFormatter(
    structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
    )
)
root = logging.getLogger()
root.setLevel(logging.INFO)
root.addHandler(console)
root.addHandler(RunHandler())  # the current run

log = structlog.get_logger("train")

tracklog.set_experiment("structlog-bridge")
with tracklog.start_run() as run:
    log.info("starting", name="mlp", params={"lr": 0.01})  # name -> name_
    for epoch in range(3):
        log.info("epoch done", metrics={"loss": 1.0 / (epoch + 1)}, step=epoch)
    print("run", run.id, "metrics:", run.get_metrics(), "params:", run.get_params())
