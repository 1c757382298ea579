"""One record, recorded once, whatever reaches it: structlog's stdlib bridge after a
RunProcessor, ProcessorFormatter.wrap_for_formatter, two RunHandlers; and what a log
line keeps (a plain ``value=``, a dict_tracebacks traceback), a run named in dictConfig,
and one warning per bad name."""

from __future__ import annotations

import logging
import logging.config
import os

import pytest
import structlog

from tracklog import _diag
from tracklog.handlers import RunHandler, RunProcessor


@pytest.fixture
def bridge_logger():
    """A fresh stdlib logger that does not propagate, and structlog reset afterwards."""
    made: list[tuple[logging.Logger, logging.Handler]] = []

    def make(name, *handlers):  # type: ignore[no-untyped-def]
        logger = logging.getLogger(name)
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        logger.handlers[:] = list(handlers)
        made.extend((logger, h) for h in handlers)
        return logger

    yield make
    structlog.reset_defaults()
    for logger, handler in made:
        logger.removeHandler(handler)
        handler.close()


def _points(run, name):  # type: ignore[no-untyped-def]
    return [(p.step, p.value) for p in run.get_metric_history(name)]


def test_run_processor_then_the_stdlib_bridge_into_a_run_handler_records_each_point_once(run, bridge_logger):
    bridge_logger("bridged", RunHandler(run))
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            RunProcessor(run, logs=False),
            structlog.stdlib.render_to_log_kwargs,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    log = structlog.get_logger("bridged")
    for epoch in range(3):
        log.info("epoch done", metric="loss", value=1.0 / (epoch + 1), step=epoch)
    log.info("summary", metrics={"acc": 0.9}, step=2, tags={"phase": "done"})
    assert _points(run, "loss") == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]
    assert _points(run, "acc") == [(2, 0.9)]
    assert run.get_tags()["phase"] == "done"
    assert [r["message"] for r in run.get_logs()] == ["epoch done"] * 3 + ["summary"]


def test_a_point_logged_twice_on_purpose_through_plain_logging_is_two_points(run, bridge_logger):
    """Only the very record RunProcessor recorded is skipped: the same call made again
    through plain logging (no structlog in between) is a second point."""
    log = bridge_logger("twice", RunHandler(run))
    processor = RunProcessor(run, logs=False)
    processor(None, "info", {"event": "e", "metric": "m", "value": 1.0, "step": 0})
    log.info("e", extra={"metric": "m", "value": 2.0, "step": 0})
    log.info("e", extra={"metric": "m", "value": 2.0, "step": 1})
    assert _points(run, "m") == [(0, 1.0), (0, 2.0), (1, 2.0)]


def test_a_plain_logging_record_with_the_same_values_is_never_taken_for_the_structlog_event(run, bridge_logger):
    """structlog printing on its own (no stdlib bridge) and a library logging the same
    metric through stdlib in the same loop: both points and both lines are kept."""
    scheduler = bridge_logger("lib.scheduler", RunHandler(run))
    app = structlog.wrap_logger(
        structlog.PrintLogger(file=open(os.devnull, "w")), processors=[RunProcessor(run), structlog.processors.KeyValueRenderer()], context_class=dict
    )
    for epoch in range(3):
        lr = 0.1 / (epoch + 1)
        app.info("epoch done", metric="lr", value=lr)
        scheduler.info("scheduler stepped", extra={"metric": "lr", "value": lr})
    assert len(run.get_metric_history("lr")) == 6
    assert [r["message"] for r in run.get_logs()].count("scheduler stepped") == 3


