"""Zero-change logging capture: what ``tracklog/capture/_bootstrap/sitecustomize.py`` calls into.

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

from .. import _diag
from ..handlers import RunHandler
from ..pipeline import current


class CaptureHandler(RunHandler):
    """The bootstrap's RunHandler: records go to the current run; failures never print."""

    def handleError(self, record: logging.LogRecord) -> None:
        # The console must stay byte-identical: no "--- Logging error ---" block.
        _diag.warn_once(("capture-error", type(self)), "tracklog: capturing a logging record failed; "
                        "later failures are not reported")


def deliverer() -> Callable[[logging.Logger, logging.LogRecord], None] | None:
    """The function the bootstrap gives each record to, or None when there is no run to log to."""
    if current.env_run() is None:  # also checks the run exists; a bad id raises, turning capture off
        return None
    handler = CaptureHandler()

    def deliver(logger: logging.Logger, record: logging.LogRecord) -> None:
        handler.handle(record)  # the bootstrap skipped records the program's RunHandler gets

    return deliver
