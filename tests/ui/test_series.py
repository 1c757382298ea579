"""Downsampling for charts: min/max per pixel bucket, read from the embedded store's chunks."""

from __future__ import annotations

import math
import random

import pytest

from tracklog._ui._series import SeriesSource, chart_type, chunks_from_points, downsample
from tracklog.store import bucket_count


def _log(run, values, every: int = 0, steps=None) -> None:
    """Log values, flushing every `every` points so the store writes one chunk per flush."""
    for i, value in enumerate(values):
        run.log("m", value, step=None if steps is None else steps[i])
        if every and i % every == every - 1:
            run.flush()
    run.flush()


def _reference(steps, values, buckets, lo, hi):
    """Min and max per bucket, computed the slow obvious way."""
    span = hi - lo + 1
    n = bucket_count(buckets, span)
    out: dict[int, list[float]] = {}
    for s, v in zip(steps, values):
        if lo <= s <= hi and v == v:
            out.setdefault((s - lo) * n // span, []).append(v)
    return n, {b: (min(vs), max(vs)) for b, vs in out.items()}


def _buckets_of(result, n, lo, hi):
    span = hi - lo + 1
    got: dict[int, list[float]] = {}
    for x, y in zip(result["x"], result["y"]):
        if y is not None:
            got.setdefault((x - lo) * n // span, []).append(y)
    return {b: (min(vs), max(vs)) for b, vs in got.items()}


def test_a_short_series_comes_back_point_for_point(run):
    """With fewer points than twice the buckets, every point is returned as logged."""
    values = [math.sin(i / 5) for i in range(50)]
    _log(run, values)
    result = SeriesSource(run.workspace.store).series(run.id, "m", 100)
    assert result["x"] == list(range(50))
    assert result["y"] == values
    assert result["downsampled"] is False and result["points"] == 50


def test_every_buckets_min_and_max_survive_downsampling(run):
    """A 100,000-point series with spikes keeps each bucket's exact min and max, in ≤ 2 points per bucket."""
    rng = random.Random(7)
    values = [math.sin(i / 3000) + rng.random() * 0.1 for i in range(100_000)]
    values[12_345] = 50.0
    values[99_999] = -50.0
    _log(run, values, every=7_000)
    result = SeriesSource(run.workspace.store).series(run.id, "m", 300)
    assert result["downsampled"] is True and result["points"] == 100_000
    assert len(result["x"]) <= 2 * 300
    assert result["x"] == sorted(result["x"])
    assert max(result["y"]) == 50.0 and min(result["y"]) == -50.0
    n, expected = _reference(range(100_000), values, 300, 0, 99_999)
    assert _buckets_of(result, n, 0, 99_999) == expected


def test_chunks_inside_one_bucket_are_merged_from_their_summary(run):
    """Chunks small enough to sit in one bucket are not unpacked, and the answer is the same."""
    rng = random.Random(3)
    values = [rng.gauss(0, 1) for _ in range(20_000)]
    _log(run, values, every=37)  # ~540 chunks of 37 points; 50 buckets of 400 steps
    store = run.workspace.store
    chunks = store.series_reader().chunks(run.id, "m", 50)
    assert sum(c.steps is None for c in chunks) > len(chunks) // 2
    fast = downsample(chunks, 50)
    slow = downsample(chunks_from_points(store.metric_history(run.id, "m")), 50)
    n, expected = _reference(range(20_000), values, 50, 0, 19_999)
    assert _buckets_of(fast, n, 0, 19_999) == expected == _buckets_of(slow, n, 0, 19_999)


def test_a_zoomed_range_returns_its_points_exactly(run):
    """Asking for steps 1000..1100 of a long series gives those 101 points, not buckets."""
    values = [float(i % 97) for i in range(50_000)]
    _log(run, values, every=10_000)
    result = SeriesSource(run.workspace.store).series(run.id, "m", 400, 1000, 1100)
    assert result["x"] == list(range(1000, 1101))
    assert result["y"] == values[1000:1101]
    assert result["downsampled"] is False


def test_nan_only_buckets_become_gaps_and_nan_never_hides_a_value(run):
    """NaN runs show as null (a gap); a NaN at a bucket's start does not swallow its min/max."""
    values = [float(i) for i in range(10_000)]
    for i in range(2_000, 3_000):
        values[i] = float("nan")
    values[5_000] = float("nan")  # first point of a bucket when 100 buckets of 100 steps
    _log(run, values, every=3_000)
    result = SeriesSource(run.workspace.store).series(run.id, "m", 100)
    gaps = [x for x, y in zip(result["x"], result["y"]) if y is None]
    assert gaps and all(2_000 <= x < 3_000 for x in gaps)
    n, expected = _reference(range(10_000), values, 100, 0, 9_999)
    assert _buckets_of(result, n, 0, 9_999) == expected
    assert expected[50] == (5_001.0, 5_099.0)


def test_steps_logged_out_of_order_are_charted_in_step_order(run):
    """Explicit steps logged backwards still chart left to right with exact min/max."""
    steps = list(range(9_999, -1, -1))
    values = [float(s % 250) for s in steps]
    _log(run, values, every=4_000, steps=steps)
    result = SeriesSource(run.workspace.store).series(run.id, "m", 40)
    assert result["x"] == sorted(result["x"])
    n, expected = _reference(steps, values, 40, 0, 9_999)
    assert _buckets_of(result, n, 0, 9_999) == expected


def test_integer_metrics_and_lists_chart_as_lines(run):
    """Int values (stored as int64) and log_list values are line charts over step."""
    for i in range(30):
        run.log("ints", i * 3)
    run.log_list("accuracies", [0.5, 0.6, 0.7])
    run.flush()
    source = SeriesSource(run.workspace.store)
    assert source.series(run.id, "ints", 100)["y"] == [i * 3 for i in range(30)]
    types = {s.name: chart_type(s) for s in source.summaries(run.id)}
    assert types == {"ints": "line", "accuracies": "line"}


def test_metric_kinds_map_to_azure_ml_chart_rules(run, tmp_path):
    """Repeated scalar: line; single scalar: value; strings: text; rows: table; images: image."""
    run.log("loss", 1.0)
    run.log("loss", 0.5)
    run.log("final", 0.9)
    run.log("phase", "warmup")
    run.log("phase", "train")
    run.log_row("curve", x=1, y=2)
    png = tmp_path / "pic.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    run.log_image("sample", path=str(png))
    run.flush()
    types = {s.name: chart_type(s) for s in SeriesSource(run.workspace.store).summaries(run.id)}
    assert types == {"loss": "line", "final": "value", "phase": "text", "curve": "table", "sample": "image"}


def test_bucket_count_is_clamped():
    """Bucket counts stay between 10 and 4000 and never exceed the step span."""
    assert bucket_count(5) == 10
    assert bucket_count(10**6) == 4000
    assert bucket_count(800, span=20) == 20


def test_empty_series_is_empty():
    """A metric with no points gives empty arrays, not an error."""
    assert downsample([], 100) == {"x": [], "y": [], "points": 0, "downsampled": False}


@pytest.mark.parametrize("buckets", [10, 333, 4000])
def test_downsampling_keeps_points_sorted_and_bounded(run, buckets):
    """Whatever the width, output x is sorted and at most two points per bucket."""
    values = [random.random() for _ in range(30_000)]
    _log(run, values, every=5_000)
    result = SeriesSource(run.workspace.store).series(run.id, "m", buckets)
    assert result["x"] == sorted(result["x"])
    assert len(result["x"]) <= 2 * buckets
    assert max(result["y"]) == max(values) and min(result["y"]) == min(values)
