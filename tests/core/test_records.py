"""The store's records (``RunInfo``, ``ExperimentInfo``, the registry's and MLflow's records, the
configs) behave as the frozen dataclasses they were: keyword construction and defaults, repr,
equality by class and fields, hashing, no assignment, ``replace``, pickling and copying."""

from __future__ import annotations

import copy
import pickle

import pytest

from tracklog import RunInfo
from tracklog._azure_config import AzureNames
from tracklog._project_config import ProjectConfig
from tracklog._types import ExperimentInfo
from tracklog.capture import IngestResult
from tracklog.store._registry_types import ModelVersionInfo, RegisteredModelInfo
from tracklog.store._tracking_records import ExperimentRecord, LoggedModelRecord, ModelMetric, RunInput


def _run(**changes: object) -> RunInfo:
    fields: dict[str, object] = dict(
        run_id="r1", experiment_id="e1", experiment_name="exp", name="n", status="Running", start_time=1.5
    )
    fields.update(changes)
    return RunInfo(**fields)  # type: ignore[arg-type]


def test_run_info_repr_lists_every_field_by_name_in_order() -> None:
    """``repr(RunInfo)`` is the dataclass repr: the class name and every field, in declaration order."""
    assert repr(_run()) == (
        "RunInfo(run_id='r1', experiment_id='e1', experiment_name='exp', name='n', status='Running', "
        "start_time=1.5, end_time=None, parent_run_id=None, error=None, owner_pid=None, owner_host=None, "
        "heartbeat=None, extra={}, lifecycle='active', description=None, user_id=None)"
    )


def test_run_info_positional_and_keyword_construction_agree_and_defaults_hold() -> None:
    """Positional and keyword construction give equal records; ``extra`` defaults to a new dict each time."""
    a = RunInfo("r1", "e1", "exp", "n", "Running", 1.5)
    b = _run()
    assert a == b and a.extra == {} and a.extra is not b.extra
    assert (a.end_time, a.lifecycle, a.run_name, a.lifecycle_stage) == (None, "active", "n", "active")


def test_equality_is_by_class_and_fields() -> None:
    """Records of one class with equal fields are equal; another field, or another class, is not."""
    assert _run() == _run()
    assert _run() != _run(status="Completed")
    assert ExperimentInfo("e1", "exp", 1.0) == ExperimentInfo("e1", "exp", 1.0)
    assert ExperimentInfo("e1", "exp", 1.0) != ("e1", "exp", 1.0)
    assert ModelMetric("k", 1.0, 0, 2.0) != RunInput("input", "dataset", None, {})


def test_records_refuse_assignment_and_deletion() -> None:
    """A record's fields are set once: assigning or deleting one is an AttributeError."""
    info = _run()
    with pytest.raises(AttributeError, match="cannot assign to field 'status'"):
        info.status = "Completed"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del info.name
    with pytest.raises(AttributeError):
        info.not_a_field = 1  # type: ignore[attr-defined]
    assert info.status == "Running"


def test_hash_follows_fields_and_a_dict_field_is_unhashable_as_before() -> None:
    """Records without dict fields hash by their fields; ``RunInfo`` (its ``extra`` dict) does not hash."""
    assert hash(ExperimentInfo("e1", "exp", 1.0)) == hash(ExperimentInfo("e1", "exp", 1.0))
    assert len({ModelMetric("k", 1.0, 0, 2.0), ModelMetric("k", 1.0, 0, 2.0)}) == 1
    with pytest.raises(TypeError):
        hash(_run())


def test_replace_returns_a_changed_copy() -> None:
    """``record.replace(field=value)`` is ``dataclasses.replace``: a new record, the old one unchanged."""
    info = _run()
    done = info.replace(status="Completed", end_time=2.0)
    assert (done.status, done.end_time, done.run_id) == ("Completed", 2.0, "r1")
    assert info.status == "Running"
    with pytest.raises(TypeError):
        info.replace(no_such_field=1)


def test_records_pickle_and_copy() -> None:
    """Records survive pickling (a multiprocessing queue) and copy/deepcopy with equal fields."""
    records = [
        _run(extra={"k": "v"}),
        ExperimentRecord("e1", "exp", 1.0, 2.0, tags={"t": "1"}),
        LoggedModelRecord("m", "e1", "model", None, "READY", None, "/a", 1.0, 2.0),
        RegisteredModelInfo("m", None, 1.0, 2.0),
        ModelVersionInfo("m", 1, None, "/s", None, None, "READY", "None", None, 1.0, 2.0),
        AzureNames(workspace_name="w"),
        ProjectConfig("p", ("x",), False),
        IngestResult(lines=3),
    ]
    for record in records:
        assert pickle.loads(pickle.dumps(record)) == record
        assert copy.copy(record) == record
        assert copy.deepcopy(record) == record


def test_ingest_result_stays_mutable_and_unhashable() -> None:
    """``IngestResult`` was a plain (not frozen) dataclass: its counts change, and it does not hash."""
    result = IngestResult(format="cri")
    result.lines += 2
    result.first = 1.0
    assert result == IngestResult(lines=2, format="cri", first=1.0)
    assert repr(result) == "IngestResult(lines=2, format='cri', first=1.0, last=None, untimed=0)"
    with pytest.raises(TypeError):
        hash(result)
