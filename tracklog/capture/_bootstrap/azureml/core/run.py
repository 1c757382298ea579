"""``azureml.core.run`` (tracklog's stand-in)."""

from azureml.core import Run

__all__ = ["Run"]
