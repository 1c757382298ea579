"""Management calls on an MLflow server: delete, restore or rename a run, remove its tags,
create (with tags), tag, rename, delete or restore an experiment, and read experiments
whole (tags, lifecycle), deleted ones too.

Each is one REST call, made at once, as MLflow's own client makes it; the remote store
first has what it spooled before delivered, so a call never overtakes queued data.
"""

from __future__ import annotations

from typing import Any, Sequence

from ._http import RemoteAPIError, RestClient
from ._mlflow_reads import experiment_records
from ._tracking_records import ACTIVE, DELETED, ExperimentExistsError, ExperimentRecord

__all__ = [
    "create_experiment",
    "delete_experiment_tag",
    "delete_run_tags",
    "experiment_record",
    "experiment_records_all",
    "rename_experiment",
    "rename_run",
    "set_experiment_lifecycle",
    "set_experiment_tag",
    "set_run_lifecycle",
]


def experiment_record(raw: dict[str, Any]) -> ExperimentRecord:
    """An experiment from MLflow's JSON as the store's record (times in seconds)."""
    created = float(raw.get("creation_time") or 0) / 1000
    updated = float(raw.get("last_update_time") or 0) / 1000 or created
    tags = {t["key"]: t.get("value", "") for t in raw.get("tags", [])}
    return ExperimentRecord(str(raw["experiment_id"]), raw.get("name", ""), created, updated,
                            raw.get("lifecycle_stage") or ACTIVE, raw.get("artifact_location"), tags)


def experiment_records_all(client: RestClient, name: str | None = None) -> list[ExperimentRecord]:
    """Every experiment on the server, deleted ones too, oldest first; or the one called ``name``."""
    if name is not None:
        try:
            answer = client.call("GET", "experiments/get-by-name", {"experiment_name": name})
        except RemoteAPIError as exc:
            if exc.code == "RESOURCE_DOES_NOT_EXIST" or exc.status == 404:
                return []
            raise
        raw = answer.get("experiment")
        return [experiment_record(raw)] if raw else []
    return [experiment_record(raw) for raw in experiment_records(client, view_type="ALL")]


def delete_run_tags(client: RestClient, server_id: str, keys: Sequence[str]) -> None:
    """Remove these tags (MLflow keys) of the run; each must be on it."""
    for key in keys:
        client.call("POST", "runs/delete-tag", {"run_id": server_id, "key": key})


def set_run_lifecycle(client: RestClient, server_id: str, lifecycle: str) -> None:
    """Mark the run deleted (MLflow's delete_run), or active again (restore_run)."""
    endpoint = "runs/delete" if lifecycle == DELETED else "runs/restore"
    client.call("POST", endpoint, {"run_id": server_id})


def rename_run(client: RestClient, server_id: str, name: str) -> None:
    """Give the run a new name (the server sets its ``mlflow.runName`` tag too)."""
    client.call("POST", "runs/update", {"run_id": server_id, "run_name": name})


def set_experiment_tag(client: RestClient, experiment_id: str, key: str, value: str) -> None:
    """Set one tag of an active experiment."""
    body = {"experiment_id": experiment_id, "key": key, "value": value}
    client.call("POST", "experiments/set-experiment-tag", body)


def rename_experiment(client: RestClient, experiment_id: str, new_name: str) -> None:
    """Rename an active experiment; ExperimentExistsError when another one, deleted or not, has the name."""
    try:
        client.call("POST", "experiments/update", {"experiment_id": experiment_id, "new_name": new_name})
    except RemoteAPIError as exc:
        taken = [r for r in experiment_records_all(client, new_name) if r.experiment_id != experiment_id]
        if exc.status == 400 and taken:  # MLflow's SQL store: a UNIQUE constraint, BAD_REQUEST
            raise ExperimentExistsError(
                f"an experiment called {new_name!r} exists already on the MLflow server at {client.uri}"
            ) from None
        raise


def create_experiment(
    client: RestClient, name: str, artifact_location: str | None, tags: dict[str, str]
) -> ExperimentRecord:
    """Create the experiment with its tags (and artifact location); ExperimentExistsError
    when the name is taken, by a deleted experiment too."""
    body: dict[str, Any] = {"name": name, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
    if artifact_location:
        body["artifact_location"] = artifact_location
    try:
        client.call("POST", "experiments/create", body, idempotent=False)
    except RemoteAPIError as exc:
        if exc.code != "RESOURCE_ALREADY_EXISTS":
            raise
        raise ExperimentExistsError(
            f"an experiment called {name!r} exists already on the MLflow server at {client.uri}"
        ) from None
    (record,) = experiment_records_all(client, name)
    return record


def delete_experiment_tag(client: RestClient, experiment_id: str, key: str) -> None:
    """Remove one tag of an active experiment."""
    client.call("POST", "experiments/delete-experiment-tag", {"experiment_id": experiment_id, "key": key})


def set_experiment_lifecycle(client: RestClient, experiment_id: str, lifecycle: str) -> None:
    """Mark the experiment and its runs deleted (MLflow's delete_experiment), or active again."""
    endpoint = "experiments/delete" if lifecycle == DELETED else "experiments/restore"
    client.call("POST", endpoint, {"experiment_id": experiment_id})
