"""The workspace's model registry and Azure's run properties, in the embedded store.

A registered model is a name with a description, tags and aliases; its versions are
numbered from 1 and point at a run's files (``run_id`` + ``model_path``) or at any
``source`` URI. A deleted version stays in the table in the hidden stage
``Deleted_Internal``, so a version number is never given twice (as in MLflow).
Run properties and model version properties are immutable once set, as in Azure ML.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ._registry_types import (
    DELETED_STAGE,
    STAGES,
    ModelExistsError,
    ModelNotFoundError,
    ModelVersionInfo,
    PropertyConflictError,
    RegisteredModelInfo,
)

_VERSION_COLUMNS = (
    "name, version, run_id, source, model_path, description, status, stage, model_id, created, updated"
)
_LIVE = f"stage != '{DELETED_STAGE}'"


class RegistryTables:
    """SQLiteStore's methods over schema 3's registry and properties tables (a mixin of SQLiteStore)."""

    if TYPE_CHECKING:
        root: str

        def _tx(self, work: Callable[[sqlite3.Connection], Any], *, defer: Any = None) -> Any: ...
        def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _run_pk(self, conn: sqlite3.Connection, run_id: str) -> int: ...
        def _pk(self, run_id: str) -> int: ...

    # -- run properties --------------------------------------------------------------

    def add_properties(self, run_id: str, properties: Mapping[str, str]) -> None:
        """Add immutable properties; PropertyConflictError (nothing written) when one has another value."""

        def work(conn: sqlite3.Connection) -> None:
            run_pk = self._run_pk(conn, run_id)
            for key, value in properties.items():
                row = conn.execute(
                    "SELECT value FROM properties WHERE run_pk = ? AND key = ?", (run_pk, key)
                ).fetchone()
                if row is not None and row[0] != value:
                    raise PropertyConflictError(
                        f"property {key!r} of run {run_id} is already {row[0]!r}; properties are "
                        f"immutable (refused {value!r}). Use a tag for values that change."
                    )
                conn.execute("INSERT OR IGNORE INTO properties VALUES (?, ?, ?)", (run_pk, key, value))

        self._tx(work)

    def get_properties(self, run_id: str) -> dict[str, str]:
        """The run's properties."""
        rows = self._query("SELECT key, value FROM properties WHERE run_pk = ? ORDER BY key", (self._pk(run_id),))
        return dict(rows)

    def delete_tags(self, run_id: str, keys: Sequence[str]) -> None:
        """Remove tags from a run (absent keys: nothing happens); call after a flush."""

        def work(conn: sqlite3.Connection) -> None:
            run_pk = self._run_pk(conn, run_id)
            conn.executemany("DELETE FROM tags WHERE run_pk = ? AND key = ?", [(run_pk, k) for k in keys])

        self._tx(work)

    def set_run_name(self, run_id: str, name: str) -> None:
        """Rename a run (Azure's settable display_name)."""
        self._tx(lambda conn: conn.execute(
            "UPDATE runs SET name = ? WHERE run_pk = ?", (name, self._run_pk(conn, run_id))
        ))

    def set_run_description(self, run_id: str, description: str | None) -> None:
        """Set a run's description."""
        self._tx(lambda conn: conn.execute(
            "UPDATE runs SET description = ? WHERE run_pk = ?", (description, self._run_pk(conn, run_id))
        ))

    # -- registered models -------------------------------------------------------------

    def create_registered_model(
        self, name: str, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> RegisteredModelInfo:
        """A new registered model; ModelExistsError when the name is taken."""

        def work(conn: sqlite3.Connection) -> None:
            if _model_row(conn, name) is not None:
                raise ModelExistsError(f"registered model {name!r} already exists")
            now = time.time()
            conn.execute("INSERT INTO registered_models VALUES (?, ?, ?, ?)", (name, description, now, now))
            conn.executemany(
                "INSERT OR REPLACE INTO registered_model_tags VALUES (?, ?, ?)",
                [(name, k, v) for k, v in (tags or {}).items()],
            )

        self._tx(work)
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModelInfo:
        """The registered model called ``name``; ModelNotFoundError when none."""
        found = self.search_registered_models(name=name)
        if not found:
            raise ModelNotFoundError(f"no registered model {name!r} in workspace {self.root}")
        return found[0]

    def search_registered_models(
        self, name: str | None = None, name_like: str | None = None
    ) -> list[RegisteredModelInfo]:
        """Registered models by name (``name`` exact, ``name_like`` an SQL LIKE pattern)."""
        sql = "SELECT name, description, created, updated FROM registered_models"
        where, args = [], []
        if name is not None:
            where.append("name = ?")
            args.append(name)
        if name_like is not None:
            where.append("name LIKE ?")
            args.append(name_like)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._query(sql + " ORDER BY name", args)
        tags = _grouped(self._query("SELECT name, key, value FROM registered_model_tags ORDER BY key"))
        aliases = _grouped(self._query("SELECT name, alias, version FROM registered_model_aliases ORDER BY alias"))
        latest = dict(self._query(f"SELECT name, MAX(version) FROM model_versions WHERE {_LIVE} GROUP BY name"))
        return [
            RegisteredModelInfo(n, d, c, u, tags.get(n, {}), aliases.get(n, {}), latest.get(n))
            for n, d, c, u in rows
        ]

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModelInfo:
        """Set a registered model's description."""
        self._tx(lambda conn: _touch_model(conn, name, description=description, set_description=True))
        return self.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModelInfo:
        """Rename a model with its versions, tags and aliases; ModelExistsError when taken."""

        def work(conn: sqlite3.Connection) -> None:
            _touch_model(conn, name)
            if _model_row(conn, new_name) is not None:
                raise ModelExistsError(f"registered model {new_name!r} already exists")
            for table in (
                "registered_models", "registered_model_tags", "registered_model_aliases",
                "model_versions", "model_version_tags", "model_version_properties",
            ):
                conn.execute(f"UPDATE {table} SET name = ? WHERE name = ?", (new_name, name))

        self._tx(work)
        return self.get_registered_model(new_name)

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model and all its versions (the runs' files stay)."""

        def work(conn: sqlite3.Connection) -> None:
            _touch_model(conn, name)
            for table in (
                "registered_models", "registered_model_tags", "registered_model_aliases",
                "model_versions", "model_version_tags", "model_version_properties",
            ):
                conn.execute(f"DELETE FROM {table} WHERE name = ?", (name,))

        self._tx(work)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        """Set one tag of a registered model."""

        def work(conn: sqlite3.Connection) -> None:
            _touch_model(conn, name)
            conn.execute("INSERT OR REPLACE INTO registered_model_tags VALUES (?, ?, ?)", (name, key, value))

        self._tx(work)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove one tag of a registered model (absent: nothing happens)."""

        def work(conn: sqlite3.Connection) -> None:
            _touch_model(conn, name)
            conn.execute("DELETE FROM registered_model_tags WHERE name = ? AND key = ?", (name, key))

        self._tx(work)

    # -- aliases ------------------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` at one version (moving it from another)."""

        def work(conn: sqlite3.Connection) -> None:
            _version_row(conn, name, version)
            conn.execute(
                "INSERT OR REPLACE INTO registered_model_aliases VALUES (?, ?, ?)", (name, alias, int(version))
            )

        self._tx(work)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias (absent: nothing happens)."""
        self._tx(
            lambda conn: conn.execute(
                "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?", (name, alias)
            )
        )

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersionInfo:
        """The version ``alias`` points at; ModelNotFoundError when none."""
        rows = self._query(
            "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", (name, alias)
        )
        if not rows:
            raise ModelNotFoundError(f"registered model {name!r} has no alias {alias!r}")
        return self.get_model_version(name, rows[0][0])

    # -- versions ---------------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        model_path: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
        model_id: str | None = None,
        status: str = "READY",
    ) -> ModelVersionInfo:
        """The model's next version (1 for a new name; the registered model is created when missing)."""

        def work(conn: sqlite3.Connection) -> int:
            now = time.time()
            conn.execute(
                "INSERT OR IGNORE INTO registered_models VALUES (?, NULL, ?, ?)", (name, now, now)
            )
            conn.execute("UPDATE registered_models SET updated = ? WHERE name = ?", (now, name))
            (high,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM model_versions WHERE name = ?", (name,)
            ).fetchone()
            version = high + 1
            conn.execute(
                f"INSERT INTO model_versions ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 'None', ?, ?, ?)",
                (name, version, run_id, source, model_path, description, status, model_id, now, now),
            )
            conn.executemany(
                "INSERT OR REPLACE INTO model_version_tags VALUES (?, ?, ?, ?)",
                [(name, version, k, v) for k, v in (tags or {}).items()],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO model_version_properties VALUES (?, ?, ?, ?)",
                [(name, version, k, v) for k, v in (properties or {}).items()],
            )
            return version

        return self.get_model_version(name, self._tx(work))

    def get_model_version(self, name: str, version: int | str) -> ModelVersionInfo:
        """One version; ModelNotFoundError when the model or the version is missing (or deleted)."""
        found = self.search_model_versions(name=name, version=int(version))
        if not found:
            raise ModelNotFoundError(f"registered model {name!r} has no version {version}")
        return found[0]

    def search_model_versions(
        self,
        name: str | None = None,
        *,
        version: int | None = None,
        run_id: str | None = None,
        name_like: str | None = None,
    ) -> list[ModelVersionInfo]:
        """Live versions, by name then newest version first, optionally of one name or run."""
        where, args = [_LIVE], []
        for column, value, op in (("name", name, "="), ("version", version, "="),
                                  ("run_id", run_id, "="), ("name", name_like, "LIKE")):
            if value is not None:
                where.append(f"{column} {op} ?")
                args.append(value)
        rows = self._query(
            f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE {' AND '.join(where)} "
            "ORDER BY name, version DESC",
            args,
        )
        if not rows:
            return []
        names = sorted({row[0] for row in rows})
        marks = ", ".join("?" * len(names))
        tags = _grouped_version(self._query(
            f"SELECT name, version, key, value FROM model_version_tags WHERE name IN ({marks}) ORDER BY key", names
        ))
        props = _grouped_version(self._query(
            f"SELECT name, version, key, value FROM model_version_properties WHERE name IN ({marks}) "
            "ORDER BY key", names
        ))
        aliases: dict[tuple[str, int], list[str]] = {}
        for n, alias, v in self._query(
            f"SELECT name, alias, version FROM registered_model_aliases WHERE name IN ({marks}) ORDER BY alias",
            names,
        ):
            aliases.setdefault((n, v), []).append(alias)
        return [
            ModelVersionInfo(*row, tags=tags.get((row[0], row[1]), {}),  # type: ignore[misc]
                             properties=props.get((row[0], row[1]), {}),
                             aliases=aliases.get((row[0], row[1]), []))
            for row in rows
        ]

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersionInfo]:
        """The newest version in each stage (of ``stages``, or every stage), as MLflow's call."""
        self.get_registered_model(name)
        latest: dict[str, ModelVersionInfo] = {}
        for info in self.search_model_versions(name=name):
            latest.setdefault(info.stage, info)
        wanted = [s.lower() for s in stages] if stages else None
        return [v for s, v in latest.items() if wanted is None or s.lower() in wanted]

    def update_model_version(self, name: str, version: int, description: str | None) -> ModelVersionInfo:
        """Set a version's description."""
        self._tx(lambda conn: _touch_version(conn, name, version, "description = ?", (description,)))
        return self.get_model_version(name, version)

    def transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersionInfo:
        """Move a version to None, Staging, Production or Archived (any case); optionally
        archive the other versions in that stage."""
        by_lower = {s.lower(): s for s in STAGES}
        if stage.lower() not in by_lower:
            raise ValueError(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}")
        canonical = by_lower[stage.lower()]

        def work(conn: sqlite3.Connection) -> None:
            _touch_version(conn, name, version, "stage = ?", (canonical,))
            if archive_existing_versions and canonical in ("Staging", "Production"):
                conn.execute(
                    "UPDATE model_versions SET stage = 'Archived', updated = ? "
                    "WHERE name = ? AND stage = ? AND version != ?",
                    (time.time(), name, canonical, int(version)),
                )

        self._tx(work)
        return self.get_model_version(name, version)

    def delete_model_version(self, name: str, version: int) -> None:
        """Delete a version (its number is not given again); its tags and aliases go too."""

        def work(conn: sqlite3.Connection) -> None:
            _touch_version(conn, name, version, "stage = ?", (DELETED_STAGE,))
            args = (name, int(version))
            conn.execute("DELETE FROM model_version_tags WHERE name = ? AND version = ?", args)
            conn.execute("DELETE FROM model_version_properties WHERE name = ? AND version = ?", args)
            conn.execute("DELETE FROM registered_model_aliases WHERE name = ? AND version = ?", args)

        self._tx(work)

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        """Set one tag of a version."""

        def work(conn: sqlite3.Connection) -> None:
            _version_row(conn, name, version)
            conn.execute(
                "INSERT OR REPLACE INTO model_version_tags VALUES (?, ?, ?, ?)", (name, int(version), key, value)
            )

        self._tx(work)

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        """Remove one tag of a version (absent: nothing happens)."""

        def work(conn: sqlite3.Connection) -> None:
            _version_row(conn, name, version)
            conn.execute(
                "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?",
                (name, int(version), key),
            )

        self._tx(work)

    def add_model_version_properties(self, name: str, version: int, properties: Mapping[str, str]) -> None:
        """Add immutable properties to a version (Azure's Model.add_properties)."""

        def work(conn: sqlite3.Connection) -> None:
            _version_row(conn, name, version)
            for key, value in properties.items():
                row = conn.execute(
                    "SELECT value FROM model_version_properties WHERE name = ? AND version = ? AND key = ?",
                    (name, int(version), key),
                ).fetchone()
                if row is not None and row[0] != value:
                    raise PropertyConflictError(
                        f"property {key!r} of model {name}:{version} is already {row[0]!r}; "
                        f"properties are immutable (refused {value!r})"
                    )
                conn.execute(
                    "INSERT OR IGNORE INTO model_version_properties VALUES (?, ?, ?, ?)",
                    (name, int(version), key, value),
                )

        self._tx(work)


def _model_row(conn: sqlite3.Connection, name: str) -> tuple[Any, ...] | None:
    return conn.execute("SELECT name FROM registered_models WHERE name = ?", (name,)).fetchone()


def _touch_model(
    conn: sqlite3.Connection, name: str, *, description: str | None = None, set_description: bool = False
) -> None:
    """Mark a model updated (and set its description); ModelNotFoundError when missing."""
    if _model_row(conn, name) is None:
        raise ModelNotFoundError(f"no registered model {name!r}")
    if set_description:
        conn.execute(
            "UPDATE registered_models SET description = ?, updated = ? WHERE name = ?",
            (description, time.time(), name),
        )
    else:
        conn.execute("UPDATE registered_models SET updated = ? WHERE name = ?", (time.time(), name))


def _version_row(conn: sqlite3.Connection, name: str, version: int) -> None:
    row = conn.execute(
        f"SELECT version FROM model_versions WHERE name = ? AND version = ? AND {_LIVE}", (name, int(version))
    ).fetchone()
    if row is None:
        raise ModelNotFoundError(f"registered model {name!r} has no version {version}")


def _touch_version(conn: sqlite3.Connection, name: str, version: int, assign: str, args: tuple[Any, ...]) -> None:
    _version_row(conn, name, version)
    conn.execute(
        f"UPDATE model_versions SET {assign}, updated = ? WHERE name = ? AND version = ?",
        (*args, time.time(), name, int(version)),
    )


def _grouped(rows: list[tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    for name, key, value in rows:
        grouped.setdefault(name, {})[key] = value
    return grouped


def _grouped_version(rows: list[tuple[Any, ...]]) -> dict[tuple[str, int], dict[str, str]]:
    grouped: dict[tuple[str, int], dict[str, str]] = {}
    for name, version, key, value in rows:
        grouped.setdefault((name, version), {})[key] = value
    return grouped
