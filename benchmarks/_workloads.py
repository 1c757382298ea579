"""The tracklog loops that more than one benchmark times: run.log and RunHandler.

Each logs ``n`` points of one metric "loss" into a new run at ``location`` (a
workspace folder or a server URI) and returns the caller's time (the loop
alone), the time until durable (after ``complete()``) and the run's id.
"""

from __future__ import annotations

import logging
import time


def logging_loop(log: logging.Logger, n: int, plain: bool = False, start: int = 0) -> float:
    """``n`` metric records (or plain records) through ``log``, from step ``start``; the
    seconds the loop took."""
    t0 = time.perf_counter()
    if plain:
        for i in range(start, start + n):
            log.info("epoch %d done", i)
    else:
        for i in range(start, start + n):
            log.info("loss", extra={"metric": "loss", "value": i * 0.001, "step": i})
    return time.perf_counter() - t0


def run_log(n: int, location: str, experiment: str, name: str) -> dict:
    import tracklog

    run = tracklog.Experiment(tracklog.Workspace(location), experiment).start_logging(name)
    t0 = time.perf_counter()
    for i in range(n):
        run.log("loss", i * 0.001)
    t1 = time.perf_counter()
    run.complete()
    return {"caller": t1 - t0, "total": time.perf_counter() - t0, "run_id": run.id}


def run_handler(n: int, location: str, experiment: str, name: str, plain: bool = False) -> dict:
    import tracklog
    from tracklog.handlers import RunHandler

    run = tracklog.Experiment(tracklog.Workspace(location), experiment).start_logging(name)
    log = logging.getLogger("bench")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(RunHandler(run))
    t0 = time.perf_counter()
    caller = logging_loop(log, n, plain)
    run.complete()
    return {"caller": caller, "total": time.perf_counter() - t0, "run_id": run.id}
