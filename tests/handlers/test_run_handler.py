"""RunHandler: stdlib logging records become run data and log lines, and never raise."""

from __future__ import annotations

import logging
import logging.config
import sys
import threading

import pytest

import tracklog
from tracklog.handlers import RunHandler


@pytest.fixture
def log(run):
    """A logger named 'train' whose records go to `run` through a RunHandler."""
    logger = logging.getLogger("train")
    handler = RunHandler(run)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # pytest's capture handler on root re-raises formatting errors
    yield logger
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def test_issue_example_records_become_metrics_tags_params(run):
    """The issue's basicConfig example: metrics, a single metric, tags and params land in the run."""
    logging.basicConfig(level=logging.DEBUG, handlers=[logging.StreamHandler(), RunHandler()], force=True)
    log = logging.getLogger("train")
    log.info("epoch %d", 3, extra={"metrics": {"loss": 0.3, "acc": 0.91}, "step": 3})
    log.info("lr", extra={"metric": "lr", "value": 1e-3})
    log.info("chosen", extra={"tags": {"model": "ridge"}})
    log.debug("config", extra={"params": {"alpha": 0.1}})
    logging.shutdown()
    assert run.get_metrics() == {"loss": 0.3, "acc": 0.91, "lr": 1e-3}
    assert run.get_metric_history("loss")[0].step == 3
    assert run.get_tags()["model"] == "ridge"
    assert run.get_params() == {"alpha": "0.1"}
    messages = [r["message"] for r in run.get_logs()]
    assert messages == ["epoch 3", "lr", "chosen", "config"]


def test_every_record_goes_to_python_log_with_level_logger_and_traceback(run, log):
    """Plain records are log lines with timestamp, level, logger, message and traceback."""
    log.warning("disk %s is %d%% full", "/data", 91)
    try:
        raise ValueError("bad batch")
    except ValueError:
        log.exception("step failed")
    records = run.get_logs()
    assert [(r["level"], r["logger"], r["message"]) for r in records] == [
        ("WARNING", "train", "disk /data is 91% full"),
        ("ERROR", "train", "step failed"),
    ]
    assert "ValueError: bad batch" in records[1]["exc_text"]
    assert records[0]["time"].endswith("Z") and records[0]["ts"] > 0
    assert "logs/python.log" in run.get_file_names()