def test_wrap_for_formatter_records_reach_the_run_as_run_data_and_a_clean_line(run, bridge_logger):
    bridge_logger("wrapped", RunHandler(run))
    structlog.configure(
        processors=[structlog.stdlib.add_log_level, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    log = structlog.get_logger("wrapped")
    log.warning("epoch done", metric="loss", value=0.25, step=4, host="n1")
    assert _points(run, "loss") == [(4, 0.25)]
    [line] = run.get_logs()
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "wrapped", "epoch done")
    assert line["extra"] == {"host": "n1"}


def test_two_run_handlers_on_one_run_give_one_point_and_a_line_per_file(run, bridge_logger):
    child = bridge_logger("two.child", RunHandler(run), RunHandler(run, filename="debug.log"))
    parent = bridge_logger("two", RunHandler(run))
    child.propagate = True
    child.info("step", extra={"metric": "loss", "value": 0.5, "step": 0})
    child.info("plain line")
    assert _points(run, "loss") == [(0, 0.5)]
    assert [r["message"] for r in run.get_logs()] == ["step", "plain line"]
    assert [r["message"] for r in run.get_logs(filename="debug.log")] == ["step", "plain line"]
    assert parent.handlers


def test_a_value_or_step_with_no_metric_stays_in_the_log_line(run, bridge_logger):
    log = bridge_logger("plain.value", RunHandler(run))
    log.info("cache size", extra={"value": 3, "step": "warmup"})
    log.info("point", extra={"metric": "m", "value": 1.0, "step": 2, "host": "n1"})
    first, second = run.get_logs()
    assert first["extra"] == {"value": 3, "step": "warmup"}
    assert second["extra"] == {"host": "n1"}
    processor = RunProcessor(run)
    processor(None, "info", {"event": "sized", "value": 7})
    assert run.get_logs()[-1]["extra"] == {"value": 7}


def test_dict_tracebacks_keep_the_traceback_in_the_line(run):
    chain = [structlog.processors.dict_tracebacks, RunProcessor(run)]
    log = structlog.wrap_logger(structlog.ReturnLogger(), processors=chain, context_class=dict)
    try:
        try:
            {}["missing"]
        except KeyError as exc:
            raise ValueError("bad config") from exc
    except ValueError:
        log.exception("load failed")
    [line] = run.get_logs()
    text = line["exc_text"]
    assert text.startswith("Traceback (most recent call last):")
    assert "KeyError: 'missing'" in text
    assert "direct cause" in text
    assert text.rstrip().endswith("ValueError: bad config")
    assert "test_dict_tracebacks_keep_the_traceback_in_the_line" in text


def test_dictconfig_names_a_run_by_its_id(run):
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"run": {"class": "tracklog.handlers.RunHandler", "run": run.id,
                             "workspace": run.workspace.path}},
        "loggers": {"by.id": {"handlers": ["run"], "level": "INFO", "propagate": False}},
    })
    log = logging.getLogger("by.id")
    log.info("epoch", extra={"metric": "loss", "value": 0.1})
    for handler in log.handlers:
        handler.flush()
    assert _points(run, "loss") == [(0, 0.1)]
    handler = log.handlers[0]
    log.removeHandler(handler)
    handler.close()


def test_dictconfig_with_a_run_id_that_does_not_exist_says_so(tmp_path):
    with pytest.raises(ValueError, match="handler 'run'"):
        logging.config.dictConfig({
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {"run": {"class": "tracklog.handlers.RunHandler", "run": "no-such-run",
                                 "workspace": str(tmp_path / "ws")}},
        })


def test_each_bad_metric_name_is_warned_once(run, caplog):
    _diag.reset_warnings()
    processor = RunProcessor(run)
    with caplog.at_level(logging.WARNING, logger="tracklog"):
        for name in ("\x00one", "", "\x00one", "\x00two"):
            processor(None, "info", {"event": "e", "metric": name, "value": 1.0})
    warned = [r.getMessage() for r in caplog.records if r.name == "tracklog"]
    assert len(warned) == 3, warned


def test_the_last_record_is_not_kept_alive_with_its_traceback(run, bridge_logger):
    """With two sources, the record a RunHandler handled last is held weakly: a failed
    batch in the traceback's frames is freed once the logging call returns."""
    import gc
    import weakref

    log = bridge_logger("oom", RunHandler(run))
    processor = RunProcessor(run)  # a second source: the handlers look for repeats

    class Batch:
        pass

    def step():
        batch = Batch()
        ref = weakref.ref(batch)
        try:
            raise MemoryError("CUDA out of memory")
        except MemoryError:
            log.exception("step failed, retrying smaller", extra={"metric": "oom", "value": 1})
        return ref

    ref = step()
    gc.collect()
    assert ref() is None
    assert processor is not None
