"""The workspace's model registry and run properties in the embedded store (real SQLite)."""

from __future__ import annotations

import pytest

from tracklog.store import (
    ModelExistsError,
    ModelNotFoundError,
    PropertyConflictError,
    SQLiteStore,
)


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(str(tmp_path / "ws"))
    yield s
    s.close()


@pytest.fixture
def run_id(store):
    exp = store.get_or_create_experiment("e")
    return store.create_run(exp.experiment_id, "r").run_id


def test_properties_are_immutable_and_apart_from_tags(store, run_id):
    store.add_properties(run_id, {"a": "1"})
    store.add_properties(run_id, {"a": "1", "b": "2"})  # the same value again is fine
    with pytest.raises(PropertyConflictError, match="immutable"):
        store.add_properties(run_id, {"b": "3", "c": "4"})
    assert store.get_properties(run_id) == {"a": "1", "b": "2"}  # nothing of the refused call
    assert store.get_tags(run_id) == {}


def test_versions_number_from_one_and_never_repeat(store, run_id):
    v1 = store.create_model_version("m", f"runs:/{run_id}/outputs/m.pkl", run_id=run_id,
                                    model_path="outputs/m.pkl", tags={"t": "1"}, properties={"p": "x"})
    assert (v1.name, v1.version, v1.run_id, v1.tags, v1.properties) == ("m", 1, run_id, {"t": "1"}, {"p": "x"})
    assert store.create_model_version("m", "s2").version == 2
    store.delete_model_version("m", 2)
    with pytest.raises(ModelNotFoundError):
        store.get_model_version("m", 2)
    assert store.create_model_version("m", "s3").version == 3
    assert [v.version for v in store.search_model_versions(name="m")] == [3, 1]
    assert [v.version for v in store.search_model_versions(run_id=run_id)] == [1]
    assert store.get_registered_model("m").latest_version == 3


def test_registered_models_tags_aliases_stage_rename_delete(store):
    info = store.create_registered_model("m", description="d", tags={"k": "v"})
    assert (info.description, info.tags, info.latest_version) == ("d", {"k": "v"}, None)
    with pytest.raises(ModelExistsError):
        store.create_registered_model("m")
    store.create_model_version("m", "s1")
    store.create_model_version("m", "s2")
    store.set_registered_model_alias("m", "champion", 1)
    assert store.get_model_version_by_alias("m", "champion").version == 1
    store.set_model_version_tag("m", 1, "a", "b")
    store.transition_model_version_stage("m", 2, "production")
    assert [(v.version, v.stage) for v in store.get_latest_versions("m", ["Production"])] == [(2, "Production")]
    store.update_model_version("m", 1, "first")
    store.update_registered_model("m", "new")
    store.set_registered_model_tag("m", "k2", "v2")
    store.delete_registered_model_tag("m", "k")
    store.rename_registered_model("m", "n")
    renamed = store.get_registered_model("n")
    assert (renamed.description, renamed.tags, renamed.aliases) == ("new", {"k2": "v2"}, {"champion": 1})
    v1 = store.get_model_version("n", 1)
    assert (v1.description, v1.tags, v1.aliases) == ("first", {"a": "b"}, ["champion"])
    with pytest.raises(ModelNotFoundError):
        store.get_registered_model("m")
    store.delete_registered_model("n")
    assert store.search_registered_models() == []
    assert store.search_model_versions() == []


def test_model_version_properties_are_immutable(store):
    store.create_model_version("m", "s")
    store.add_model_version_properties("m", 1, {"a": "1"})
    with pytest.raises(PropertyConflictError):
        store.add_model_version_properties("m", 1, {"a": "2"})
    assert store.get_model_version("m", 1).properties == {"a": "1"}


def test_run_rename_description_and_removed_tags(store, run_id):
    store.set_run_name(run_id, "renamed")
    store.set_run_description(run_id, "about")
    info = store.get_run(run_id)
    assert (info.name, info.description) == ("renamed", "about")
