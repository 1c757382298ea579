"""The structlog processors: RunProcessor records events in runs, SafeKeysProcessor keeps
LogRecord-colliding keys from raising in stdlib logging."""

from __future__ import annotations

import copy
import logging

import pytest
import structlog

from tracklog.handlers import NUMERIC, RunHandler, RunProcessor, SafeKeysProcessor


@pytest.fixture
def capture():
    """A structlog logger whose final processor captures what reaches the renderer."""
    seen: list[dict] = []

    def renderer(logger, method_name, event_dict):  # type: ignore[no-untyped-def]
        seen.append(dict(event_dict))
        raise structlog.DropEvent

    def make(*processors):  # type: ignore[no-untyped-def]
        return structlog.wrap_logger(
            structlog.PrintLogger(), processors=[*processors, renderer], context_class=dict
        )

    make.seen = seen  # type: ignore[attr-defined]
    yield make
    structlog.reset_defaults()


def test_listed_keys_become_metrics_at_the_events_step(run, capture):
    log = capture(RunProcessor(run, metrics=["loss", "acc"]))
    log.info("epoch", loss=0.3, acc=0.9, step=3, lr=0.1)
    log.info("epoch", loss=0.2, acc=0.95, step=4)
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(3, 0.3), (4, 0.2)]
    assert [p.value for p in run.get_metric_history("acc")] == [0.9, 0.95]
    assert "lr" not in run.get_metrics()


def test_numeric_mode_takes_every_number_but_step_bools_and_text(run, capture):
    np = pytest.importorskip("numpy")
    log = capture(RunProcessor(run, metrics=NUMERIC))
    log.info("epoch", loss=0.3, tokens=1200, rate=np.float32(0.5), step=2, ok=True, phase="train", lineno=7)
    assert run.get_metrics() == {"loss": 0.3, "tokens": 1200, "rate": 0.5}
    assert run.get_metric_history("tokens")[0].step == 2


def test_default_mode_honours_only_the_explicit_conventions(run, capture):
    log = capture(RunProcessor(run))
    log.info("epoch", loss=0.3)  # not a metric without metric=/metrics=
    log.info("point", metric="loss", value=0.25, step=1)
    log.info("points", metrics={"acc": 0.9, "f1": 0.8}, step=1)
    log.info("meta", tags={"team": "vision"}, params={"lr": 0.01})
    assert run.get_metrics() == {"loss": 0.25, "acc": 0.9, "f1": 0.8}
    assert run.get_tags()["team"] == "vision"
    assert run.get_params() == {"lr": "0.01"}


def test_the_event_dict_passes_on_unchanged_to_the_renderer(run, capture):
    log = capture(RunProcessor(run, metrics=NUMERIC))
    event = {"loss": 0.3, "step": 1, "user": {"id": 7}, "metrics": {"acc": 1.0}}
    log.info("epoch", **copy.deepcopy(event))
    assert capture.seen == [{"event": "epoch", **event}]


def test_every_event_becomes_a_run_log_line_with_level_logger_and_fields(run, capture):
    log = capture(structlog.stdlib.add_log_level, RunProcessor(run, metrics=["loss"]))
    log = log.bind(logger="train")
    log.warning("slow epoch", loss=0.3, step=2, host="n1")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("crashed")
    records = run.get_logs()
    assert [(r["level"], r["logger"], r["message"]) for r in records] == [
        ("WARNING", "train", "slow epoch"),
        ("ERROR", "train", "crashed"),
    ]
    assert records[0]["extra"] == {"loss": 0.3, "host": "n1"}
    assert "ZeroDivisionError" in records[1]["exc_text"]


def test_logs_false_records_metrics_but_no_log_line(run, capture):
    log = capture(RunProcessor(run, metrics=["loss"], logs=False))
    log.info("epoch", loss=0.3)
    assert run.get_metrics() == {"loss": 0.3}
    assert run.get_logs() == []


