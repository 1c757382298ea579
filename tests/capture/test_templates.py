"""Line templates read a chunk of repeated logfmt lines exactly as the per-line recogniser reads each line.

Every block below goes through a Recogniser twice: whole (where a template may
take it) and one line at a time (the per-line path: a recogniser learns a
template only from a block of two lines or more). The points must be the same: names, values with
their types (int stays int), steps and step counters.
"""

from __future__ import annotations

import math
import random

import pytest

from tracklog.capture._recognise import Recogniser
from tracklog.pipeline.event import METRIC, POINTS, as_events
from tracklog.pipeline.target import RunTarget


def _points(events: list) -> list[tuple[str, str, str, int]]:
    """(name, type, repr(value), step) of each metric point, in order per name."""
    out = []
    for event in as_events(events):
        assert event.kind == METRIC
        out.append((event.name, type(event.value).__name__, repr(event.value), event.step))
    return sorted(out, key=lambda p: p[0])  # per name, arrival order kept (sort is stable)


def _both(block: bytes) -> tuple[list, list, RunTarget, RunTarget, list]:
    whole_target, line_target = RunTarget("w", None), RunTarget("l", None)  # type: ignore[arg-type]
    recogniser = Recogniser()
    whole = recogniser.events(whole_target, block, 1.0)
    by_line = []
    one_by_one = Recogniser()  # never learns a template: it sees one line at a time
    for line in block.split(b"\n"):
        if line:
            by_line.extend(one_by_one.events(line_target, line + b"\n", 1.0))
    assert one_by_one.template is None
    return _points(whole), _points(by_line), whole_target, line_target, whole


def _same(block: bytes) -> list:
    whole, by_line, whole_target, line_target, raw = _both(block)
    assert whole == by_line
    assert whole_target.steps == line_target.steps
    return raw


def _uniform(line: str, n: int = 50) -> bytes:
    return "".join(line.format(i=i) + "\n" for i in range(n)).encode()


def test_a_uniform_block_is_read_by_its_template_with_the_same_points():
    raw = _same(_uniform("step={i} loss={i}.5 acc=0.{i}"))
    assert raw and all(event[1] == POINTS for event in raw)  # one POINTS event per metric
    assert len(raw) == 2


@pytest.mark.parametrize(
    "line",
    [
        "loss={i}.25 acc=0.9",  # no step: the next step per metric
        "step={i} loss={i}",  # an int metric stays int
        "step={i} loss=-{i} gain=+{i}",  # signed ints
        "step={i} loss=1e{i} x=.5 y=5. z=1E-3",  # exponents, bare points
        "step={i} loss=nan acc=inf low=-inf big=Infinity n=NaN",
        "epoch={i} loss=0.5",  # epoch as the step
        "epoch=0.{i} step={i} loss=1",  # a fractional epoch beside the step: a metric
        "iteration={i} global_step={i} loss=2",  # the preferred step field wins
        "level=info step={i} loss=0.{i} msg=done",  # text fields
        "time=12:00:{i} pid={i} step={i} loss=1",  # never-metric fields
        "step={i} loss=0{i}",  # leading zeros
        "step={i} loss=1_000",  # underscores are text to the per-line recogniser
        "step={i} empty= loss=3",  # an empty value
        "step={i} loss=9223372036854775808",  # beyond int64: converted with a warning, per line
        "step=-9223372036854775809 loss=1",  # a step beyond int64
        "step={i} top=9223372036854775807 low=-9223372036854775808",  # the int64 bounds: kept as ints
        "step={i} wide=000000000000000000001",  # many digits, a small value
        "step={i}.5 loss=1",  # a fractional step
        "step={i} loss=nano",  # text that starts like a number
        "step={i} loss=info",  # text where the first line had a number is on every line here
        "step={i} loss=0.3 loss=0.4",  # a repeated key
        "  step={i} loss=1",  # leading spaces
        "step={i}\tloss=1",  # a tab
        "step={i} loss=1\r",  # CRLF
        'step={i} msg="a b" loss=1',  # quotes: the full grammar
        "step={i} loss=[1]",  # brackets
        "x/y.z-w={i} a_b=0.5",  # odd but valid names
    ],
)
def test_each_shape_gives_the_points_of_the_per_line_path(line: str):
    _same(_uniform(line))


def test_values_that_change_type_down_a_column():
    lines = ["step=0 loss=1", "step=1 loss=0.5", "step=2 loss=-3", "step=3 loss=nan", "step=4 loss=2e3"]
    _same(("\n".join(lines) + "\n").encode())


def test_an_int_appearing_where_a_preferred_step_field_was_fractional():
    # The first line's epoch is a metric; on the third it is an int, which makes it the step.
    lines = ["epoch=0.5 iter=1 loss=1", "epoch=0.7 iter=2 loss=1", "epoch=1 iter=3 loss=1"]
    _same(("\n".join(lines) + "\n").encode())


