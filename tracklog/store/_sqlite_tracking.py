"""What MLflow's tracking API keeps beyond runs, metrics, tags and params, in the embedded store:
experiment tags and lifecycle, run lifecycle and descriptions, inputs, logged models.

Metrics, tags and params still go through the pipeline (write_batch); these are the
control-plane writes and reads the MLflow plugin (tracklog.mlflow_plugin) needs.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import _config
from .._errors import ExperimentNotFoundError
from .._types import MetricPoint
from ._tracking_records import (
    ExperimentExistsError,
    ExperimentRecord,
    LoggedModelRecord,
    ModelMetric,
    RunInput,
)

_NAN = float("nan")
_EXPERIMENT_COLUMNS = "experiment_id, name, created, updated, lifecycle, artifact_location"
_MODEL_COLUMNS = (
    "model_id, experiment_id, name, source_run_id, status, model_type, artifact_location, "
    "created, updated, lifecycle, body"
)


def new_experiment_id(conn: sqlite3.Connection, name: str) -> int | None:
    """The id a new experiment gets: 0 for ``Default`` when 0 is free (MLflow's default
    experiment is "0", and scripts compare against it), else None, the next id. A workspace
    made before this keeps its ``Default`` where it is ("0" still finds it)."""
    if name != _config.DEFAULT_EXPERIMENT:
        return None
    taken = conn.execute("SELECT 1 FROM experiments WHERE experiment_id = 0").fetchone()
    return None if taken else 0


class TrackingTables:
    """SQLiteStore's methods over schema 3's tracking tables (a mixin of SQLiteStore)."""

    if TYPE_CHECKING:
        root: str

        def _tx(self, work: Callable[[sqlite3.Connection], Any], *, defer: Any = None) -> Any: ...
        def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _run_pk(self, conn: sqlite3.Connection, run_id: str) -> int: ...
        def _pk(self, run_id: str) -> int: ...

    # -- experiments ----------------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, str] | None = None
    ) -> ExperimentRecord:
        """A new experiment; ExperimentExistsError when the name is taken (deleted ones too)."""
        now = time.time()

        def work(conn: sqlite3.Connection) -> int:
            try:
                cursor = conn.execute(
                    "INSERT INTO experiments (experiment_id, name, created, updated, artifact_location) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (new_experiment_id(conn, name), name, now, now, artifact_location),
                )
            except sqlite3.IntegrityError:
                raise ExperimentExistsError(
                    f"an experiment called {name!r} exists already in workspace {self.root}"
                ) from None
            experiment_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT OR REPLACE INTO experiment_tags VALUES (?, ?, ?)",
                [(experiment_id, k, v) for k, v in (tags or {}).items()],
            )
            return experiment_id

        return self._experiment_or_raise(str(self._tx(work)))

    def experiment_record(self, experiment_id: str) -> ExperimentRecord | None:
        """The experiment with this id, deleted or not, or None."""
        if not str(experiment_id).isdigit():
            return None
        rows = self._query(
            f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = ?", (int(experiment_id),)
        )
        return self._experiment_records(rows)[0] if rows else None

    def experiment_records(self, name: str | None = None) -> list[ExperimentRecord]:
        """Every experiment (deleted ones too), oldest first; or the one called ``name``."""
        sql = f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments"
        args: tuple[Any, ...] = ()
        if name is not None:
            sql += " WHERE name = ?"
            args = (name,)
        return self._experiment_records(self._query(sql + " ORDER BY experiment_id", args))

    def _experiment_records(self, rows: list[tuple[Any, ...]]) -> list[ExperimentRecord]:
        tags: dict[int, dict[str, str]] = {}
        ids = [row[0] for row in rows]
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            marks = ", ".join("?" * len(part))
            for experiment_id, key, value in self._query(
                f"SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN ({marks})", part
            ):
                tags.setdefault(experiment_id, {})[key] = value
        return [
            ExperimentRecord(str(r[0]), r[1], r[2], r[3] or r[2], r[4], r[5], tags.get(r[0], {}))
            for r in rows
        ]

    def _experiment_or_raise(self, experiment_id: str) -> ExperimentRecord:
        record = self.experiment_record(experiment_id)
        if record is None:
            raise ExperimentNotFoundError(f"no experiment with id {experiment_id!r} in workspace {self.root}")
        return record

    def _update_experiment(self, experiment_id: str, sql: str, args: Sequence[Any]) -> None:
        self._experiment_or_raise(experiment_id)
        eid = int(experiment_id)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(sql, (*args, eid))
            conn.execute("UPDATE experiments SET updated = ? WHERE experiment_id = ?", (time.time(), eid))

        self._tx(work)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set one tag of an experiment."""
        self._update_experiment(
            experiment_id, "INSERT OR REPLACE INTO experiment_tags (key, value, experiment_id) VALUES (?, ?, ?)",
            (key, value),
        )

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an experiment (an absent key: nothing happens)."""
        self._update_experiment(
            experiment_id, "DELETE FROM experiment_tags WHERE key = ? AND experiment_id = ?", (key,)
        )

    def set_experiment_lifecycle(self, experiment_id: str, lifecycle: str) -> None:
        """Mark an experiment deleted, or active again."""
        self._update_experiment(
            experiment_id, "UPDATE experiments SET lifecycle = ? WHERE experiment_id = ?", (lifecycle,)
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new, unused name; ExperimentExistsError when it is taken."""
        try:
            self._update_experiment(
                experiment_id, "UPDATE experiments SET name = ? WHERE experiment_id = ?", (new_name,)
            )
        except sqlite3.IntegrityError:
            raise ExperimentExistsError(
                f"an experiment called {new_name!r} exists already in workspace {self.root}"
            ) from None

    # -- runs -------------------------------------------------------------------------

    def _update_run(self, run_id: str, column: str, value: Any) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(f"UPDATE runs SET {column} = ? WHERE run_pk = ?", (value, self._run_pk(conn, run_id)))

        self._tx(work)

    def set_run_lifecycle(self, run_id: str, lifecycle: str) -> None:
        """Mark a run deleted (MLflow's delete_run), or active again (restore_run)."""
        self._update_run(run_id, "lifecycle", lifecycle)

    def set_run_origin(self, run_id: str, start_time: float | None, user_id: str | None) -> None:
        """Record who started a run and when, as its creator said (MLflow's create_run)."""
        def work(conn: sqlite3.Connection) -> None:
            pk = self._run_pk(conn, run_id)
            if start_time is not None:
                conn.execute("UPDATE runs SET start_time = ? WHERE run_pk = ?", (start_time, pk))
            conn.execute("UPDATE runs SET user_id = ? WHERE run_pk = ?", (user_id, pk))

        self._tx(work)

    def latest_points(self, run_id: str) -> dict[str, MetricPoint]:
        """Each scalar metric's point at its highest step (the latest to arrive among equals);
        an Azure list's last value too, as the MLflow server holds it (a metric series)."""
        rows = self._query(
            "SELECT k.name, c.max_step, c.last_value, c.last_ts FROM metric_keys k "
            "JOIN metric_chunks c ON c.chunk_id = (SELECT c2.chunk_id FROM metric_chunks c2 "
            "WHERE c2.key_id = k.key_id ORDER BY c2.max_step DESC, c2.chunk_id DESC LIMIT 1) "
            "WHERE k.run_pk = ? AND k.kind IN ('metric', 'list') ORDER BY k.key_id",
            (self._pk(run_id),),
        )
        return {name: MetricPoint(step, _NAN if value is None else value, ts) for name, step, value, ts in rows}

    def add_run_inputs(self, run_id: str, items: Sequence[RunInput]) -> None:
        """Record a run's inputs or outputs; one with the same direction, kind and digest is kept once."""
        def work(conn: sqlite3.Connection) -> None:
            pk = self._run_pk(conn, run_id)
            for item in items:
                if item.digest is not None and conn.execute(
                    "SELECT 1 FROM run_inputs WHERE run_pk = ? AND direction = ? AND kind = ? AND digest = ?",
                    (pk, item.direction, item.kind, item.digest),
                ).fetchone():
                    continue
                conn.execute(
                    "INSERT INTO run_inputs (run_pk, direction, kind, digest, body) VALUES (?, ?, ?, ?, ?)",
                    (pk, item.direction, item.kind, item.digest, json.dumps(item.body, sort_keys=True)),
                )

        self._tx(work)

    def run_inputs(self, run_id: str) -> list[RunInput]:
        """A run's inputs and outputs, in the order they were logged."""
        rows = self._query(
            "SELECT direction, kind, digest, body FROM run_inputs WHERE run_pk = ? ORDER BY input_id",
            (self._pk(run_id),),
        )
        return [RunInput(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    # -- logged models (MLflow 3) -------------------------------------------------------

    def create_logged_model(self, record: LoggedModelRecord) -> None:
        """Store a new logged model with its tags and params."""
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO logged_models ({_MODEL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.model_id, int(record.experiment_id), record.name, record.source_run_id, record.status,
                 record.model_type, record.artifact_location, record.created, record.updated, record.lifecycle,
                 json.dumps(record.body)),
            )
            _put_pairs(conn, "logged_model_tags", record.model_id, record.tags)
            _put_pairs(conn, "logged_model_params", record.model_id, record.params)

        self._tx(work)

    def logged_model(self, model_id: str) -> LoggedModelRecord | None:
        """The logged model with this id (deleted or not), or None."""
        found = self._models("WHERE model_id = ?", (model_id,))
        return found[0] if found else None

    def logged_models(self, experiment_ids: Sequence[str]) -> list[LoggedModelRecord]:
        """The logged models of these experiments (deleted ones too), oldest first."""
        ids = [int(e) for e in experiment_ids if str(e).isdigit()]
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        return self._models(f"WHERE experiment_id IN ({marks}) ORDER BY created, model_id", ids)

    def _models(self, where: str, args: Sequence[Any]) -> list[LoggedModelRecord]:
        records = []
        for row in self._query(f"SELECT {_MODEL_COLUMNS} FROM logged_models {where}", args):
            model_id = row[0]
            tags = dict(self._query("SELECT key, value FROM logged_model_tags WHERE model_id = ?", (model_id,)))
            params = dict(self._query("SELECT key, value FROM logged_model_params WHERE model_id = ?", (model_id,)))
            metrics = [
                ModelMetric(*m)
                for m in self._query(
                    "SELECT key, value, step, timestamp, run_id, dataset_name, dataset_digest "
                    "FROM logged_model_metrics WHERE model_id = ? ORDER BY rowid",
                    (model_id,),
                )
            ]
            records.append(
                LoggedModelRecord(
                    model_id, str(row[1]), row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
                    json.loads(row[10] or "{}"), tags, params, metrics,
                )
            )
        return records

    def update_logged_model(
        self, model_id: str, *, status: str | None = None, lifecycle: str | None = None
    ) -> None:
        """Set a logged model's status (finalize) or lifecycle (delete)."""
        def work(conn: sqlite3.Connection) -> None:
            if status is not None:
                conn.execute("UPDATE logged_models SET status = ? WHERE model_id = ?", (status, model_id))
            if lifecycle is not None:
                conn.execute("UPDATE logged_models SET lifecycle = ? WHERE model_id = ?", (lifecycle, model_id))
            _touch(conn, model_id)

        self._tx(work)

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        """Set tags of a logged model."""
        def work(conn: sqlite3.Connection) -> None:
            _put_pairs(conn, "logged_model_tags", model_id, tags)
            _touch(conn, model_id)

        self._tx(work)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Remove one tag of a logged model."""
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?", (model_id, key))
            _touch(conn, model_id)

        self._tx(work)

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None:
        """Set params of a logged model."""
        self._tx(lambda conn: _put_pairs(conn, "logged_model_params", model_id, params))

    def log_logged_model_metrics(self, model_id: str, metrics: Sequence[ModelMetric]) -> None:
        """Append metric points to a logged model; an exact repeat of one it has is kept once, as
        MLflow's SQL store keeps a metric linked to a model (MLflow 3's log_model links them again)."""
        rows = [
            (model_id, m.key, m.value, m.step, m.timestamp, m.run_id, m.dataset_name, m.dataset_digest)
            for m in metrics
        ]
        self._tx(lambda conn: conn.executemany(
            "INSERT INTO logged_model_metrics (model_id, key, value, step, timestamp, run_id, dataset_name, "
            "dataset_digest) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE NOT EXISTS (SELECT 1 FROM "
            "logged_model_metrics WHERE model_id = ?1 AND key = ?2 AND value IS ?3 AND step = ?4 "
            "AND timestamp = ?5 AND run_id IS ?6)",
            rows,
        ))


def _put_pairs(conn: sqlite3.Connection, table: str, model_id: str, pairs: Mapping[str, str]) -> None:
    conn.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?)", [(model_id, k, v) for k, v in pairs.items()])


def _touch(conn: sqlite3.Connection, model_id: str) -> None:
    conn.execute("UPDATE logged_models SET updated = ? WHERE model_id = ?", (time.time(), model_id))

