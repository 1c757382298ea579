"""How record fields become OpenTelemetry attributes and back (the flattening rules)."""

from __future__ import annotations

import math

import pytest

from tracklog.exporters import flatten, unflatten


def test_nested_dicts_become_dotted_keys():
    assert flatten({"metrics": {"loss": 0.3}, "ctx": {"user": {"id": 7}}}) == {
        "metrics.loss": 0.3,
        "ctx.user.id": 7,
    }


def test_primitives_and_homogeneous_lists_are_kept_and_none_is_left_out():
    out = flatten({"s": "x", "b": True, "i": 3, "f": math.inf, "by": b"\x01", "l": [1, 2], "n": None, "e": {}})
    assert out == {"s": "x", "b": True, "i": 3, "f": math.inf, "by": b"\x01", "l": (1, 2)}


def test_mixed_lists_objects_and_huge_ints_become_strings():
    class Thing:
        def __str__(self) -> str:
            return "thing"

    out = flatten({"mixed": [1, "a"], "obj": Thing(), "big": 2**70})
    assert out == {"mixed": "[1, 'a']", "obj": "thing", "big": str(2**70)}


def test_numpy_scalars_become_python_numbers():
    np = pytest.importorskip("numpy")
    out = flatten({"f": np.float32(0.5), "i": np.int64(4)})
    assert out == {"f": 0.5, "i": 4}
    assert type(out["i"]) is int


def test_convention_containers_nest_back_splitting_at_the_first_dot_only():
    fields = unflatten({"metrics.val.loss": 0.2, "tags.team": "a", "params.lr": 0.1, "http.method": "GET"})
    assert fields == {
        "metrics": {"val.loss": 0.2},
        "tags": {"team": "a"},
        "params": {"lr": 0.1},
        "http.method": "GET",
    }


def test_round_trip_keeps_the_convention_keys():
    fields = {"metric": "loss", "value": 0.25, "step": 3, "metrics": {"acc": 0.9, "val.loss": 1.5},
              "tags": {"team": "x"}, "params": {"lr": 0.01}}
    assert unflatten(flatten(fields)) == fields


def test_map_valued_attribute_is_used_as_is_and_merges_with_dotted_keys():
    assert unflatten({"metrics": {"a": 1}, "metrics.b": 2}) == {"metrics": {"a": 1, "b": 2}}