@pytest.mark.parametrize(
    "lines",
    [
        ["step=1 loss=1", "", "step=2 loss=2"],  # an empty line
        ["step=1 loss=1", "step=2 acc=2", "step=3 loss=3"],  # another shape between
        ["step=1 loss=1", "loss=2 step=2"],  # the keys in another order
        ["step=1 loss=1 step=3", "step=5"],  # token counts that add up, misaligned
        ["step=1 loss=1 step=2", "loss=3"],  # columns that line up, lines that do not
        ["step=1", "loss=1 step=2 loss=3"],  # the same, the other way round
        ["step=1 loss=1", " step=2 loss=2"],  # a leading space on one line
        ["step=1 loss=1", "epoch done", "step=2 loss=2"],  # prose
        ["step=1 loss=1", "step=2 loss=2\rstep=2 loss=3"],  # a redrawn line
        ["step=1 loss=1", "Epoch 3/10", "loss: 0.3 - acc: 0.9"],  # Keras lines after
        ["step=1 loss=1", "{\"metric\": \"m\", \"value\": 1}"],  # a JSON line
        ["step=1 loss=1", "step=2 loss=2 extra=1"],  # one more key
    ],
)
def test_a_mixed_block_is_read_line_by_line(lines: list[str]):
    raw = _same(("\n".join(lines) + "\n").encode())
    assert not any(type(event) is tuple and event[1] == POINTS for event in raw)


def test_the_step_counters_carry_over_from_template_to_lines_and_back():
    target = RunTarget("r", None)  # type: ignore[arg-type]
    recogniser = Recogniser()
    recogniser.events(target, _uniform("loss=0.{i}", 10), 1.0)  # template: steps 0..9
    recogniser.events(target, b"loss=7\n", 1.0)  # one line: step 10
    recogniser.events(target, _uniform("loss=0.{i}", 5), 1.0)  # template again: 11..15
    assert target.steps == {"loss": 16}


def test_explicit_steps_below_the_counter_leave_it_alone():
    target = RunTarget("r", None)  # type: ignore[arg-type]
    target.steps["loss"] = 100
    events = Recogniser().events(target, _uniform("step={i} loss=1", 5), 1.0)
    assert events[0][4] == [0, 1, 2, 3, 4]
    assert target.steps == {"loss": 100}


def _random_line(rng: random.Random, keys: list[str]) -> str:
    values = ["1", "0.5", "-2", "+3", "1e3", "1e-3", "nan", "inf", "x", "", "1_0", "007", ".5", "5.", "-0", "99999999999999999999"]
    return " ".join(f"{key}={rng.choice(values)}" for key in keys)


@pytest.mark.parametrize("seed", range(60))
def test_random_blocks_agree(seed: int):
    rng = random.Random(seed)
    pool = ["step", "epoch", "iter", "loss", "acc", "learning_rate", "val-loss", "time", "level"]
    keys = rng.sample(pool, rng.randint(1, 5))
    first = " ".join(f"{key}={rng.choice(['1', '0.5'])}" for key in keys)
    lines = [first]
    odd = 0.0 if seed % 2 else 0.2  # half the blocks hold only numbers: the template's own ground
    for _ in range(rng.randint(1, 30)):
        if rng.random() >= odd:
            numbers = ["1", "2", "0.25", "1e2", "-4", "nan", "+3", "1e-3", "007", "-0.5", "Infinity"]
            lines.append(" ".join(f"{key}={rng.choice(numbers)}" for key in keys))
        else:
            lines.append(_random_line(rng, keys))
    _same(("\n".join(lines) + "\n").encode())


@pytest.mark.parametrize("seed", range(30))
def test_blocks_whose_every_value_has_a_dot_agree(seed: int):
    # The template skips its integer checks when each value holds a ".": equal to the per-line path.
    rng = random.Random(seed)
    keys = rng.sample(["step", "epoch", "loss", "acc", "train.loss", "lr"], rng.randint(1, 4))
    dotted = ["0.5", ".5", "5.", "-.5", "+1.5", "1.5e3", "-2.0", "1.2.3", "a.b", "nan.", "1._5", "0.0"]
    lines = [" ".join(f"{key}={rng.choice(['1.5', '0.25'])}" for key in keys)]
    for _ in range(rng.randint(1, 20)):
        lines.append(" ".join(f"{key}={rng.choice(dotted)}" for key in keys))
    _same(("\n".join(lines) + "\n").encode())


def test_nan_values_stay_nan():
    events = Recogniser().events(RunTarget("r", None), _uniform("step={i} loss=nan"), 1.0)  # type: ignore[arg-type]
    (points,) = [event for event in events if event[2] == "loss"]
    assert all(math.isnan(value) for value in points[3])


@pytest.mark.parametrize(
    "line",
    [
        "step={i} loss=0.{i} acc=0.9",
        "loss={i}.25",
        "epoch={i} loss=-{i} lr=1e-{i}",
        "level=info step={i} loss=nan",
        "time=12:00:{i} step={i} loss=1\r",
    ],
)
def test_the_common_shapes_take_the_template(line: str):
    events = Recogniser().events(RunTarget("r", None), _uniform(line), 1.0)  # type: ignore[arg-type]
    assert events and all(type(event) is tuple and event[1] == POINTS for event in events)
