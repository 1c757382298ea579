"""Model version numbers on the plugin route are ints, as MLflow's own registries give them."""

from __future__ import annotations

import pytest

mlflow = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")


def _versions(tracking_uri: str, source: str) -> dict[str, object]:
    """Every place a registry call gives a version number, through MLflow's client."""
    client = mlflow.MlflowClient(tracking_uri, registry_uri=tracking_uri)
    run_id = client.create_run(client.create_experiment("registry")).info.run_id
    client.create_registered_model("mv-test")
    made = client.create_model_version("mv-test", source, run_id=run_id)
    client.create_model_version("mv-test", source, run_id=run_id)
    client.set_registered_model_alias("mv-test", "champion", made.version)
    model = client.get_registered_model("mv-test")
    return {
        "create_model_version": made.version,
        "get_model_version": client.get_model_version("mv-test", "1").version,
        "search_model_versions": sorted(v.version for v in client.search_model_versions("name='mv-test'")),
        "latest_versions": [v.version for v in model.latest_versions],
        "by_alias": client.get_model_version_by_alias("mv-test", "champion").version,
        "aliases": model.aliases,
    }


def test_version_numbers_are_ints_as_in_mlflows_sqlite_registry(tmp_path):
    """register/get/search/latest/alias: 1 and 2, not "1" and "2"; version + 1 works."""
    source = tmp_path / "model"
    source.mkdir()
    ours = _versions(f"tracklog:{tmp_path / 'ws'}", str(source))
    theirs = _versions(f"sqlite:///{tmp_path / 'mlflow.db'}", str(source))
    assert ours == theirs
    assert ours["create_model_version"] == 1 and ours["search_model_versions"] == [1, 2]
    assert type(ours["get_model_version"]) is int and ours["aliases"] == {"champion": 1}
