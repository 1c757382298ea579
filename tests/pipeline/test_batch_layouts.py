"""A batch mixing every queue-item layout reaches the SQLite store in arrival order, and its
log lines are the lines a plain encoder writes."""

from __future__ import annotations

import json
import logging
import random
import time

import tracklog
from tracklog._logfile import encode_records
from tracklog.pipeline.event import (
    EVENT_FIELDS,
    LOG,
    LOG_LINE,
    LOG_LINE_WITH_POINT,
    METRIC,
    POINTS,
    Event,
    line_head,
    log_line_fields,
)

_T0 = 1_700_000_000.25


def _reference_line(event: tuple, rank: int | None) -> bytes:  # type: ignore[type-arg]
    """The documented line layout, written the slow, obvious way."""
    if len(event) < 10:
        event = log_line_fields(event)
    ts, level, logger, message, attrs = event[5], event[6], event[7], event[8], event[9]
    whole = int(ts)
    micros = "%06d" % ((ts - whole) * 1e6)
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    text = (
        f'{{"time":"{when}.{micros}Z","level":{json.dumps(logging.getLevelName(level))},'
        f'"logger":{json.dumps(logger, ensure_ascii=False)},'
        + ("" if rank is None else f'"rank":{rank},')
        + f'"message":{json.dumps(message, ensure_ascii=False)}'
    )
    for key, value in (attrs or {}).items():
        text += f",{json.dumps(key)}:{json.dumps(value, ensure_ascii=False, separators=(',', ':'))}"
    return (text + f',"ts":{whole}.{micros},"levelno":{level}}}\n').encode()


def _mixed_batch(rng: random.Random, run_ids: list[str]) -> list[tuple]:  # type: ignore[type-arg]
    """Log records with a point, plain lines (as RunHandler's LOG_LINE layouts and as Event's
    fields), single points and POINTS items, interleaved, over runs and metrics that change
    often, across second boundaries. A LOG_LINE's head is mostly one shared tuple per run,
    as a handler's is, and sometimes a fresh equal one."""
    items: list[tuple] = []  # type: ignore[type-arg]
    heads = {run_id: line_head(run_id, "python.log") for run_id in run_ids}
    ts = _T0
    for _ in range(3000):
        ts += rng.choice([1e-6, 3.7e-5, 0.01, 0.4])
        run_id = rng.choice(run_ids)
        name = rng.choice(["loss", "acc"])
        level = rng.choice([logging.INFO, logging.INFO, logging.WARNING])
        message = rng.choice(["loss", "loss", "acc", 'é "quoted"'])
        attrs = rng.choice([None, None, None, {"extra": {"n": 1}}])
        n = rng.randrange(6)  # steps repeat: the read's sort by step keeps arrival order
        shape = rng.random()
        head = heads[run_id] if rng.random() < 0.9 else line_head(run_id, "python.log")
        if shape < 0.4:
            items.append((head, ts, level, "train", message, name, n * 0.5, n))
        elif shape < 0.5:
            items.append((head, ts, level, rng.choice(["train", "eval"]), message))
        elif shape < 0.7:
            items.append((run_id, LOG, "python.log", None, None, ts, level, rng.choice(["train", "eval"]), message, attrs))
        elif shape < 0.9:
            items.append(Event(run_id, METRIC, name, float(n), n, ts))
        else:
            items.append((run_id, POINTS, name, [n, n + 1.0, n + 2.0], [n, n + 1, n + 2], ts, 0, "", "", None))
    return items


def _run_of(item: tuple) -> str:  # type: ignore[type-arg]
    return item[0][0] if len(item) < 10 else item[0]


def _expected_points(items: list[tuple], run_id: str, name: str) -> list[tuple]:  # type: ignore[type-arg]
    points = []
    for item in items:
        if _run_of(item) != run_id:
            continue
        if len(item) == LOG_LINE_WITH_POINT:
            if item[5] == name:
                points.append((item[7], item[6], item[1]))
        elif item[1] == METRIC and item[2] == name:
            points.append((item[4], item[3], item[5]))
        elif item[1] == POINTS and item[2] == name:
            points.extend((step, value, item[5]) for step, value in zip(item[4], item[3]))
    return sorted(points, key=lambda point: point[0])  # stable, as metric_history is


def test_the_layout_sizes_the_hot_loops_spell_as_constants():
    """The SQLite store and the log encoder tell the layouts apart by these sizes, written
    there as literals (a global's lookup per item costs the writer)."""
    assert (LOG_LINE, LOG_LINE_WITH_POINT, EVENT_FIELDS) == (5, 8, 10)
    assert len(Event._fields) == EVENT_FIELDS


def test_a_mixed_batch_keeps_each_metric_in_arrival_order(tmp_path):
    """Every point of every layout is stored once, in the order it was put, and every log
    line (with or without a point) is in the file in order."""
    rng = random.Random(11)
    exp = tracklog.Experiment(tracklog.Workspace(tmp_path / "ws"), "batches")
    runs = [exp.start_logging(f"r{i}") for i in range(2)]
    store = exp.workspace.store
    items = _mixed_batch(rng, [run.id for run in runs])
    for start in range(0, len(items), 700):
        store.write_batch(items[start:start + 700])
    for run in runs:
        for name in ("loss", "acc"):
            got = [(p.step, p.value, p.timestamp) for p in store.metric_history(run.id, name)]
            assert got == _expected_points(items, run.id, name)
        lines = list(store.iter_log_lines(run.id, "python.log"))
        logged = [item for item in items if _run_of(item) == run.id and (len(item) < 10 or item[1] == LOG)]
        assert b"".join(lines) == b"".join(_reference_line(item, None) for item in logged)


def test_runs_of_one_message_are_written_as_the_plain_lines(tmp_path):
    """The encoder's reused text for a run of one level, logger and message never leaks
    into the next line: a new second, message, logger, level or attributes."""
    rng = random.Random(5)
    events = []
    ts = _T0
    for _ in range(5000):
        ts += rng.choice([1e-6, 2e-6, 0.3, 0.9999])
        events.append((
            "run", LOG, "python.log", None, None, ts,
            rng.choice([20, 20, 20, 30]), rng.choice(["a", "a", "a", "b"]),
            rng.choice(["m", "m", "m", "n", None]),
            rng.choice([None, None, None, {}, {"exc_text": "Traceback"}]),
        ))
    plain = [ev if ev[8] is not None else ev[:8] + ("None",) + ev[9:] for ev in events]
    for rank in (None, 2):
        assert encode_records(events, rank) == b"".join(_reference_line(ev, rank) for ev in plain)
