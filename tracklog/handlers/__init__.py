"""Inputs from Python logging: the stdlib RunHandler (and, as they land, structlog and capture)."""

from __future__ import annotations

from ._run_handler import RunHandler

__all__ = ["RunHandler"]
