"""Odd values at every entry point: decided at call time (converted, or refused with one
warning), never an exception into the caller, never a failure in the writer, and the
record's log line always kept (the rules are in tracklog/_values.py)."""

from __future__ import annotations

import json
import logging
import math
import numbers
import time
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable

import numpy as np
import pytest
import structlog
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from tracklog import InvalidNameError
from tracklog.capture._recorder import OutputRecorder
from tracklog.exporters import RunLogExporter, RunMetricExporter
from tracklog.handlers import NUMERIC, RunHandler, RunProcessor

MESSAGE = "the line that must be kept"

# -- odd objects ------------------------------------------------------------------


class RaisingGetattr:
    """Every attribute lookup that falls through raises (``item``, ``dtype``, ``numel``...)."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name} for you")


class RaisingFloat:
    def __float__(self) -> float:
        raise RuntimeError("no float")


numbers.Real.register(RaisingFloat)


class RaisingIndex:
    def __index__(self) -> int:
        raise RuntimeError("no index")

    __int__ = __index__


numbers.Integral.register(RaisingIndex)


class RaisingBoolAndLen:
    def __bool__(self) -> bool:
        raise RuntimeError("no bool")

    def __len__(self) -> int:
        raise RuntimeError("no len")


# -- the entry points ---------------------------------------------------------------
#
# Each logs one point (name, value, step) into the run and says whether it wrote a log
# line (MESSAGE) too. ``python`` entry points take any Python object; the others carry
# only what their wire can (JSON, OpenTelemetry attributes).


def _fields(name: Any, value: Any, step: Any) -> dict[str, Any]:
    fields = {"metric": name, "value": value}
    if step is not None:
        fields["step"] = step
    return fields


def _handler_logger(run: Any) -> logging.Logger:
    log = logging.getLogger("odd.values")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.handlers[:] = [RunHandler(run)]
    return log


def via_run_log(run: Any, name: Any, value: Any, step: Any) -> bool:
    run.log(name, value, step=step)
    return False


def via_log_metric(run: Any, name: Any, value: Any, step: Any) -> bool:
    run.log_metric(name, value, step)
    return False


def via_log_metrics(run: Any, name: Any, value: Any, step: Any) -> bool:
    run.log_metrics({name: value}, step=step)
    return False


def via_handler_fast(run: Any, name: Any, value: Any, step: Any) -> bool:
    _handler_logger(run).info(MESSAGE, extra=_fields(name, value, step))
    return True


def via_handler_slow(run: Any, name: Any, value: Any, step: Any) -> bool:
    _handler_logger(run).info(MESSAGE, extra={**_fields(name, value, step), "note": "x"})
    return True


def via_handler_metrics(run: Any, name: Any, value: Any, step: Any) -> bool:
    extra: dict[str, Any] = {"metrics": {name: value}}
    if step is not None:
        extra["step"] = step
    _handler_logger(run).info(MESSAGE, extra=extra)
    return True


def via_structlog(run: Any, name: Any, value: Any, step: Any) -> bool:
    log = structlog.wrap_logger(
        structlog.PrintLogger(), processors=[RunProcessor(run), _drop], context_class=dict
    )
    log.info(MESSAGE, **_fields(name, value, step))
    return True


def via_structlog_numeric(run: Any, name: Any, value: Any, step: Any) -> bool:
    log = structlog.wrap_logger(
        structlog.PrintLogger(), processors=[RunProcessor(run, metrics=NUMERIC), _drop], context_class=dict
    )
    log.info(MESSAGE, **({name: value} if step is None else {name: value, "step": step}))
    return True


def _drop(logger: Any, method_name: str, event_dict: Any) -> Any:
    raise structlog.DropEvent


def via_otel_logs(run: Any, name: Any, value: Any, step: Any) -> bool:
    provider = LoggerProvider(resource=Resource.create({"service.name": "odd"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(RunLogExporter(run)))
    try:
        provider.get_logger("odd.otel").emit(body=MESSAGE, attributes=_fields(name, value, step))
    finally:
        provider.shutdown()
    return True


def via_otel_metrics(run: Any, name: Any, value: Any, step: Any) -> bool:
    assert step is None, "an exporter's step is its export's sequence number"
    point = NumberDataPoint(attributes={}, start_time_unix_nano=0, time_unix_nano=time.time_ns(), value=value)
    metric = Metric(name=name, description=None, unit=None, data=Gauge(data_points=[point]))
    scope = ScopeMetrics(scope=InstrumentationScope("odd"), metrics=[metric], schema_url="")
    data = MetricsData(resource_metrics=[ResourceMetrics(resource=Resource.create({}), scope_metrics=[scope], schema_url="")])
    RunMetricExporter(run).export(data)
    return False


def via_json_line(run: Any, name: Any, value: Any, step: Any) -> bool:
    recorder = OutputRecorder(run, "stdout", conventions=True)
    recorder.feed(json.dumps({**_fields(name, value, step), "message": MESSAGE}).encode() + b"\n")
    return True


RUN_API = [via_run_log, via_log_metric, via_log_metrics]
RECORDS = [via_handler_fast, via_handler_slow, via_handler_metrics, via_structlog, via_structlog_numeric]
PYTHON = RUN_API + RECORDS + [via_otel_metrics]
WIRE = [via_otel_logs, via_json_line]  # OTel attributes and JSON carry ints, floats, str
STEPPED = [e for e in PYTHON + WIRE if e is not via_otel_metrics]
NAMED = [e for e in PYTHON + WIRE if e is not via_structlog_numeric]  # NUMERIC keys are Python identifiers


def _line_kept(run: Any, entry: Callable[..., bool]) -> bool:
    if entry is via_json_line:
        lines = run.get_logs(filename="std_log.txt")
    else:
        lines = run.get_logs()
    return any(MESSAGE in str(line["message"]) for line in lines)


def _tracklog_warnings(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("tracklog") and r.levelno == logging.WARNING]


def _errors(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _check_twice(run: Any, entry: Callable[..., bool], caplog: Any, capsys: Any, *args: Any) -> None:
    """Log the point twice: no exception, no ERROR, no 'Logging error', the line kept."""
    caplog.set_level(logging.WARNING)
    wrote_line = entry(run, *args)
    entry(run, *args)
    run.flush()
    assert not _errors(caplog), "the writer never sees a value it cannot keep"
    assert "Logging error" not in capsys.readouterr().err
    if wrote_line:
        assert _line_kept(run, entry), "the record's log line is kept"


# -- values ---------------------------------------------------------------------------

WIDE = [2**63, 2**80, -(2**63) - 1, 10**29 + 7]  # 10**29 + 7: a 30-digit JSON int
PYTHON_WIDE = [np.uint64(2**64 - 1)]


@pytest.mark.parametrize("entry", PYTHON + WIRE, ids=lambda e: e.__name__)
@pytest.mark.parametrize("value", WIDE + PYTHON_WIDE, ids=repr)
def test_an_int_outside_int64_is_stored_as_the_nearest_float_with_one_warning(run, caplog, capsys, entry, value):
    """MLflow's metrics are doubles: an int outside 64 bits is its float, warned once per metric."""
    if entry in WIRE and not isinstance(value, int):
        pytest.skip("JSON and OTel attributes carry Python ints only")
    name = "big"
    _check_twice(run, entry, caplog, capsys, name, value, None)
    assert [p.value for p in run.get_metric_history(name)] == [float(int(value))] * 2
    warnings = [w for w in _tracklog_warnings(caplog) if "64-bit" in w]
    assert len(warnings) == 1 and "'big'" in warnings[0]


