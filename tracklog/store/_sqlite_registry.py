"""The workspace's model registry and Azure's run properties, in the embedded store."""

from __future__ import annotations


class RegistryTables:
    """SQLiteStore's methods over schema 3's registry and properties tables (a mixin of SQLiteStore)."""
