"""What MLflow's tracking API keeps beyond runs, metrics, tags and params, in the embedded store:
experiment tags and lifecycle, run lifecycle and descriptions, inputs, logged models."""

from __future__ import annotations


class TrackingTables:
    """SQLiteStore's methods over schema 3's tracking tables (a mixin of SQLiteStore)."""
