"""The embedded store's schema, versioned with ``PRAGMA user_version``.

Each migration takes a workspace from version N-1 to N; later issues append
to ``MIGRATIONS`` and existing workspaces upgrade on open.
"""

from __future__ import annotations

import sqlite3

from .._errors import WorkspaceError

MIGRATIONS: list[str] = [
    # 1: experiments, runs, metric keys and points, tags, params.
    """
    CREATE TABLE experiments (
        experiment_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created REAL NOT NULL
    );
    CREATE TABLE runs (
        run_pk INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        start_time REAL NOT NULL,
        end_time REAL,
        parent_run_id TEXT,
        error TEXT,
        owner_pid INTEGER,
        owner_host TEXT,
        heartbeat REAL
    );
    CREATE INDEX runs_by_experiment ON runs(experiment_id, start_time);
    CREATE INDEX runs_by_parent ON runs(parent_run_id);
    CREATE TABLE metric_keys (
        key_id INTEGER PRIMARY KEY,
        run_pk INTEGER NOT NULL REFERENCES runs(run_pk),
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        UNIQUE (run_pk, name)
    );
    -- Points are stored in chunks: one row per metric per written batch, with the
    -- steps, values and times packed as arrays. This keeps ingest at one row per
    -- batch and reads at one row per ten thousand points. ``encoding`` says how
    -- ``vals`` is packed: f8 (all floats, NaN and inf kept), i8 (all ints) or json.
    CREATE TABLE metric_chunks (
        chunk_id INTEGER PRIMARY KEY,
        key_id INTEGER NOT NULL,
        rank INTEGER,
        count INTEGER NOT NULL,
        min_step INTEGER NOT NULL,
        max_step INTEGER NOT NULL,
        ordered INTEGER NOT NULL,
        min_value REAL,
        max_value REAL,
        last_value,
        first_ts REAL NOT NULL,
        last_ts REAL NOT NULL,
        encoding TEXT NOT NULL,
        steps BLOB NOT NULL,
        vals BLOB NOT NULL,
        ts BLOB NOT NULL
    );
    CREATE INDEX metric_chunks_by_key ON metric_chunks(key_id, chunk_id);
    CREATE TABLE tags (
        run_pk INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (run_pk, key)
    ) WITHOUT ROWID;
    CREATE TABLE params (
        run_pk INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (run_pk, key)
    ) WITHOUT ROWID;
    """,
    # 2: chunk summaries without their points, for charts (tracklog ui). Small chunks
    # keep their points inline, so reading summaries from the table reads every point;
    # this covering index lets a chart group chunks per pixel bucket from the index alone.
    """
    CREATE INDEX metric_chunks_summary ON metric_chunks(
        key_id, min_step, max_step, count, min_value, max_value, encoding
    );
    """,
    # 3: what MLflow's tracking and registry APIs and Azure ML's Run and Model keep beyond
    # runs, metrics, tags and params: experiment and run lifecycle (deleted/restored),
    # experiment tags, run descriptions and Azure's immutable properties, MLflow's inputs
    # (datasets) and logged models (MLflow 3), and the workspace's model registry, shared by
    # MLflow's register_model and Azure's run.register_model.
    """
    ALTER TABLE experiments ADD COLUMN lifecycle TEXT NOT NULL DEFAULT 'active';
    ALTER TABLE experiments ADD COLUMN artifact_location TEXT;
    ALTER TABLE experiments ADD COLUMN updated REAL;
    CREATE TABLE experiment_tags (
        experiment_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (experiment_id, key)
    ) WITHOUT ROWID;
    ALTER TABLE runs ADD COLUMN lifecycle TEXT NOT NULL DEFAULT 'active';
    ALTER TABLE runs ADD COLUMN description TEXT;
    ALTER TABLE runs ADD COLUMN user_id TEXT;
    CREATE TABLE properties (
        run_pk INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (run_pk, key)
    ) WITHOUT ROWID;
    -- MLflow's run inputs and outputs (datasets, models), each a JSON body.
    CREATE TABLE run_inputs (
        input_id INTEGER PRIMARY KEY,
        run_pk INTEGER NOT NULL,
        direction TEXT NOT NULL,
        kind TEXT NOT NULL,
        digest TEXT,
        body TEXT NOT NULL
    );
    CREATE INDEX run_inputs_by_run ON run_inputs(run_pk);
    -- MLflow 3's logged models: ``body`` keeps the fields this schema has no column for.
    CREATE TABLE logged_models (
        model_id TEXT PRIMARY KEY,
        experiment_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        source_run_id TEXT,
        status TEXT NOT NULL,
        model_type TEXT,
        artifact_location TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        lifecycle TEXT NOT NULL DEFAULT 'active',
        body TEXT
    );
    CREATE INDEX logged_models_by_experiment ON logged_models(experiment_id, created);
    CREATE TABLE logged_model_tags (
        model_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (model_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE logged_model_params (
        model_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (model_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE logged_model_metrics (
        model_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value REAL,
        step INTEGER NOT NULL,
        timestamp REAL NOT NULL,
        run_id TEXT,
        dataset_name TEXT,
        dataset_digest TEXT
    );
    CREATE INDEX logged_model_metrics_by_model ON logged_model_metrics(model_id);
    -- The model registry: name -> versions -> a run's files (or any source URI).
    CREATE TABLE registered_models (
        name TEXT PRIMARY KEY,
        description TEXT,
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE TABLE registered_model_tags (
        name TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (name, key)
    ) WITHOUT ROWID;
    CREATE TABLE registered_model_aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, alias)
    ) WITHOUT ROWID;
    CREATE TABLE model_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        run_id TEXT,
        source TEXT NOT NULL,
        model_path TEXT,
        description TEXT,
        status TEXT NOT NULL DEFAULT 'READY',
        stage TEXT NOT NULL DEFAULT 'None',
        model_id TEXT,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE INDEX model_versions_by_run ON model_versions(run_id);
    CREATE TABLE model_version_tags (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (name, version, key)
    ) WITHOUT ROWID;
    CREATE TABLE model_version_properties (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (name, version, key)
    ) WITHOUT ROWID;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version the database has now (0: a new, empty file)."""
    return conn.execute("PRAGMA user_version").fetchone()[0]


def check_readable(version: int, where: str) -> None:
    """Refuse a schema this tracklog cannot read, or one too old to read without migrating."""
    if version > SCHEMA_VERSION:
        raise WorkspaceError(
            f"this workspace has schema version {version}, newer than this tracklog "
            f"understands ({SCHEMA_VERSION}): upgrade tracklog"
        )
    if version < SCHEMA_VERSION:
        raise WorkspaceError(
            f"the workspace at {where} is read-only and has schema version {version}; this "
            f"tracklog reads version {SCHEMA_VERSION}: open it once where it can be written"
        )


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version it started at.

    An up-to-date database is only read, so a workspace opens without writing.
    """
    start = schema_version(conn)
    if start == SCHEMA_VERSION:
        return start
    conn.execute("BEGIN IMMEDIATE")
    try:
        start = schema_version(conn)  # another process may have migrated meanwhile
        if start > SCHEMA_VERSION:
            conn.execute("ROLLBACK")
            check_readable(start, "")
        for version in range(start, SCHEMA_VERSION):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return start