@pytest.mark.parametrize("entry", PYTHON + WIRE, ids=lambda e: e.__name__)
def test_an_int_too_large_for_a_float_is_refused_with_one_warning(run, caplog, capsys, entry):
    """10**400 has no float: the point is not logged, one warning says so, the line is kept."""
    _check_twice(run, entry, caplog, capsys, "huge", 10**400, None)
    assert "huge" not in run.get_metrics()
    warnings = [w for w in _tracklog_warnings(caplog) if "too large" in w]
    assert len(warnings) == 1 and "'huge'" in warnings[0]


ODD_OBJECTS = [RaisingGetattr(), RaisingFloat(), RaisingIndex(), RaisingBoolAndLen(), object(), 1j]


@pytest.mark.parametrize("entry", PYTHON, ids=lambda e: e.__name__)
@pytest.mark.parametrize("value", ODD_OBJECTS, ids=lambda v: type(v).__name__)
def test_objects_that_raise_when_looked_at_are_refused_with_one_warning(run, caplog, capsys, entry, value):
    """__getattr__, __float__, __index__, __bool__ or __len__ raising: one warning, no point, no exception."""
    if entry is via_structlog_numeric and not isinstance(value, (RaisingFloat, RaisingIndex)):
        pytest.skip("NUMERIC takes only numbers as metrics")
    _check_twice(run, entry, caplog, capsys, "odd", value, None)
    assert "odd" not in run.get_metrics()
    warnings = [w for w in _tracklog_warnings(caplog) if "'odd'" in w]
    assert len(warnings) == 1 and "cannot be logged" in warnings[0]


