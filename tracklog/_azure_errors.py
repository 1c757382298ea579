"""Azure ML's exception names, as tracklog raises them."""

from __future__ import annotations

from ._errors import TracklogError


class ActivityFailedException(TracklogError):
    """``wait_for_completion(raise_on_error=True)`` on a run that ended Failed (Azure's name)."""