def test_get_logs_filters_by_level_and_logger_prefix(run):
    """get_logs(level=..., logger=...) keeps records at or above the level under the logger."""
    handler = RunHandler(run)
    for name in ("a", "a.b", "ab"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.debug("d")
        logger.error("e")
    assert len(run.get_logs(level="ERROR")) == 3
    assert {r["logger"] for r in run.get_logs(logger="a")} == {"a", "a.b"}
    assert [r["logger"] for r in run.get_logs(level=logging.ERROR, logger="a.b")] == ["a.b"]


def test_metric_without_step_counts_up_per_name(run, log):
    """metric=/value= records without step get 0, 1, 2 for each name."""
    for value in (1.0, 2.0, 3.0):
        log.info("m", extra={"metric": "m", "value": value})
    log.info("other", extra={"metric": "other", "value": 5})
    assert [(p.step, p.value) for p in run.get_metric_history("m")] == [(0, 1.0), (1, 2.0), (2, 3.0)]
    assert run.get_metric_history("other")[0].step == 0


def test_steps_follow_call_order_across_run_log_and_records(run, log):
    """Implicit steps are one counter per name, whichever vocabulary logged the point."""
    run.log("loss", 0.1)
    log.info("loss", extra={"metric": "loss", "value": 0.2})
    run.log("loss", 0.3)
    log.info("loss", extra={"metric": "loss", "value": 0.4})
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [
        (0, 0.1), (1, 0.2), (2, 0.3), (3, 0.4)
    ]


def test_metric_records_after_another_handler_formatted_them(run, log, capsys):
    """A formatter before ours adds record.message/asctime: still a point and a plain line."""
    stream = logging.StreamHandler()
    stream.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.handlers.insert(0, stream)
    try:
        log.info("epoch %d", 2, extra={"metric": "acc", "value": 0.5, "step": 2})
    finally:
        log.handlers.remove(stream)
    assert [(p.step, p.value) for p in run.get_metric_history("acc")] == [(2, 0.5)]
    (record,) = run.get_logs()
    assert record["message"] == "epoch 2" and "extra" not in record


def test_metric_record_with_a_traceback_keeps_both(run, log):
    try:
        raise ValueError("bad batch")
    except ValueError:
        log.exception("skipped", extra={"metric": "skipped", "value": 1, "step": 9})
    assert [(p.step, p.value) for p in run.get_metric_history("skipped")] == [(9, 1)]
    (record,) = run.get_logs()
    assert "ValueError: bad batch" in record["exc_text"]


def _record(msg, args=(), extra=None, cls=logging.LogRecord):
    """A record as logger.info would build it, for handing to one handler only: pytest's
    own capture handlers (on root and, since pytest 9.2, on non-propagating loggers)
    are not what these tests are about."""
    record = cls("train", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra or {})
    return record


def test_records_with_odd_field_types_keep_their_point_and_line(run):
    """A filter that breaks record.created, a LogRecord whose message is not a str:
    neither raises, and neither loses the point or the line."""

    class NotText(logging.LogRecord):
        def getMessage(self):
            return 42

    def no_time(record):
        record.created = None
        return True

    handler = RunHandler(run)
    handler.addFilter(no_time)
    handler.handle(_record("no time", extra={"metric": "m", "value": 1.0, "step": 0}))
    handler.removeFilter(no_time)
    handler.handle(_record("x", extra={"metric": "m", "value": 2.0, "step": 1}, cls=NotText))
    assert [(p.step, p.value) for p in run.get_metric_history("m")] == [(0, 1.0), (1, 2.0)]
    assert [r["message"] for r in run.get_logs()] == ["no time", "42"]


class _Shouting(logging.LogRecord):
    """A record factory's class that rewrites every message (as translation layers do)."""

    def getMessage(self):
        return super().getMessage().upper()


_MESSAGES = [
    ("no args", (), logging.LogRecord, "no args"),
    ("%d items", (3,), logging.LogRecord, "3 items"),
    ("%(n)s left", ({"n": 2},), logging.LogRecord, "2 left"),
    (ValueError("not a str"), (), logging.LogRecord, "not a str"),
    ("quiet", (), _Shouting, "QUIET"),
]


@pytest.mark.parametrize("metric", [False, True], ids=["plain", "metric"])
@pytest.mark.parametrize(("msg", "args", "cls", "expected"), _MESSAGES, ids=[m[-1] for m in _MESSAGES])
def test_the_log_line_has_the_message_getmessage_gives(run, msg, args, cls, expected, metric):
    """The fast path's message is LogRecord.getMessage's: %-args, a dict arg, a message that
    is not a str, a record class that overrides getMessage; with a point kept alongside."""
    extra = {"metric": "m", "value": 1.5, "step": 4} if metric else None
    RunHandler(run).handle(_record(msg, args, extra, cls=cls))
    assert [r["message"] for r in run.get_logs()] == [expected]
    assert [(p.step, p.value) for p in run.get_metric_history("m")] == ([(4, 1.5)] if metric else [])


@pytest.mark.parametrize(("levelno", "written"), [(True, 1), (20.7, 20)], ids=["bool", "float"])
def test_a_levelno_that_is_not_an_int_is_written_as_one(run, levelno, written):
    """A filter that sets levelno to a bool or a float: the line stays JSON, levelno as %d makes it."""

    def odd_level(record):
        record.levelno = levelno
        return True

    handler = RunHandler(run)
    handler.addFilter(odd_level)
    handler.handle(_record("odd level", extra={"metric": "m", "value": 1.0}))
    (line,) = run.get_logs()
    assert line["message"] == "odd level" and line["levelno"] == written and type(line["levelno"]) is int
    assert [p.value for p in run.get_metric_history("m")] == [1.0]


def test_a_level_named_after_its_first_record_is_read_by_its_name(run, log):
    """A notebook logs at 27, then names it: later lines say the name, not "Level 27"."""
    log.log(27, "before")
    run.target.flush()
    logging.addLevelName(27, "NOTICE27")
    try:
        log.log(27, "after")
        run.target.flush()
        assert [(r["message"], r["level"]) for r in run.get_logs()] == [("before", "Level 27"), ("after", "NOTICE27")]
    finally:
        logging.addLevelName(27, "Level 27")


def test_log_lines_keep_time_to_the_microsecond(run, log):
    record = logging.LogRecord("train", logging.INFO, __file__, 1, "at a set time", (), None)
    record.created = 1700000000.123456
    log.handle(record)
    (line,) = run.get_logs()
    assert line["time"] == "2023-11-14T22:13:20.123456Z"
    assert line["ts"] == 1700000000.123456


def test_tag_alone_is_a_valueless_tag_and_param_dicts(run, log):
    """tag='name' is a valueless tag; tags/params dicts set several."""
    log.info("x", extra={"tag": "baseline"})
    log.info("y", extra={"tags": {"a": 1, "b": "two"}, "params": {"p": 0.5}})
    assert {k: v for k, v in run.get_tags().items() if not k.startswith("tracklog.")} == {"baseline": "", "a": "1", "b": "two"}
    assert run.get_params() == {"p": "0.5"}


def test_other_extra_fields_are_kept_in_the_log_line(run, log):
    """Non-convention extra fields stay with the record in the log file."""
    log.info("batch", extra={"batch_id": 7, "shape": (2, 3)})
    (record,) = run.get_logs()
    assert record["extra"] == {"batch_id": 7, "shape": [2, 3]}


@pytest.mark.parametrize(
    "extra",
    [
        {"metrics": "x"},
        {"metric": "loss", "value": 1.0, "step": "a"},
        {"metric": "loss"},
        {"metric": "", "value": 1},
        {"metric": "loss", "value": object()},
        {"tags": 5},
        {"params": ["a", 1]},
        {"metric": "x" * 10_000, "value": 1},
    ],
)
def test_wrong_extra_types_warn_and_never_raise(run, log, extra, caplog):
    """Bad convention fields warn once on the tracklog logger; the record is still logged."""
    log.propagate = True
    with caplog.at_level(logging.WARNING, logger="tracklog"):
        log.info("bad fields", extra=extra)
    assert [r["message"] for r in run.get_logs(logger="train")] == ["bad fields"]
    assert any(r.name == "tracklog" for r in caplog.records)


def test_step_as_a_string_of_digits_is_accepted(run, log):
    """step='4' (a whole number as text) is taken as step 4."""
    log.info("x", extra={"metric": "m", "value": 1, "step": "4"})
    assert run.get_metric_history("m")[0].step == 4


def test_a_closed_run_warns_once_and_keeps_the_log_line(run, log, caplog):
    """After complete(), metrics from records are refused with one warning; the lines are kept."""
    run.complete()
    with caplog.at_level(logging.WARNING, logger="tracklog"):
        log.info("late", extra={"metric": "m", "value": 1})
        log.info("later", extra={"metric": "m", "value": 2})
    run.flush()
    warnings = [r for r in caplog.records if "has ended" in r.getMessage()]
    assert len(warnings) == 1
    assert "m" not in run.get_metrics()
    assert [r["message"] for r in run.get_logs()] == ["late", "later"]


def test_a_bad_format_string_goes_to_handle_error_not_the_caller(run, capsys):
    """A record whose message cannot be formatted is reported by handleError; the call returns."""
    handler = RunHandler(run)
    handler.handle(_record("%d items", ("not a number",)))
    assert "--- Logging error ---" in capsys.readouterr().err
    handler.handle(_record("after"))
    assert run.get_logs()[-1]["message"] == "after"


def test_dictconfig_with_class_and_factory(run):
    """RunHandler works from dictConfig, both as "class" and as a "()" factory."""
    logging.config.dictConfig(
        {
            "version": 1,
            "handlers": {
                "by_class": {"class": "tracklog.handlers.RunHandler", "level": "INFO"},
                "by_factory": {"()": "tracklog.handlers.RunHandler", "filename": "factory.log"},
            },
            "loggers": {"cfg": {"handlers": ["by_class", "by_factory"], "level": "DEBUG"}},
            "disable_existing_loggers": False,
        }
    )
    logger = logging.getLogger("cfg")
    logger.debug("debug only in factory.log")
    logger.info("info in both", extra={"metric": "m", "value": 1})
    assert [r["message"] for r in run.get_logs()] == ["info in both"]
    assert [r["message"] for r in run.get_logs(filename="factory.log")] == [
        "debug only in factory.log",
        "info in both",
    ]
    assert run.get_metrics()["m"] == 1  # one point: the second handler adds only its line


def test_library_debug_and_tracklog_diagnostics_flow_into_the_log_file(run):
    """DEBUG records of libraries (urllib3) and tracklog's own warnings reach the same log file."""
    logging.basicConfig(level=logging.DEBUG, handlers=[RunHandler()], force=True)
    logging.getLogger("urllib3.connectionpool").debug("Starting new HTTP connection (1): localhost:80")
    run.log("bad", [1, 2])  # tracklog warns on the tracklog logger, while inside the run API
    run.flush()
    loggers = {r["logger"] for r in run.get_logs()}
    assert {"urllib3.connectionpool", "tracklog"} <= loggers


def test_tracklog_warning_inside_emit_does_not_recurse(run):
    """A warning tracklog raises while handling a record reaches RunHandler once, without recursion."""
    logging.basicConfig(level=logging.DEBUG, handlers=[RunHandler()], force=True)
    logging.getLogger("train").info("x", extra={"metrics": "not a dict"})
    run.flush()
    records = run.get_logs()
    assert [r["logger"] for r in records].count("tracklog") == 1
    assert records[-1]["logger"] == "train"


def test_logging_shutdown_flushes_everything(run):
    """logging.shutdown() (as at interpreter exit) leaves every record in the run."""
    logger = logging.getLogger("flush")
    handler = RunHandler(run)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    for i in range(5000):
        logger.info("x", extra={"metric": "m", "value": i})
    logging.shutdown([lambda: handler])
    assert len(run.get_metric_history("m")) == 5000


def test_handler_without_run_follows_the_current_run(experiment):
    """RunHandler() with no run sends each record to the run current at that moment."""
    logger = logging.getLogger("follow")
    logger.addHandler(RunHandler())
    logger.setLevel(logging.INFO)
    first = experiment.start_logging("first")
    logger.info("to first", extra={"metric": "m", "value": 1})
    first.complete()
    second = experiment.start_logging("second")
    logger.info("to second", extra={"metric": "m", "value": 2})
    second.complete()
    assert first.get_metrics() == {"m": 1} and second.get_metrics() == {"m": 2}


def test_filters_still_apply(run, log):
    """Handler filters work (RunHandler overrides handle() to skip the lock, not the filters)."""
    handler = log.handlers[0]
    handler.addFilter(lambda record: "keep" in record.getMessage())
    log.info("keep me")
    log.info("drop me")
    assert [r["message"] for r in run.get_logs()] == ["keep me"]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="a filter returns a record from Python 3.12 on")