@pytest.mark.parametrize("entry", PYTHON, ids=lambda e: e.__name__)
def test_a_signaling_nan_decimal_is_stored_as_nan(run, caplog, capsys, entry):
    """Decimal('sNaN') (whose float() and comparisons raise) is a NaN like Decimal('NaN')."""
    _check_twice(run, entry, caplog, capsys, "snan", Decimal("sNaN"), None)
    values = [p.value for p in run.get_metric_history("snan")]
    assert len(values) == 2 and all(math.isnan(v) for v in values)


@pytest.mark.parametrize("entry", PYTHON + WIRE, ids=lambda e: e.__name__)
def test_a_text_value_with_a_lone_surrogate_is_kept_escaped(run, caplog, capsys, entry):
    """A str value UTF-8 cannot encode keeps its text, the surrogate written as its escape."""
    if entry is via_structlog_numeric or entry is via_otel_metrics:
        pytest.skip("text is not a number")
    _check_twice(run, entry, caplog, capsys, "text", "caf\udce9", None)
    assert [p.value for p in run.get_metric_history("text")] == ["caf\\udce9"] * 2


# -- steps ----------------------------------------------------------------------------


@pytest.mark.parametrize("entry", STEPPED, ids=lambda e: e.__name__)
@pytest.mark.parametrize("step", [2**63, -(2**63) - 1, 10**29, 1e30], ids=repr)
def test_a_step_outside_int64_is_ignored_with_one_warning_and_the_point_kept(run, caplog, capsys, entry, step):
    """Like any step that is not a whole number: the next step is used, the point is kept."""
    name = "stepped"
    _check_twice(run, entry, caplog, capsys, name, 0.5, step)
    assert [(p.step, p.value) for p in run.get_metric_history(name)] == [(0, 0.5), (1, 0.5)]
    warnings = [w for w in _tracklog_warnings(caplog) if "step" in w]
    assert len(warnings) == 1 and "64 bits" in warnings[0]


@pytest.mark.parametrize("entry", [e for e in PYTHON if e is not via_otel_metrics], ids=lambda e: e.__name__)
def test_a_numpy_uint64_step_beyond_int64_is_ignored_too(run, caplog, capsys, entry):
    _check_twice(run, entry, caplog, capsys, "u", 1.0, np.uint64(2**64 - 1))
    assert [p.step for p in run.get_metric_history("u")] == [0, 1]


# -- names ----------------------------------------------------------------------------


