"""Test helpers for your code: a throwaway run that captures what your code logs.

    from tracklog.testing import capture_run

    def test_training_logs_loss():
        with capture_run() as run:
            train()                       # uses logging, run.log or log_metric
        assert run.get_metrics()["loss"][-1] < 0.1
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import shutil
import tempfile
from typing import Iterator

from .handlers import RunHandler
from .pipeline import current
from .run import Run
from .workspace import Experiment, Workspace

__all__ = ["capture_run"]


@contextlib.contextmanager
def capture_run(experiment: str = "test", *, level: int = logging.DEBUG) -> Iterator[Run]:
    """Yield a run in a temporary workspace, current for the block, with a RunHandler on root.

    The run is completed when the block ends and stays readable afterwards; its
    workspace is removed at interpreter exit.
    """
    folder = tempfile.mkdtemp(prefix="tracklog-test-")
    atexit.register(shutil.rmtree, folder, True)
    run = Experiment(Workspace(folder), experiment).start_logging("captured")
    handler = RunHandler(run, level=level)
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    try:
        yield run
    except BaseException as exc:
        run.fail(exc)
        raise
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        if not run.target.closed:
            run.complete()
        current.ended(run)