def test_a_filter_that_returns_a_new_record_has_it_written(run):
    """A filter may hand on a replacement record (Python 3.12's contract): that one is written."""
    logger = logging.getLogger("train.replaced")
    logger.propagate = False
    handler = RunHandler(run)

    def replace(record):
        return logging.makeLogRecord({**record.__dict__, "msg": "replaced", "args": ()})

    handler.addFilter(replace)
    logger.addHandler(handler)
    try:
        logger.warning("original %s", "text", extra={"metric": "loss", "value": 0.5})
    finally:
        logger.removeHandler(handler)
    run.flush()
    assert [r["message"] for r in run.get_logs()] == ["replaced"]


def test_a_subclass_that_overrides_emit_sees_every_record(run, log):
    """handle() enqueues the common records itself; a subclass with its own emit() still
    gets each one, filtered, and its super().emit() writes them as usual."""
    seen = []

    class Counting(RunHandler):
        def emit(self, record):
            seen.append(record.getMessage())
            super().emit(record)

    class Quieter(Counting):  # a subclass of that subclass keeps the emit route
        pass

    for cls in (Counting, Quieter):
        logger = logging.getLogger(f"train.{cls.__name__}")
        logger.propagate = False
        handler = cls(run)
        handler.addFilter(lambda record: "skip" not in record.getMessage())
        logger.addHandler(handler)
        try:
            logger.info("plain %d", 1)
            logger.info("skip me")
            logger.info("loss", extra={"metric": f"loss_{cls.__name__}", "value": 0.25, "step": 3})
        finally:
            logger.removeHandler(handler)
    assert seen == ["plain 1", "loss"] * 2
    run.flush()
    assert [p.value for p in run.get_metric_history("loss_Quieter")] == [0.25]
    assert [r["message"] for r in run.get_logs()] == ["plain 1", "loss"] * 2