@pytest.mark.parametrize("entry", NAMED, ids=lambda e: e.__name__)
def test_a_name_with_a_lone_surrogate_is_kept_escaped_with_one_warning(run, caplog, capsys, entry):
    """'loss\\udcff' (an fsdecode'd byte) is stored as the name 'loss\\\\udcff', everywhere the same."""
    _check_twice(run, entry, caplog, capsys, "loss\udcff", 0.25, None)
    assert [p.value for p in run.get_metric_history("loss\\udcff")] == [0.25, 0.25]
    warnings = [w for w in _tracklog_warnings(caplog) if "surrogate" in w]
    assert len(warnings) == 1


@pytest.mark.parametrize("entry", [e for e in NAMED if e not in RUN_API], ids=lambda e: e.__name__)
def test_a_nul_in_a_name_is_refused_by_every_record_path_with_one_warning(run, caplog, capsys, entry):
    """One rule: a name with NUL is never stored; a record's point is left out, its line kept."""
    _check_twice(run, entry, caplog, capsys, "a\x00b", 1.0, None)
    assert not [name for name in run.get_metrics() if "\x00" in name or name == "a"]
    warnings = [w for w in _tracklog_warnings(caplog) if "NUL" in w]
    assert len(warnings) == 1


@pytest.mark.parametrize("call", [
    lambda run: run.log("a\x00b", 1.0),
    lambda run: run.log_metric("a\x00b", 1.0),
    lambda run: run.log_metrics({"a\x00b": 1.0}),
    lambda run: run.log_list("a\x00b", [1]),
    lambda run: run.log_row("a\x00b", x=1),
    lambda run: run.log_table("a\x00b", {"x": [1]}),
    lambda run: run.tag("a\x00b", "v"),
    lambda run: run.log_param("a\x00b", "v"),
], ids=["log", "log_metric", "log_metrics", "log_list", "log_row", "log_table", "tag", "log_param"])
def test_a_nul_in_a_name_is_refused_by_every_run_api_call(run, call):
    """The run API refuses it as it refuses an empty or 5,000-character name: InvalidNameError."""
    with pytest.raises(InvalidNameError, match="NUL"):
        call(run)


def test_tags_and_params_with_nul_or_surrogates_follow_the_same_rules(run, caplog):
    """tags=/params= in a record: NUL names refused, surrogates escaped in names and values."""
    log = _handler_logger(run)
    log.info(MESSAGE, extra={"tags": {"a\x00b": "v", "t\udcff": "v\udcff"}, "params": {"p": "x\udcff"}})
    run.tag("direct\udcff", "w\udcff")
    assert run.get_tags()["t\\udcff"] == "v\\udcff"
    assert run.get_tags()["direct\\udcff"] == "w\\udcff"
    assert "a\x00b" not in run.get_tags()
    assert run.get_params()["p"] == "x\\udcff"
    assert _line_kept(run, via_handler_fast)


# -- record times ---------------------------------------------------------------------


@pytest.mark.parametrize("created", [math.nan, math.inf, -math.inf, None, "yesterday", Decimal("sNaN")], ids=repr)
@pytest.mark.parametrize("with_point", [False, True], ids=["plain", "metric"])
def test_a_record_time_that_is_not_a_time_becomes_the_time_of_handling(run, caplog, capsys, created, with_point):
    """record.created NaN, inf, None or a str (a filter's edit): now, with one warning; line and point kept."""
    caplog.set_level(logging.WARNING)
    log = _handler_logger(run)

    def stamp(record: logging.LogRecord) -> bool:
        record.created = created
        return True

    log.addFilter(stamp)
    before = time.time()
    for _ in range(2):
        log.info(MESSAGE, extra=_fields("timed", 1.0, None) if with_point else None)
    after = time.time()
    run.flush()
    assert not _errors(caplog) and "Logging error" not in capsys.readouterr().err
    lines = [r for r in run.get_logs() if r["message"] == MESSAGE]
    assert len(lines) == 2 and all(before - 1 <= r["ts"] <= after + 1 for r in lines)
    if with_point:
        points = run.get_metric_history("timed")
        assert len(points) == 2 and all(before - 1 <= p.timestamp <= after + 1 for p in points)
    assert len([w for w in _tracklog_warnings(caplog) if "not a time" in w]) == 1


