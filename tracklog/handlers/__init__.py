"""Inputs from Python logging: the stdlib RunHandler (and, as they land, structlog and capture)."""

from __future__ import annotations

from ._run_handler import RunHandler
from ._structlog import NUMERIC, RunProcessor, SafeKeysProcessor

__all__ = ["NUMERIC", "RunHandler", "RunProcessor", "SafeKeysProcessor"]