def test_a_changed_filename_takes_effect_for_the_next_record(run, log):
    """``filename`` is checked when set, and the next record goes to the new file."""
    handler = log.handlers[0]
    log.info("first")
    handler.filename = "second.log"
    log.info("second", extra={"metric": "m", "value": 1.0})
    with pytest.raises(ValueError):
        handler.filename = "../x.log"
    assert handler.filename == "second.log"
    run.flush()
    assert [r["message"] for r in run.get_logs()] == ["first"]
    assert [r["message"] for r in run.get_logs(filename="second.log")] == ["second"]


def test_handler_repr_and_level(run):
    """A RunHandler has a useful repr and honours its level."""
    handler = RunHandler(run, level="WARNING")
    assert "WARNING" in repr(handler) and run.id in repr(handler)
    assert tracklog.handlers.RunHandler is RunHandler


def test_records_from_tracklogs_own_io_never_become_run_data(run):
    """What libraries log while tracklog does its own I/O (urllib3 under the MLflow sender,
    on tracklog's threads) is passed on, never written into a run: it would feed back
    into the store forever. tracklog's own warnings there still reach the run's log."""
    handler = RunHandler(run)
    io_logger = logging.getLogger("urllib3.connectionpool")
    with tracklog._diag.doing_io():
        handler.handle(io_logger.makeRecord(io_logger.name, logging.DEBUG, __file__, 1, "POST /api", (), None))
        handler.handle(io_logger.makeRecord(io_logger.name, logging.INFO, __file__, 1, "loss", (), None,
                                            extra={"metric": "loss", "value": 1.0}))
        tl = logging.getLogger("tracklog")
        handler.handle(tl.makeRecord(tl.name, logging.WARNING, __file__, 1, "server slow", (), None))
    handler.handle(io_logger.makeRecord(io_logger.name, logging.DEBUG, __file__, 1, "outside", (), None))
    run.flush()
    messages = [line["message"] for line in run.get_logs()]
    assert messages == ["server slow", "outside"]
    assert run.get_metrics() == {}


def test_own_io_on_one_thread_leaves_the_other_threads_records_alone(run):
    """While tracklog's sender thread talks to its store, that thread's library records are
    passed on and the caller's records on other threads are still run data."""
    handler = RunHandler(run)
    io_logger = logging.getLogger("urllib3.connectionpool")
    inside, done = threading.Event(), threading.Event()

    def sender():
        with tracklog._diag.doing_io():
            inside.set()
            handler.handle(io_logger.makeRecord(io_logger.name, logging.INFO, __file__, 1, "POST", (), None,
                                                extra={"metric": "io", "value": 1.0}))
            done.wait(30)

    thread = threading.Thread(target=sender)
    thread.start()
    assert inside.wait(30)
    try:
        assert tracklog._diag.io_threads == 1
        handler.handle(io_logger.makeRecord(io_logger.name, logging.INFO, __file__, 1, "caller", (), None,
                                            extra={"metric": "loss", "value": 2.0}))
    finally:
        done.set()
        thread.join(30)
    assert tracklog._diag.io_threads == 0
    run.flush()
    assert [line["message"] for line in run.get_logs()] == ["caller"]
    assert run.get_metrics() == {"loss": 2.0}