# -- tables and lists -------------------------------------------------------------------


def test_table_cells_that_raise_or_overflow_are_decided_per_cell(run, caplog):
    """log_row and log_table: a raising cell is None (one warning), a wide int its float."""
    run.log_row("t", a=RaisingGetattr(), b=2**64, c=Decimal("sNaN"), d=1)
    run.log_table("u", {"a": [RaisingFloat(), 1], "b": [2**70, Fraction(1, 4)]})
    metrics = run.get_metrics()
    assert metrics["t"]["a"] == [None] and metrics["t"]["b"] == [float(2**64)]
    assert math.isnan(metrics["t"]["c"][0]) and metrics["t"]["d"] == [1]
    assert metrics["u"] == {"a": [None, 1], "b": [float(2**70), 0.25]}


class RaisingIterable:
    def __iter__(self) -> Any:
        yield 1
        yield 2
        raise RuntimeError("the data loader broke")

    def __len__(self) -> int:
        raise RuntimeError("no len")


class RaisingMapping(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        raise RuntimeError("no items")


def test_iterables_and_mappings_that_raise_keep_what_was_read(run, caplog):
    """log_list of an iterable that raises keeps the items before; log_table of one too."""
    caplog.set_level(logging.WARNING)
    run.log_list("l", RaisingIterable())
    run.log_table("tt", {"ok": [1, 2], "broken": RaisingIterable()})
    run.log_table("nothing", RaisingMapping(x=[1]))
    metrics = run.get_metrics()
    assert metrics["l"] == [1, 2]
    assert metrics["tt"] == {"ok": [1, 2]}
    assert "nothing" not in metrics
    assert len([w for w in _tracklog_warnings(caplog) if "raised RuntimeError" in w]) == 3


@pytest.mark.parametrize("cells", [
    {"a": "NaN", "b": math.nan},
    {"a": "Infinity", "b": math.inf},
    {"a": "-Infinity", "b": -math.inf},
    {"a": ["NaN"][0], "b": "nan"},
], ids=["nan", "inf", "-inf", "lowercase"])
def test_a_cell_holding_the_text_nan_reads_back_as_text_and_a_float_nan_as_a_float(run, cells):
    """Strings stay strings and non-finite floats floats, in log_row and log_table."""
    run.log_row("row", **cells)
    run.log_table("table", {k: [v] for k, v in cells.items()})
    for name in ("row", "table"):
        got = run.get_metrics()[name]
        assert got["a"] == [cells["a"]] and type(got["a"][0]) is str
        b = got["b"][0]
        assert type(b) is type(cells["b"])
        assert b == cells["b"] or (b != b and cells["b"] != cells["b"])


def test_table_rows_written_before_still_read_back_with_their_nan_text_as_floats():
    """Rows of the older format (every non-finite float as its text) read as they always did."""
    from tracklog._tables import columns

    old = ['{"angle": 1, "value": "NaN"}', '{"angle": 2, "value": "Infinity"}', '{"angle": 3, "value": "-Infinity"}']
    got = columns(old)
    assert got["angle"] == [1, 2, 3]
    assert math.isnan(got["value"][0]) and got["value"][1:] == [math.inf, -math.inf]


# -- RunProcessor(metrics=NUMERIC) ----------------------------------------------------------


def test_numeric_mode_takes_decimal_fraction_and_numpy_scalars(run):
    """Decimal, Fraction and numpy scalars are numbers; bool, str and complex are not."""
    log = structlog.wrap_logger(
        structlog.PrintLogger(), processors=[RunProcessor(run, metrics=NUMERIC), _drop], context_class=dict
    )
    log.info("epoch", d=Decimal("0.5"), f=Fraction(3, 4), i=np.int16(3), u=np.uint8(7), x=np.float32(0.25),
             a=np.array(1.5), ok=True, s="1", c=1j)
    assert run.get_metrics() == {"d": 0.5, "f": 0.75, "i": 3, "u": 7, "x": 0.25, "a": 1.5}


# -- one bad point in a big batch -------------------------------------------------------------


def _timed_batch(run: Any, n: int, odd: bool) -> float:
    """n good points and, with ``odd``, one of each odd kind in the middle; seconds to durable."""
    log = _handler_logger(run)
    t0 = time.perf_counter()
    for i in range(n):
        run.log("good", i * 0.5)
        if odd and i == n // 2:
            run.log("good_big", 2**63)
            run.log("good_step", 1.0, step=2**63)
            run.log("good\udcff", 1.0)
            log.info(MESSAGE, extra={"metric": "line_big", "value": 2**80})
    run.flush()
    return time.perf_counter() - t0


def test_one_odd_point_among_100000_does_not_slow_its_batch_and_every_point_is_stored(experiment, caplog):
    """The writer never meets an odd value, so it never falls back to one transaction per event."""
    n = 100_000
    plain_run = experiment.start_logging("plain")
    plain = _timed_batch(plain_run, n, odd=False)
    odd_run = experiment.start_logging("odd")
    odd = _timed_batch(odd_run, n, odd=True)
    print(f"100,000 points: {plain:.2f} s; with odd points among them: {odd:.2f} s")
    assert len(odd_run.get_metric_history("good")) == n
    assert odd_run.get_metrics("good_big") == {"good_big": float(2**63)}
    assert odd_run.get_metrics("good_step") == {"good_step": 1.0}
    assert odd_run.get_metrics("good\\udcff") == {"good\\udcff": 1.0}
    assert odd_run.get_metrics("line_big") == {"line_big": float(2**80)}
    assert _line_kept(odd_run, via_handler_fast)
    assert not _errors(caplog)
    assert odd < 3 * plain + 1.0  # generous: a shared CI machine; one by one took 15x


# -- ingest ------------------------------------------------------------------------------------


def test_tracklog_ingest_stores_a_30_digit_json_int_as_its_float(tmp_path):
    """A JSON line's int beyond 64 bits through the real ``tracklog ingest``: the float, one warning."""
    from tests.capture.capture_support import cli, only_run

    ws = tmp_path / "ws"
    stream = (
        b'{"metric": "tokens", "value": 123456789012345678901234567890}\n'
        b'{"metric": "tokens", "value": 5, "step": 99999999999999999999}\n'
        b'{"metric": "n\\u0000ul", "value": 1}\n'
        b'{"metric": "caf\\udce9", "value": 2}\n'
        b"a plain line\n"
    )
    done = cli(ws, "ingest", "-", input=stream)
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr and b"ERROR" not in done.stderr
    assert done.stderr.count(b"outside the 64-bit integer range") == 1
    run = only_run(ws)
    assert [(p.step, p.value) for p in run.get_metric_history("tokens")] == [
        (0, float(123456789012345678901234567890)), (1, 5)
    ]
    assert run.get_metrics("caf\\udce9") == {"caf\\udce9": 2}
    assert not [name for name in run.get_metrics() if "ul" in name]
    assert len(run.get_logs(filename="std_log.txt")) == 5


# -- log lines -------------------------------------------------------------------------------


class RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.parametrize("where", ["message", "argument", "extra", "extra key", "exc_text", "logger"])
def test_a_lone_surrogate_anywhere_in_a_record_keeps_its_line_and_reads_back_the_same(run, capsys, where):
    """No RecursionError in encode_record: the surrogate is written as its JSON escape."""
    odd = "caf\ud800"
    logger_name = "odd." + odd if where == "logger" else "odd.lines"
    log = logging.getLogger(logger_name)
    log.propagate = False
    log.handlers[:] = [RunHandler(run)]
    log.setLevel(logging.INFO)
    if where == "message":
        log.info(odd)
    elif where == "argument":
        log.info("file %s", odd)
    elif where == "extra":
        log.info("with extra", extra={"path": odd})
    elif where == "extra key":
        log.info("with extra", extra={odd: 1})
    elif where == "exc_text":
        try:
            raise ValueError(odd)
        except ValueError:
            log.exception("failed")
    else:
        log.info("from an odd logger")
    log.info("after it")
    run.flush()
    assert "Logging error" not in capsys.readouterr().err
    records = run.get_logs()
    assert [r["message"] for r in records][-1] == "after it"
    (record,) = records[:-1]
    if where in ("message", "argument"):
        found = record["message"]
    elif where == "extra":
        found = record["extra"]["path"]
    elif where == "extra key":
        found = "".join(record["extra"])
    else:
        found = record["exc_text"] if where == "exc_text" else record["logger"]
    assert odd in found


def test_an_fsdecoded_file_name_in_a_message_reads_back_as_the_same_str(run):
    """os.fsdecode(b'caf\\xe9.txt') is 'caf\\udce9.txt': written, and get_logs() returns it unchanged."""
    import os

    name = os.fsdecode(b"caf\xe9.txt")
    log = _handler_logger(run)
    log.info("opened %s", name)
    assert [r["message"] for r in run.get_logs()] == [f"opened {name}"]


def test_lines_written_before_with_a_raw_byte_read_back_as_its_surrogate(run):
    """Older files held such a byte raw (not UTF-8): get_logs() reads them, as fsdecode would."""
    run.flush()
    path = run.workspace.store.run_dir(run.id) + "/logs/python.log"
    import os

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "ab") as f:
        f.write(b'{"time":"2026-01-01T00:00:00.000000Z","level":"INFO","logger":"x","message":"caf\xe9",'
                b'"ts":1767225600.000000,"levelno":20}\n')
    assert [r["message"] for r in run.get_logs()] == ["caf\udce9"]