def test_no_run_given_means_the_current_run(run, capture):
    log = capture(RunProcessor(metrics=["loss"]))
    log.info("epoch", loss=0.1)
    assert run.get_metrics() == {"loss": 0.1}


def test_it_never_raises_into_the_caller(run, capture, caplog):
    caplog.set_level(logging.WARNING, logger="tracklog")
    log = capture(RunProcessor(run, metrics=["loss"]))
    log.info("bad value", loss=object())
    log.info("bad step", loss=1.0, step="soon")
    run.complete()
    log.info("after the end", loss=2.0)
    assert len(capture.seen) == 3
    assert [p.value for p in run.get_metric_history("loss")] == [1.0]
    assert [r["message"] for r in run.get_logs()] == ["bad value", "bad step", "after the end"]

    class Broken:
        _state = property(lambda self: 1 / 0)  # a run object that fails in every way

    broken = capture(RunProcessor(Broken(), metrics=["loss"]))  # type: ignore[arg-type]
    broken.info("still printed", loss=1.0)
    assert capture.seen[-1]["event"] == "still printed"
    assert any("RunProcessor could not record" in r.getMessage() for r in caplog.records)


def test_a_single_key_must_be_given_as_a_list():
    with pytest.raises(ValueError, match=r"metrics=\['loss'\]"):
        RunProcessor(metrics="loss")


def _stdlib_logger(name: str, *processors):  # type: ignore[no-untyped-def]
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[*processors, structlog.stdlib.render_to_log_kwargs],
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
    )


def test_render_to_log_kwargs_alone_raises_on_a_logrecord_key():
    """The problem SafeKeysProcessor solves: logging refuses extra={'name': ...}."""
    logging.getLogger("collide.raw").setLevel(logging.INFO)
    log = _stdlib_logger("collide.raw")
    with pytest.raises(KeyError, match="Attempt to overwrite 'name'"):
        log.info("hello", name="bob")


def test_colliding_keys_are_renamed_and_arrive_as_record_fields(run):
    handler = RunHandler(run)
    std = logging.getLogger("collide.renamed")
    std.propagate, std.handlers[:] = False, [handler]
    std.setLevel(logging.INFO)
    log = _stdlib_logger("collide.renamed", SafeKeysProcessor())
    log.info("hello", name="bob", msg="hi", args=(1,), module="m", metric="loss", value=0.5)
    record = run.get_logs()[0]
    assert record["message"] == "hello"
    assert record["extra"] == {"name_": "bob", "msg_": "hi", "args_": [1], "module_": "m"}
    assert run.get_metrics() == {"loss": 0.5}


def test_colliding_keys_can_be_nested_under_one_key(run):
    std = logging.getLogger("collide.nested")
    std.propagate, std.handlers[:] = False, [RunHandler(run)]
    std.setLevel(logging.INFO)
    log = _stdlib_logger("collide.nested", SafeKeysProcessor(nest="fields"))
    log.info("hello", name="bob", levelname="x", user="u")
    assert run.get_logs()[0]["extra"] == {"fields": {"name": "bob", "levelname": "x"}, "user": "u"}


def test_exc_info_is_left_for_render_to_log_kwargs(run):
    std = logging.getLogger("collide.exc")
    std.propagate, std.handlers[:] = False, [RunHandler(run)]
    log = _stdlib_logger("collide.exc", SafeKeysProcessor())
    try:
        raise RuntimeError("x")
    except RuntimeError:
        log.error("failed", exc_info=True, name="job")
    record = run.get_logs()[0]
    assert "RuntimeError: x" in record["exc_text"] and record["extra"] == {"name_": "job"}


def test_a_renamed_key_never_overwrites_another():
    out = SafeKeysProcessor()(None, "info", {"event": "e", "name": 1, "name_": 2})
    assert out == {"event": "e", "name__": 1, "name_": 2}


def test_nesting_under_a_logrecord_attribute_is_refused():
    with pytest.raises(ValueError):
        SafeKeysProcessor(nest="msg")
