"""Zero-change logging capture: what ``tracklog/_bootstrap/sitecustomize.py`` calls into.

The bootstrap hands over every record that reaches the root logger of a Python
process started by ``tracklog run``; here it becomes run data through a
:class:`~tracklog.handlers.RunHandler` that is deliberately *not* on
``root.handlers`` (so ``basicConfig()`` and ``lastResort`` behave as without
tracklog). Which records arrive is the program's own choice: its logger levels,
filters and ``propagate`` flags. A program that never configures logging has a
root logger at WARNING, so WARNING and above are captured, exactly the records
Python itself prints through ``lastResort``.
"""

from __future__ import annotations

import logging
from typing import Callable

from . import _context, _diag
from .handlers import RunHandler


class CaptureHandler(RunHandler):
    """The bootstrap's RunHandler: records go to the current run; failures never print."""

    def handleError(self, record: logging.LogRecord) -> None:
        # The console must stay byte-identical: no "--- Logging error ---" block.
        _diag.warn_once(("capture-error", type(self)), "tracklog: capturing a logging record failed; "
                        "later failures are not reported")


def _has_run_handler(logger: logging.Logger | None) -> bool:
    """True when a RunHandler already sits where the record goes (the program attached its own)."""
    while logger is not None:
        for handler in logger.handlers:
            if isinstance(handler, RunHandler):
                return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def deliverer() -> Callable[[logging.Logger, logging.LogRecord], None] | None:
    """The function the bootstrap gives each record to, or None when there is no run to log to."""
    if _context.env_run() is None:  # also checks the run exists; a bad id raises, turning capture off
        return None
    handler = CaptureHandler()

    def deliver(logger: logging.Logger, record: logging.LogRecord) -> None:
        if not _has_run_handler(logger):
            handler.handle(record)

    return deliver