def test_extra_fields_whose_repr_raises_or_that_loop_keep_the_line_and_its_point(run, caplog):
    """An extra= value the line encoder cannot write becomes a placeholder; the point beside it is kept."""
    caplog.set_level(logging.WARNING)
    loop: list[Any] = []
    loop.append(loop)
    log = _handler_logger(run)
    log.info(MESSAGE, extra={"metric": "kept", "value": 1.0, "bad": RaisingRepr(), "loop": loop})
    run.flush()
    assert not _errors(caplog)
    assert run.get_metrics("kept") == {"kept": 1.0}
    (record,) = run.get_logs()
    assert record["message"] == MESSAGE and record["extra"]["bad"] == "<unprintable RaisingRepr>"


def test_structlog_events_with_odd_text_or_a_raising_repr_keep_their_line(run):
    """RunProcessor: a surrogate in the event text, a non-str event whose repr raises."""
    log = structlog.wrap_logger(structlog.PrintLogger(), processors=[RunProcessor(run), _drop], context_class=dict)
    log.info("caf\ud800", path="x\udcff")
    log.info(RaisingRepr())
    records = run.get_logs()
    assert records[0]["message"] == "caf\ud800" and records[0]["extra"]["path"] == "x\udcff"
    assert records[1]["message"] == "<unprintable RaisingRepr>"


def test_the_text_view_of_a_line_with_a_lone_surrogate_prints_on_any_console():
    """render_text escapes it, so ``tracklog logs`` never fails to print a line it reads."""
    from tracklog._logfile import render_text

    text = render_text({"ts": 0.0, "level": "INFO", "logger": "x", "message": "caf\udce9"})
    text.encode("utf-8")
    assert text.endswith("caf\\udce9")
